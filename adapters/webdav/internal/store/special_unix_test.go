//go:build unix

package store

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestSpecialFilesAreInvisible(t *testing.T) {
	v, dir := newVolume(t, "users/alice")
	ctx := context.Background()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	putFile(t, v, "/file", "x")
	done := make(chan struct{})
	go func() {
		defer close(done)
		list, err := v.ReadDir(ctx, "/")
		if err != nil || len(list) != 1 || list[0].Name() != "file" {
			t.Errorf("ReadDir = %v, %v; want just file", list, err)
		}
		if _, _, err := v.Open(ctx, "/fifo"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(fifo) = %v, want not exist", err)
		}
		if _, err := v.Stat(ctx, "/fifo"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(fifo) = %v, want not exist", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("listing or opening a FIFO hangs")
	}
}
