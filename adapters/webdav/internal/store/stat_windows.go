package store

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/windows"
)

// readFlags opens resources for reading. Windows trees hold no FIFOs or
// devices that could block an open.
const readFlags = os.O_RDONLY

// fileIno returns 0: Windows stat data carries no inode number. ETags
// then rest on modification time (100 ns resolution) and size, and
// Copy's loop guard on maxCopyDepth.
func fileIno(fs.FileInfo) uint64 { return 0 }

// members returns the Infos of the named entries of the directory at p,
// one Lstat each through the root. Symbolic links are resolved through
// Stat, so they stay confined to the tree.
func (v *Volume) members(ctx context.Context, _ *os.File, p string, names []string) ([]*Info, error) {
	out := make([]*Info, 0, len(names))
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if strings.HasPrefix(n, TempPrefix) {
			continue
		}
		fi, err := v.lstatName(path.Join(p, n))
		if err != nil {
			continue // vanished meanwhile, or an unusable name
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if i, err := v.Stat(ctx, path.Join(p, n)); err == nil {
				out = append(out, i)
			}
			continue
		}
		if i, ok := newInfo(n, fi, 0); ok {
			out = append(out, i)
		}
	}
	return out, nil
}

// lstatName returns the root's Lstat of the slash path p.
func (v *Volume) lstatName(p string) (fs.FileInfo, error) {
	name, err := rel(p)
	if err != nil {
		return nil, err
	}
	return v.root.Lstat(name)
}

// scanMembers returns the subdirectories among the named entries of the
// directory at dir, and the bytes of its regular files. With clean,
// temporary files older than staleTemp are removed.
func (v *Volume) scanMembers(_ *os.File, dir string, names []string, clean bool) ([]string, int64, error) {
	var sub []string
	var total int64
	cutoff := time.Now().Add(-staleTemp)
	for _, n := range names {
		name := path.Join(dir, n)[1:]
		fi, err := v.root.Lstat(name)
		if err != nil {
			continue
		}
		switch {
		case fi.Mode().IsRegular():
			if clean && strings.HasPrefix(n, TempPrefix) && fi.ModTime().Before(cutoff) && v.root.Remove(name) == nil {
				continue
			}
			total += fi.Size()
		case fi.IsDir():
			sub = append(sub, path.Join(dir, n))
		}
	}
	return sub, total, nil
}

// isLookupErrno reports whether a failed lookup with errno means the
// name does not resolve inside the tree (see lookupErr).
func isLookupErrno(errno syscall.Errno) bool {
	switch errno {
	case windows.ERROR_FILE_NOT_FOUND, windows.ERROR_PATH_NOT_FOUND, windows.ERROR_INVALID_NAME,
		windows.ERROR_DIRECTORY, windows.ERROR_FILENAME_EXCED_RANGE, windows.ERROR_CANT_RESOLVE_FILENAME,
		syscall.ELOOP, syscall.ENAMETOOLONG, syscall.EINVAL: // ENOENT, ENOTDIR are the first two
		return true
	}
	return false
}

// isNoSpace reports whether a write failed for lack of space or quota.
func isNoSpace(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case windows.ERROR_DISK_FULL, windows.ERROR_HANDLE_DISK_FULL, windows.ERROR_DISK_QUOTA_EXCEEDED,
		syscall.ENOSPC, syscall.EDQUOT:
		return true
	}
	return false
}
