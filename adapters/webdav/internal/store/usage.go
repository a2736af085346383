package store

import (
	"context"
	"fmt"
	"path"
	"sync"
	"time"
)

// staleTemp is how old a temporary file must be before a usage scan
// treats it as left over from a crash and removes it.
const staleTemp = time.Hour

// usage is a volume's running total of file bytes.
type usage struct {
	mu    sync.Mutex
	known bool
	bytes int64
}

// Usage returns the bytes held in regular files of the volume. The first
// call scans the tree, removing temporary files left by a crash; after
// that the total is kept up to date by AddUsage. Changes made to the
// tree behind the server's back are seen at the next start.
func (v *Volume) Usage(ctx context.Context) (int64, error) {
	v.usage.mu.Lock()
	defer v.usage.mu.Unlock()
	if !v.usage.known {
		n, err := v.walkSize(ctx, "/", true)
		if err != nil {
			return 0, err
		}
		v.usage.bytes, v.usage.known = n, true
	}
	return v.usage.bytes, nil
}

// UsageKnown reports whether the running total exists yet; callers skip
// measuring deletions before it does.
func (v *Volume) UsageKnown() bool {
	v.usage.mu.Lock()
	defer v.usage.mu.Unlock()
	return v.usage.known
}

// AddUsage adjusts the running total by delta bytes.
func (v *Volume) AddUsage(delta int64) {
	v.usage.mu.Lock()
	defer v.usage.mu.Unlock()
	if v.usage.known {
		v.usage.bytes = max(0, v.usage.bytes+delta)
	}
}

// SubtreeSize returns the bytes held in regular files at or below p,
// without following symbolic links.
func (v *Volume) SubtreeSize(ctx context.Context, p string) (int64, error) {
	return v.walkSize(ctx, p, false)
}

// walkSize sums regular file sizes at and below p. With clean, stale
// temporary files are removed on the way.
func (v *Volume) walkSize(ctx context.Context, p string, clean bool) (int64, error) {
	info, ok, err := v.lstat(p)
	if err != nil || !ok {
		return 0, nil // nothing there, or not a file or directory
	}
	if !info.IsDir() {
		return info.Size(), nil
	}
	var total int64
	dirs := []string{p}
	for len(dirs) > 0 {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		dir := dirs[len(dirs)-1]
		dirs = dirs[:len(dirs)-1]
		sub, n, err := v.scanDir(dir, clean)
		if err != nil {
			return 0, err
		}
		total += n
		dirs = append(dirs, sub...)
	}
	return total, nil
}

// scanDir returns the subdirectories of dir and the bytes of its regular
// files.
func (v *Volume) scanDir(dir string, clean bool) ([]string, int64, error) {
	name, _ := rel(dir)
	f, err := v.root.Open(name)
	if err != nil {
		return nil, 0, nil // vanished or unreadable: count nothing
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, 0, fmt.Errorf("store: scan %s: %w", dir, err)
	}
	return v.scanMembers(f, dir, names, clean)
}

// lstat returns the Info of the resource at p itself, not following a
// symbolic link, and whether it is a regular file or directory.
func (v *Volume) lstat(p string) (*Info, bool, error) {
	name, err := rel(p)
	if err != nil {
		return nil, false, err
	}
	fi, err := v.root.Lstat(name)
	if err != nil {
		return nil, false, err
	}
	info, ok := statInfo(path.Base(p), fi)
	return info, ok, nil
}
