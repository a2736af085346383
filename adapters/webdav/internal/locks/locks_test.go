package locks

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// memStore is an in-memory Store.
type memStore struct {
	mu    sync.Mutex
	locks map[string]Lock
	fail  error
}

func newMemStore() *memStore { return &memStore{locks: map[string]Lock{}} }

func (s *memStore) LoadLocks(context.Context) ([]Lock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Lock
	for _, l := range s.locks {
		out = append(out, l)
	}
	return out, nil
}

func (s *memStore) SaveLock(_ context.Context, l Lock) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.locks[l.Token] = l
	return nil
}

func (s *memStore) DeleteLocks(_ context.Context, tokens []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range tokens {
		delete(s.locks, t)
	}
	return nil
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newManager(t *testing.T) (*Manager, *clock, *memStore) {
	t.Helper()
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s := newMemStore()
	m, err := New(context.Background(), s, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return m, c, s
}

func mustCreate(t *testing.T, m *Manager, l Lock) Lock {
	t.Helper()
	if l.Volume == "" {
		l.Volume = "v"
	}
	if l.Principal == "" {
		l.Principal = "alice"
	}
	if l.Timeout == 0 {
		l.Timeout = time.Hour
	}
	got, err := m.Create(context.Background(), l)
	if err != nil {
		t.Fatalf("Create(%+v): %v", l, err)
	}
	return got
}

func TestCreateConflicts(t *testing.T) {
	tests := []struct {
		name     string
		existing Lock
		req      Lock
		conflict bool
	}{
		{"exclusive on same resource", Lock{Root: "/a"}, Lock{Root: "/a"}, true},
		{"shared on exclusive", Lock{Root: "/a"}, Lock{Root: "/a", Shared: true}, true},
		{"exclusive on shared", Lock{Root: "/a", Shared: true}, Lock{Root: "/a"}, true},
		{"two shared", Lock{Root: "/a", Shared: true}, Lock{Root: "/a", Shared: true}, false},
		{"sibling", Lock{Root: "/a"}, Lock{Root: "/b"}, false},
		{"prefix is not parent", Lock{Root: "/a", Infinite: true}, Lock{Root: "/ab"}, false},
		{"child of infinite", Lock{Root: "/a", Infinite: true}, Lock{Root: "/a/b"}, true},
		{"child of depth 0", Lock{Root: "/a"}, Lock{Root: "/a/b"}, false},
		{"infinite over locked child", Lock{Root: "/a/b/c"}, Lock{Root: "/a", Infinite: true}, true},
		{"depth 0 over locked child", Lock{Root: "/a/b/c"}, Lock{Root: "/a"}, false},
		{"root infinite over all", Lock{Root: "/x"}, Lock{Root: "/", Infinite: true}, true},
		{"other volume", Lock{Root: "/a", Volume: "w"}, Lock{Root: "/a"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, _, _ := newManager(t)
			mustCreate(t, m, tc.existing)
			tc.req.Volume, tc.req.Principal, tc.req.Timeout = "v", "bob", time.Hour
			_, err := m.Create(context.Background(), tc.req)
			var ce *ConflictError
			if got := errors.As(err, &ce); got != tc.conflict {
				t.Fatalf("Create conflict = %v (err %v), want %v", got, err, tc.conflict)
			}
			if tc.conflict && (ce.Root != tc.existing.Root || !errors.Is(err, ErrConflict)) {
				t.Errorf("conflict error = %v, want root %s", err, tc.existing.Root)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	m, _, _ := newManager(t)
	ex := mustCreate(t, m, Lock{Root: "/file"})
	sh1 := mustCreate(t, m, Lock{Root: "/shared", Shared: true})
	sh2 := mustCreate(t, m, Lock{Root: "/shared", Shared: true, Principal: "bob"})
	coll := mustCreate(t, m, Lock{Root: "/coll", Infinite: true})
	deep := mustCreate(t, m, Lock{Root: "/tree/x/y"})

	tests := []struct {
		name      string
		path      string
		subtree   bool
		tokens    []string
		principal string
		blocked   string // expected blocking lock token, "" if allowed
	}{
		{"unlocked", "/other", false, nil, "alice", ""},
		{"exclusive without token", "/file", false, nil, "alice", ex.Token},
		{"exclusive with token", "/file", false, []string{ex.Token}, "alice", ""},
		{"exclusive with token of other principal", "/file", false, []string{ex.Token}, "bob", ex.Token},
		{"exclusive with wrong token", "/file", false, []string{coll.Token}, "alice", ex.Token},
		{"shared with one of two", "/shared", false, []string{sh2.Token}, "bob", ""},
		{"shared with none", "/shared", false, []string{"opaquelocktoken:x"}, "alice", "?"},
		{"member of infinite lock", "/coll/a/b", false, nil, "alice", coll.Token},
		{"member with collection token", "/coll/a/b", false, []string{coll.Token}, "alice", ""},
		{"subtree with deep lock", "/tree", true, nil, "alice", deep.Token},
		{"subtree with deep token", "/tree", true, []string{deep.Token}, "alice", ""},
		{"not subtree ignores deep lock", "/tree", false, nil, "alice", ""},
	}
	_ = sh1
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := m.Check("v", tc.path, tc.subtree, tc.tokens, tc.principal)
			switch {
			case tc.blocked == "" && b != nil:
				t.Errorf("Check blocked by %s, want allowed", b.Root)
			case tc.blocked == "?" && b == nil:
				t.Errorf("Check allowed, want blocked")
			case tc.blocked != "" && tc.blocked != "?" && (b == nil || b.Token != tc.blocked):
				t.Errorf("Check = %+v, want blocked by %s", b, tc.blocked)
			}
		})
	}
}

func TestRefreshUnlockScope(t *testing.T) {
	ctx := context.Background()
	m, c, _ := newManager(t)
	l := mustCreate(t, m, Lock{Root: "/coll", Infinite: true, Timeout: time.Minute})

	if _, err := m.Refresh(ctx, l.Token, "v", "/coll/member", "alice", time.Hour); err != nil {
		t.Fatalf("indirect refresh: %v", err)
	}
	c.add(30 * time.Minute)
	if _, ok := m.Lookup(l.Token); !ok {
		t.Fatal("lock expired although refreshed to one hour")
	}
	if _, err := m.Refresh(ctx, l.Token, "v", "/elsewhere", "alice", time.Hour); !errors.Is(err, ErrNotInScope) {
		t.Errorf("Refresh out of scope = %v, want ErrNotInScope", err)
	}
	if err := m.Unlock(ctx, l.Token, "v", "/coll", "bob"); !errors.Is(err, ErrForbidden) {
		t.Errorf("Unlock by other principal = %v, want ErrForbidden", err)
	}
	if err := m.Unlock(ctx, "opaquelocktoken:nope", "v", "/coll", "alice"); !errors.Is(err, ErrNoSuchLock) {
		t.Errorf("Unlock unknown = %v, want ErrNoSuchLock", err)
	}
	if err := m.Unlock(ctx, l.Token, "v", "/coll/x", "alice"); err != nil {
		t.Errorf("Unlock via member: %v", err)
	}
	if _, ok := m.Lookup(l.Token); ok {
		t.Error("lock still there after Unlock")
	}
}

func TestExpiry(t *testing.T) {
	m, c, s := newManager(t)
	l := mustCreate(t, m, Lock{Root: "/a", Timeout: time.Minute})
	c.add(time.Minute)
	if _, ok := m.Lookup(l.Token); ok {
		t.Error("Lookup found an expired lock")
	}
	if b := m.Check("v", "/a", false, nil, "alice"); b != nil {
		t.Error("expired lock still blocks")
	}
	if got := m.Covering("v", "/a"); len(got) != 0 {
		t.Errorf("Covering = %v, want none", got)
	}
	mustCreate(t, m, Lock{Root: "/a", Principal: "bob"}) // purges the old one
	if _, ok := s.locks[l.Token]; ok {
		t.Error("expired lock not purged from the store")
	}
}

func TestRemoveSubtree(t *testing.T) {
	ctx := context.Background()
	m, _, s := newManager(t)
	a := mustCreate(t, m, Lock{Root: "/a"})
	ab := mustCreate(t, m, Lock{Root: "/a/b"})
	ax := mustCreate(t, m, Lock{Root: "/ax"})
	if err := m.RemoveSubtree(ctx, "v", "/a"); err != nil {
		t.Fatal(err)
	}
	for _, l := range []Lock{a, ab} {
		if _, ok := m.Lookup(l.Token); ok {
			t.Errorf("lock on %s survived RemoveSubtree(/a)", l.Root)
		}
	}
	if _, ok := m.Lookup(ax.Token); !ok {
		t.Error("lock on /ax removed by RemoveSubtree(/a)")
	}
	if len(s.locks) != 1 {
		t.Errorf("store holds %d locks, want 1", len(s.locks))
	}
}

func TestStoreFailureLeavesNoLock(t *testing.T) {
	m, _, s := newManager(t)
	s.fail = errors.New("disk full")
	if _, err := m.Create(context.Background(), Lock{Volume: "v", Root: "/a", Timeout: time.Hour}); err == nil {
		t.Fatal("Create succeeded although the store failed")
	}
	if m.Active("v") {
		t.Error("lock held in memory although it was not stored")
	}
}

func TestTokenFormat(t *testing.T) {
	tok, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "opaquelocktoken:") || len(tok) != len("opaquelocktoken:")+36 || tok[len("opaquelocktoken:")+14] != '4' {
		t.Errorf("token %q is not an opaquelocktoken with a v4 UUID", tok)
	}
}

func TestSQLStorePersists(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := NewSQLStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	m, err := New(ctx, st, c.now)
	if err != nil {
		t.Fatal(err)
	}
	kept := mustCreate(t, m, Lock{Root: "/a", Shared: true, Owner: []byte("<href xmlns=\"DAV:\">me</href>"), Timeout: time.Hour})
	short := mustCreate(t, m, Lock{Root: "/b", Timeout: time.Second})
	c.add(2 * time.Second)

	m2, err := New(ctx, st, c.now)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := m2.Lookup(kept.Token)
	if !ok {
		t.Fatal("lock lost across reload")
	}
	if string(got.Owner) != string(kept.Owner) || !got.Shared || got.Root != "/a" || !got.Expires.Equal(kept.Expires.Truncate(time.Millisecond)) {
		t.Errorf("reloaded lock = %+v, want %+v", got, kept)
	}
	if _, ok := m2.Lookup(short.Token); ok {
		t.Error("expired lock came back after reload")
	}
	all, _ := st.LoadLocks(ctx)
	if len(all) != 1 {
		t.Errorf("store holds %d locks after reload, want 1 (expired dropped)", len(all))
	}
}
