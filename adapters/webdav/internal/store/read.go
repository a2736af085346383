package store

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
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
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !regularOrDir(st) {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	}
	return infoFromStat(path.Base(p), st), nil
}

// Open opens the regular file or directory at p for reading. FIFOs and
// devices are opened non-blocking, recognised and refused as
// fs.ErrNotExist, so a hostile tree cannot hang a reader.
func (v *Volume) Open(ctx context.Context, p string) (*os.File, *Info, error) {
	name, err := rel(p)
	if err != nil {
		return nil, nil, err
	}
	f, err := v.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, lookupErr("open", p, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("store: stat %s: %w", p, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !regularOrDir(st) {
		f.Close()
		return nil, nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	return f, infoFromStat(path.Base(p), st), nil
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
	out := make([]*Info, 0, len(names))
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("store: readdir %s: %w", p, err)
	}
	var st unix.Stat_t
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if strings.HasPrefix(n, TempPrefix) {
			continue
		}
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.Fstatat(int(fd), n, &st, unix.AT_SYMLINK_NOFOLLOW)
		}); err != nil {
			return nil, fmt.Errorf("store: readdir %s: %w", p, err)
		}
		if serr != nil {
			continue // vanished meanwhile
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			if i, err := v.Stat(ctx, path.Join(p, n)); err == nil {
				out = append(out, i)
			}
			continue
		}
		if t := st.Mode & unix.S_IFMT; t != unix.S_IFREG && t != unix.S_IFDIR {
			continue
		}
		out = append(out, infoFromUnix(n, &st))
	}
	return out, nil
}

func infoFromUnix(name string, st *unix.Stat_t) *Info {
	return infoFromStat(name, &syscall.Stat_t{
		Mode: st.Mode, Size: st.Size, Ino: st.Ino,
		Mtim: syscall.Timespec{Sec: st.Mtim.Sec, Nsec: st.Mtim.Nsec},
	})
}
