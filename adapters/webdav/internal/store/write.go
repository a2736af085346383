package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"strconv"
	"sync"
)

// writebackChunk is how much written data may sit dirty in the page
// cache before the writer starts its write-back. Starting early keeps
// the final fsync short and the upload streaming at disk speed.
const writebackChunk = 8 << 20

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// Writer is a file being written. Nothing is visible at the target path
// until Commit; Abort (or a failed Commit) leaves no trace.
type Writer struct {
	v      *Volume
	f      *os.File
	target string // slash path of the resource
	tmp    string // root-relative name of the temporary file
	limit  int64  // maximum size; negative means unlimited
	n      int64  // bytes written
	synced int64  // bytes whose write-back has been started
	done   bool
}

// Create starts writing the file at p. The parent collection must exist
// (ErrNoParent otherwise).
func (v *Volume) Create(ctx context.Context, p string) (*Writer, error) {
	if p == "/" {
		return nil, fmt.Errorf("%w: cannot write the root", ErrInvalidPath)
	}
	if _, err := rel(p); err != nil {
		return nil, err
	}
	if err := v.checkParent(ctx, p); err != nil {
		return nil, err
	}
	dir, _ := rel(parent(p))
	tmp := path.Join(dir, TempPrefix+strconv.FormatUint(rand.Uint64(), 16))
	f, err := v.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("store: create temporary file for %s: %w", p, err)
	}
	return &Writer{v: v, f: f, target: p, tmp: tmp, limit: -1}, nil
}

// checkParent fails with ErrNoParent unless the parent of p is a
// directory.
func (v *Volume) checkParent(ctx context.Context, p string) error {
	pi, err := v.Stat(ctx, parent(p))
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !pi.IsDir()) {
		return fmt.Errorf("%w: %s", ErrNoParent, parent(p))
	}
	return err
}

// SetLimit makes writes beyond n bytes in total fail with ErrQuota.
func (w *Writer) SetLimit(n int64) { w.limit = n }

// Written returns the number of bytes written so far.
func (w *Writer) Written() int64 { return w.n }

// Write appends b to the file.
func (w *Writer) Write(b []byte) (int, error) {
	if w.limit >= 0 && w.n+int64(len(b)) > w.limit {
		return 0, ErrQuota
	}
	n, err := w.f.Write(b)
	w.n += int64(n)
	if err != nil {
		if isNoSpace(err) {
			return n, fmt.Errorf("%w: %w", ErrQuota, err)
		}
		return n, fmt.Errorf("store: write %s: %w", w.target, err)
	}
	if w.n-w.synced >= writebackChunk {
		w.startWriteback()
	}
	return n, nil
}

// startWriteback asks the kernel to begin writing the dirty range out,
// without waiting for it, where the platform can (see startWriteback).
func (w *Writer) startWriteback() {
	startWriteback(w.f, w.synced, w.n-w.synced)
	w.synced = w.n
}

// ReadFrom copies r into the file with a pooled buffer, so io.Copy from
// a request body streams in 1 MiB steps.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var total int64
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			m, err := w.Write(buf[:n])
			total += int64(m)
			if err != nil {
				return total, err
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// Commit makes the file durable and moves it to its target atomically:
// fsync the file, rename it over the target, fsync the directory.
func (w *Writer) Commit(ctx context.Context) (*Info, error) {
	if w.done {
		return nil, errors.New("store: writer already finished")
	}
	if err := syncFile(w.f); err != nil {
		w.Abort()
		return nil, fmt.Errorf("store: fsync %s: %w", w.target, err)
	}
	fi, err := w.f.Stat()
	if err != nil {
		w.Abort()
		return nil, fmt.Errorf("store: stat %s: %w", w.target, err)
	}
	if err := w.f.Close(); err != nil {
		w.Abort()
		return nil, fmt.Errorf("store: close %s: %w", w.target, err)
	}
	name, _ := rel(w.target)
	var old int64
	if prev, err := w.v.Stat(ctx, w.target); err == nil && !prev.IsDir() {
		old = prev.Size()
	}
	if err := w.v.root.Rename(w.tmp, name); err != nil {
		w.Abort()
		return nil, fmt.Errorf("store: rename into %s: %w", w.target, err)
	}
	w.done = true
	w.v.AddUsage(fi.Size() - old)
	if err := w.v.syncDir(parent(w.target)); err != nil {
		return nil, err
	}
	info, _ := statInfo(path.Base(w.target), fi)
	return info, nil
}

// Abort discards the file. It is safe to call after Commit, when it does
// nothing.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	w.v.root.Remove(w.tmp)
}

// syncDir fsyncs the directory at p so that entries created, renamed or
// removed in it are durable, where the platform can (see canSyncDirs).
func (v *Volume) syncDir(p string) error {
	name, err := rel(p)
	if err != nil {
		return err
	}
	if !canSyncDirs {
		return nil
	}
	d, err := v.root.Open(name)
	if err != nil {
		return fmt.Errorf("store: open directory %s: %w", p, err)
	}
	defer d.Close()
	if err := syncFile(d); err != nil {
		return fmt.Errorf("store: fsync directory %s: %w", p, err)
	}
	return nil
}

// Mkdir creates the collection at p. It fails with fs.ErrExist if
// something is there and ErrNoParent if the parent is missing.
func (v *Volume) Mkdir(ctx context.Context, p string) error {
	name, err := rel(p)
	if err != nil {
		return err
	}
	if p == "/" {
		return &fs.PathError{Op: "mkdir", Path: p, Err: fs.ErrExist}
	}
	if err := v.checkParent(ctx, p); err != nil {
		return err
	}
	if err := v.root.Mkdir(name, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return &fs.PathError{Op: "mkdir", Path: p, Err: fs.ErrExist}
		}
		return fmt.Errorf("store: mkdir %s: %w", p, err)
	}
	return v.syncDir(parent(p))
}

// RemoveAll deletes the resource at p with everything below it and its
// dead properties. The root cannot be removed.
func (v *Volume) RemoveAll(ctx context.Context, p string) error {
	name, err := rel(p)
	if err != nil {
		return err
	}
	if p == "/" {
		return fmt.Errorf("%w: cannot remove the root", ErrInvalidPath)
	}
	var size int64
	if v.UsageKnown() {
		if size, err = v.SubtreeSize(ctx, p); err != nil {
			return err
		}
	}
	if err := v.root.RemoveAll(name); err != nil {
		return fmt.Errorf("store: remove %s: %w", p, err)
	}
	v.AddUsage(-size)
	if err := v.syncDir(parent(p)); err != nil {
		return err
	}
	return v.props.DeleteTree(ctx, v.id, p)
}

// Rename moves the resource at src to dst inside the volume, with its
// dead properties. dst must not be an existing directory and its parent
// must exist.
func (v *Volume) Rename(ctx context.Context, src, dst string) error {
	from, err := rel(src)
	if err != nil {
		return err
	}
	to, err := rel(dst)
	if err != nil {
		return err
	}
	if src == "/" || dst == "/" {
		return fmt.Errorf("%w: cannot move the root", ErrInvalidPath)
	}
	if err := v.checkParent(ctx, dst); err != nil {
		return err
	}
	if err := v.root.Rename(from, to); err != nil {
		return lookupErr("rename", src, err)
	}
	if err := v.syncDir(parent(src)); err != nil {
		return err
	}
	if parent(dst) != parent(src) {
		if err := v.syncDir(parent(dst)); err != nil {
			return err
		}
	}
	return v.props.MoveTree(ctx, v.id, src, v.id, dst)
}
