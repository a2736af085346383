//go:build unix

package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// readFlags opens resources for reading. With O_NONBLOCK opening a FIFO
// returns at once instead of waiting for a writer, so it can be
// recognised and refused; reads of regular files and directories ignore
// the flag.
const readFlags = os.O_RDONLY | syscall.O_NONBLOCK

// fileIno returns the inode number from fi's stat data.
func fileIno(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}

// members returns the Infos of the named entries of the open directory
// f at p: one fstatat each, relative to the directory. Symbolic links
// are resolved through Stat, so they stay confined to the tree.
func (v *Volume) members(ctx context.Context, f *os.File, p string, names []string) ([]*Info, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("store: readdir %s: %w", p, err)
	}
	out := make([]*Info, 0, len(names))
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
	mode := fs.FileMode(st.Mode & 0o777)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		mode |= fs.ModeDir
	}
	sec, nsec := st.Mtim.Unix()
	return &Info{name: name, size: st.Size, mode: mode, mtime: time.Unix(sec, nsec), ino: uint64(st.Ino)}
}

// scanMembers returns the subdirectories among the named entries of the
// open directory f at dir, and the bytes of its regular files. With
// clean, temporary files older than staleTemp are removed.
func (v *Volume) scanMembers(f *os.File, dir string, names []string, clean bool) ([]string, int64, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, 0, fmt.Errorf("store: scan %s: %w", dir, err)
	}
	var sub []string
	var total int64
	var st unix.Stat_t
	cutoff := time.Now().Add(-staleTemp).Unix()
	for _, n := range names {
		var serr error
		rc.Control(func(fd uintptr) {
			serr = unix.Fstatat(int(fd), n, &st, unix.AT_SYMLINK_NOFOLLOW)
			if serr == nil && clean && strings.HasPrefix(n, TempPrefix) && int64(st.Mtim.Sec) < cutoff {
				if unix.Unlinkat(int(fd), n, 0) == nil {
					st.Size = 0
				}
			}
		})
		if serr != nil {
			continue
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			total += st.Size
		case unix.S_IFDIR:
			sub = append(sub, path.Join(dir, n))
		}
	}
	return sub, total, nil
}

// isLookupErrno reports whether a failed lookup with errno means the
// name does not resolve inside the tree (see lookupErr).
func isLookupErrno(errno syscall.Errno) bool {
	switch errno {
	case syscall.ENOENT, syscall.ENOTDIR, syscall.ELOOP, syscall.ENAMETOOLONG, syscall.EINVAL:
		return true
	}
	return false
}

// isNoSpace reports whether a write failed for lack of space or quota.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
