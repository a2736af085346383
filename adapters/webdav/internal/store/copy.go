package store

import (
	"context"
	"errors"
	"fmt"
	"path"
)

// maxCopyDepth bounds the nesting a collection copy descends into.
const maxCopyDepth = 256

// Copy copies the resource at src in volume sv to dst in volume dv (the
// same volume or another), with its dead properties. With deep, a
// collection is copied with all its members; otherwise only the
// collection itself and its properties. Nothing may exist at dst and its
// parent must exist. Each file is written atomically and durably.
//
// limit bounds the bytes of file content copied (ErrQuota); negative
// means unlimited. Copy returns the bytes copied, also on failure.
// Symbolic links are followed inside the tree; a directory that contains
// itself through a link is copied once.
func Copy(ctx context.Context, sv *Volume, src string, dv *Volume, dst string, deep bool, limit int64) (int64, error) {
	info, err := sv.Stat(ctx, src)
	if err != nil {
		return 0, err
	}
	c := &copier{sv: sv, dv: dv, deep: deep, limit: limit, onPath: map[uint64]bool{}}
	if err := c.copy(ctx, src, dst, info, 0); err != nil {
		return c.n, err
	}
	return c.n, sv.props.CopyTree(ctx, sv.id, src, dv.id, dst, deep)
}

type copier struct {
	sv, dv *Volume
	deep   bool
	limit  int64
	n      int64
	onPath map[uint64]bool // inodes of the source directories being copied
}

func (c *copier) copy(ctx context.Context, src, dst string, info *Info, depth int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !info.IsDir() {
		return c.copyFile(ctx, src, dst)
	}
	if depth > maxCopyDepth {
		return fmt.Errorf("store: copy %s: nested deeper than %d", src, maxCopyDepth)
	}
	if err := c.dv.Mkdir(ctx, dst); err != nil {
		return err
	}
	if !c.deep || c.onPath[info.ino] {
		return nil
	}
	if info.ino != 0 { // 0: no inode numbers (Windows); maxCopyDepth bounds loops
		c.onPath[info.ino] = true
		defer delete(c.onPath, info.ino)
	}
	members, err := c.sv.ReadDir(ctx, src)
	if err != nil {
		return err
	}
	for _, m := range members {
		if err := c.copy(ctx, path.Join(src, m.Name()), path.Join(dst, m.Name()), m, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (c *copier) copyFile(ctx context.Context, src, dst string) error {
	f, info, err := c.sv.Open(ctx, src)
	if err != nil {
		return err
	}
	defer f.Close()
	if c.limit >= 0 && c.n+info.Size() > c.limit {
		return ErrQuota
	}
	w, err := c.dv.Create(ctx, dst)
	if err != nil {
		return err
	}
	// *os.File to *os.File: the kernel copies (copy_file_range).
	n, err := w.f.ReadFrom(f)
	w.n += n
	c.n += n
	if err != nil {
		w.Abort()
		return fmt.Errorf("store: copy %s: %w", src, err)
	}
	if n != info.Size() {
		w.Abort()
		return fmt.Errorf("store: copy %s: %w", src, errors.New("file changed size while copying"))
	}
	_, err = w.Commit(ctx)
	return err
}
