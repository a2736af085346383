// Package store keeps the WebDAV file trees on disk.
//
// Each tree (a Volume) is a directory under the data directory, opened as
// an os.Root so that no file name, ".." component or symbolic link can
// reach outside it. Paths given to a Volume are clean slash paths ("/",
// "/a/b.txt"). Writes are atomic and durable: a file is written to a
// hidden temporary file in the same directory, fsync'd, renamed over the
// target, and the directory is fsync'd before the call returns.
// Directory changes fsync the parent directory too.
//
// Only regular files and directories are resources; FIFOs, devices and
// sockets inside a tree are invisible, so that listing or reading never
// blocks on them. Dead properties live in SQLite (Props) and follow their
// resources through moves, copies and deletes.
package store

import (
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// TempPrefix starts the names of temporary files. Such names are hidden
// from listings and refused by the handler.
const TempPrefix = ".~webdav-tmp-"

// Errors returned by Volume methods, besides fs.ErrNotExist and
// fs.ErrExist.
var (
	// ErrInvalidPath: the path is not a clean absolute slash path, or
	// names a temporary file.
	ErrInvalidPath = errors.New("store: invalid path")
	// ErrNoParent: the parent of the target is missing or not a
	// directory (HTTP 409 Conflict).
	ErrNoParent = errors.New("store: parent collection does not exist")
	// ErrQuota: a write would exceed the quota (HTTP 507).
	ErrQuota = errors.New("store: quota exceeded")
)

// Trees opens the volumes under one directory and caches them.
type Trees struct {
	dir   string
	props *Props

	mu struct {
		sync.Mutex
		vols map[string]*Volume
	}
}

// NewTrees returns the volumes under dir, creating dir if needed.
func NewTrees(dir string, props *Props) (*Trees, error) {
	if props == nil {
		return nil, errors.New("store: nil props")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("store: create %s: %w", dir, err)
	}
	t := &Trees{dir: dir, props: props}
	t.mu.vols = map[string]*Volume{}
	return t, nil
}

// ValidID reports whether id names a volume: "<kind>/<name>" with one
// slash, where name is a non-empty run of letters, digits, '.', '_' and
// '-' not starting with a dot.
func ValidID(id string) bool {
	kind, name, ok := strings.Cut(id, "/")
	if !ok || kind == "" || name == "" || name[0] == '.' || len(name) > 128 {
		return false
	}
	for _, s := range []string{kind, name} {
		for _, c := range s {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Volume returns the volume with id (see ValidID), creating its
// directory on first use.
func (t *Trees) Volume(id string) (*Volume, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("store: invalid volume id %q", id)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if v := t.mu.vols[id]; v != nil {
		return v, nil
	}
	dir := filepath.Join(t.dir, filepath.FromSlash(id))
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("store: create volume %s: %w", id, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("store: open volume %s: %w", id, err)
	}
	v := &Volume{id: id, dir: dir, root: root, props: t.props}
	t.mu.vols[id] = v
	return v, nil
}

// Close closes every opened volume.
func (t *Trees) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for id, v := range t.mu.vols {
		errs = append(errs, v.root.Close())
		delete(t.mu.vols, id)
	}
	return errors.Join(errs...)
}

// Volume is one confined file tree.
type Volume struct {
	id    string
	dir   string
	root  *os.Root
	props *Props
	usage usage
}

// ID returns the volume's id, e.g. "users/alice".
func (v *Volume) ID() string { return v.id }

// Props returns the dead-property store the volume uses.
func (v *Volume) Props() *Props { return v.props }

// rel turns a clean slash path into a name relative to the root.
func rel(p string) (string, error) {
	if p == "" || p[0] != '/' || path.Clean(p) != p || strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("%w: %q", ErrInvalidPath, p)
	}
	if p == "/" {
		return ".", nil
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if strings.HasPrefix(seg, TempPrefix) {
			return "", fmt.Errorf("%w: %q", ErrInvalidPath, p)
		}
	}
	return p[1:], nil
}

// parent returns the parent path of p ("/" for top-level names).
func parent(p string) string { return path.Dir(p) }

// lookupErr maps a failed lookup to fs.ErrNotExist when the name simply
// does not resolve to something inside the tree: missing, a file used as
// a directory, a symlink loop, or a symlink leading out of the root
// (os.Root reports that without an errno).
func lookupErr(op, p string, err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if !isLookupErrno(errno) {
			return fmt.Errorf("store: %s %s: %w", op, p, err)
		}
	} else if errors.Is(err, ErrInvalidPath) {
		return err
	}
	return &fs.PathError{Op: op, Path: p, Err: fs.ErrNotExist}
}

// Info describes a resource. It implements fs.FileInfo and the ETager and
// ContentTyper interfaces of golang.org/x/net/webdav.
type Info struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
	ino   uint64
}

// statInfo returns the Info of the file fi describes, and whether it is
// a type the store serves: a regular file or a directory. The inode
// number comes from the platform's stat data (see fileIno).
func statInfo(name string, fi fs.FileInfo) (*Info, bool) {
	return newInfo(name, fi, fileIno(fi))
}

// newInfo builds an Info from a portable fs.FileInfo and the file's
// inode number (0 where the platform has none).
func newInfo(name string, fi fs.FileInfo, ino uint64) (*Info, bool) {
	m := fi.Mode()
	return &Info{
		name:  name,
		size:  fi.Size(),
		mode:  m&fs.ModePerm | m&fs.ModeDir,
		mtime: fi.ModTime(),
		ino:   ino,
	}, m.IsRegular() || m.IsDir()
}

func (i *Info) Name() string       { return i.name }
func (i *Info) Size() int64        { return i.size }
func (i *Info) Mode() fs.FileMode  { return i.mode }
func (i *Info) ModTime() time.Time { return i.mtime }
func (i *Info) IsDir() bool        { return i.mode.IsDir() }
func (i *Info) Sys() any           { return nil }

// ETagValue returns the strong entity tag: inode, modification time in
// nanoseconds and size. A rename over the file (every PUT) changes the
// inode, so the tag changes even if time and size do not.
func (i *Info) ETagValue() string {
	return `"` + strconv.FormatUint(i.ino, 16) + "-" + strconv.FormatInt(i.mtime.UnixNano(), 16) +
		"-" + strconv.FormatInt(i.size, 16) + `"`
}

// ContentTypeValue returns the media type from the file name's extension,
// application/octet-stream when unknown. Contents are not sniffed, so
// listings never open files.
func (i *Info) ContentTypeValue() string {
	if t := mime.TypeByExtension(path.Ext(i.name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

var _ fs.FileInfo = (*Info)(nil)
