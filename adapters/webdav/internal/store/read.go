package store

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"syscall"
)

// Stat returns the resource at p, following symbolic links that stay in
// the tree. Anything but a regular file or a directory is reported as
// fs.ErrNotExist.
func (v *Volume) Stat(ctx context.Context, p string) (*Info, error) {
	name, err := rel(p)
	if err != nil {
		return nil, err
	}
	fi, err := v.root.Stat(name)
	if err != nil {
		return nil, lookupErr("stat", p, err)
	}
	info, ok := statInfo(path.Base(p), fi)
	if !ok {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	}
	return info, nil
}

// Open opens the regular file or directory at p for reading. FIFOs and
// devices are opened non-blocking (readFlags), recognised and refused as
// fs.ErrNotExist, so a hostile tree cannot hang a reader.
func (v *Volume) Open(ctx context.Context, p string) (*os.File, *Info, error) {
	name, err := rel(p)
	if err != nil {
		return nil, nil, err
	}
	f, err := v.root.OpenFile(name, readFlags, 0)
	if err != nil {
		return nil, nil, lookupErr("open", p, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("store: stat %s: %w", p, err)
	}
	info, ok := statInfo(path.Base(p), fi)
	if !ok {
		f.Close()
		return nil, nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	return f, info, nil
}

// ReadDir lists the members of the collection at p, sorted by name.
// Temporary files, special files and symbolic links that leave the tree
// or dangle are left out.
func (v *Volume) ReadDir(ctx context.Context, p string) ([]*Info, error) {
	f, info, err := v.Open(ctx, p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if !info.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: p, Err: syscall.ENOTDIR}
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("store: readdir %s: %w", p, err)
	}
	slices.Sort(names)
	return v.members(ctx, f, p, names)
}
