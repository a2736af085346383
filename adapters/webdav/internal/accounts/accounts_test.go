package accounts

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

func newDB(t *testing.T) *DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a, err := Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAccountLifecycle(t *testing.T) {
	ctx := context.Background()
	a := newDB(t)
	if err := a.Add(ctx, "alice", "correct horse"); err != nil {
		t.Fatal(err)
	}
	if err := a.Add(ctx, "alice", "other password"); !errors.Is(err, ErrExists) {
		t.Errorf("Add twice = %v, want ErrExists", err)
	}
	for _, tc := range []struct {
		name, pw string
		want     bool
	}{
		{"alice", "correct horse", true},
		{"alice", "correct horse", true}, // cached
		{"alice", "wrong horse", false},
		{"bob", "correct horse", false},
	} {
		ok, err := a.Verify(ctx, tc.name, tc.pw)
		if err != nil || ok != tc.want {
			t.Errorf("Verify(%s, %s) = %v, %v; want %v", tc.name, tc.pw, ok, err, tc.want)
		}
	}
	if err := a.SetPassword(ctx, "alice", "battery staple"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := a.Verify(ctx, "alice", "correct horse"); ok {
		t.Error("old password still accepted after passwd (stale cache)")
	}
	if ok, _ := a.Verify(ctx, "alice", "battery staple"); !ok {
		t.Error("new password rejected")
	}
	list, err := a.List(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "alice" {
		t.Errorf("List = %v, %v", list, err)
	}
	if err := a.Delete(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := a.Verify(ctx, "alice", "battery staple"); ok {
		t.Error("deleted account still accepted")
	}
	if err := a.Delete(ctx, "alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete twice = %v, want ErrNotFound", err)
	}
	if err := a.SetPassword(ctx, "nobody", "whatever1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetPassword(nobody) = %v, want ErrNotFound", err)
	}
}

func TestCacheExpires(t *testing.T) {
	ctx := context.Background()
	a := newDB(t)
	now := time.Unix(1_700_000_000, 0)
	a.now = func() time.Time { return now }
	a.Add(ctx, "alice", "correct horse")
	a.Verify(ctx, "alice", "correct horse")
	now = now.Add(cacheTTL + time.Second)
	if ok, _ := a.Verify(ctx, "alice", "correct horse"); !ok {
		t.Error("password rejected after the cache expired")
	}
}

func TestValidation(t *testing.T) {
	ctx := context.Background()
	a := newDB(t)
	for _, name := range []string{"", "Alice", "-a", "a b", "a/b", strings.Repeat("a", 65), "ä"} {
		if err := a.Add(ctx, name, "long enough"); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Add(%q) = %v, want ErrInvalidName", name, err)
		}
	}
	if err := a.Add(ctx, "bob", "short"); !errors.Is(err, ErrWeak) {
		t.Errorf("Add with short password = %v, want ErrWeak", err)
	}
}
