package store

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"syscall"

	"golang.org/x/net/webdav"
)

// FileSystem returns the volume as a golang.org/x/net/webdav FileSystem.
// Files opened for writing must be created or truncated; they are
// written atomically and appear at their path when closed. Files
// implement webdav.DeadPropsHolder with the volume's property store.
func (v *Volume) FileSystem() webdav.FileSystem { return davFS{v: v} }

type davFS struct{ v *Volume }

func cleanName(name string) string { return path.Clean("/" + name) }

func (d davFS) Mkdir(ctx context.Context, name string, _ os.FileMode) error {
	err := d.v.Mkdir(ctx, cleanName(name))
	if errors.Is(err, ErrNoParent) {
		return &fs.PathError{Op: "mkdir", Path: name, Err: fs.ErrNotExist}
	}
	return err
}

func (d davFS) RemoveAll(ctx context.Context, name string) error {
	return d.v.RemoveAll(ctx, cleanName(name))
}

func (d davFS) Rename(ctx context.Context, oldName, newName string) error {
	return d.v.Rename(ctx, cleanName(oldName), cleanName(newName))
}

func (d davFS) Stat(ctx context.Context, name string) (os.FileInfo, error) {
	return d.v.Stat(ctx, cleanName(name))
}

func (d davFS) OpenFile(ctx context.Context, name string, flag int, _ os.FileMode) (webdav.File, error) {
	p := cleanName(name)
	// Without O_CREATE or O_TRUNC nothing is written through the file
	// (x/net/webdav opens O_RDWR to patch properties): open it for
	// reading; in-place writes are not supported.
	if flag&(os.O_WRONLY|os.O_RDWR) == 0 || flag&(os.O_CREATE|os.O_TRUNC) == 0 {
		f, info, err := d.v.Open(ctx, p)
		if err != nil {
			return nil, err
		}
		return &readFile{holder: holder{ctx, d.v, p}, f: f, info: info}, nil
	}
	_, err := d.v.Stat(ctx, p)
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	case exists && flag&os.O_EXCL != 0:
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrExist}
	case exists && flag&os.O_TRUNC == 0:
		return nil, &fs.PathError{Op: "open", Path: p, Err: errors.ErrUnsupported}
	}
	w, err := d.v.Create(ctx, p)
	if errors.Is(err, ErrNoParent) {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	if err != nil {
		return nil, err
	}
	return &writeFile{holder: holder{ctx, d.v, p}, w: w}, nil
}

// holder implements webdav.DeadPropsHolder for the resource at p. The
// interface has no context parameter, so the one of OpenFile is kept.
type holder struct {
	ctx context.Context
	v   *Volume
	p   string
}

func (h holder) DeadProps() (map[xml.Name]webdav.Property, error) {
	props, err := h.v.props.Get(h.ctx, h.v.id, h.p)
	if err != nil {
		return nil, err
	}
	m := make(map[xml.Name]webdav.Property, len(props))
	for _, p := range props {
		m[p.XMLName] = p
	}
	return m, nil
}

func (h holder) Patch(patches []webdav.Proppatch) ([]webdav.Propstat, error) {
	if err := h.v.props.Patch(h.ctx, h.v.id, h.p, patches); err != nil {
		return nil, err
	}
	ok := webdav.Propstat{Status: http.StatusOK}
	for _, pp := range patches {
		for _, p := range pp.Props {
			ok.Props = append(ok.Props, webdav.Property{XMLName: p.XMLName})
		}
	}
	return []webdav.Propstat{ok}, nil
}

// readFile is a file or directory opened for reading.
type readFile struct {
	holder
	f       *os.File
	info    *Info
	members []*Info // directory members not yet returned by Readdir
	listed  bool
}

func (r *readFile) Read(b []byte) (int, error)                { return r.f.Read(b) }
func (r *readFile) Seek(off int64, whence int) (int64, error) { return r.f.Seek(off, whence) }
func (r *readFile) Close() error                              { return r.f.Close() }
func (r *readFile) Stat() (os.FileInfo, error)                { return r.info, nil }

func (r *readFile) Write([]byte) (int, error) {
	return 0, &fs.PathError{Op: "write", Path: r.p, Err: syscall.EBADF}
}

// Readdir lists the directory through Volume.ReadDir, so special files
// and temporary files stay hidden.
func (r *readFile) Readdir(count int) ([]os.FileInfo, error) {
	if !r.info.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: r.p, Err: syscall.ENOTDIR}
	}
	if !r.listed {
		m, err := r.v.ReadDir(r.ctx, r.p)
		if err != nil {
			return nil, err
		}
		r.members, r.listed = m, true
	}
	n := len(r.members)
	if count > 0 && count < n {
		n = count
	}
	if count > 0 && n == 0 {
		return nil, io.EOF
	}
	out := make([]os.FileInfo, n)
	for i := range n {
		out[i] = r.members[i]
	}
	r.members = r.members[n:]
	return out, nil
}

// writeFile is a file being written; Close commits it.
type writeFile struct {
	holder
	w *Writer
}

func (w *writeFile) Write(b []byte) (int, error)         { return w.w.Write(b) }
func (w *writeFile) ReadFrom(r io.Reader) (int64, error) { return w.w.ReadFrom(r) }
func (w *writeFile) Read([]byte) (int, error)            { return 0, w.badf("read") }
func (w *writeFile) Seek(int64, int) (int64, error)      { return 0, w.badf("seek") }
func (w *writeFile) Readdir(int) ([]os.FileInfo, error)  { return nil, w.badf("readdir") }
func (w *writeFile) badf(op string) error {
	return &fs.PathError{Op: op, Path: w.p, Err: syscall.EBADF}
}

func (w *writeFile) Stat() (os.FileInfo, error) {
	fi, err := w.w.f.Stat()
	if err != nil {
		return nil, fmt.Errorf("store: stat %s: %w", w.p, err)
	}
	info, _ := statInfo(path.Base(w.p), fi)
	return info, nil
}

func (w *writeFile) Close() error {
	_, err := w.w.Commit(w.ctx)
	return err
}

// ETag implements webdav.ETager.
func (i *Info) ETag(context.Context) (string, error) { return i.ETagValue(), nil }

// ContentType implements webdav.ContentTyper.
func (i *Info) ContentType(context.Context) (string, error) { return i.ContentTypeValue(), nil }

var (
	_ webdav.FileSystem      = davFS{}
	_ webdav.File            = (*readFile)(nil)
	_ webdav.File            = (*writeFile)(nil)
	_ webdav.DeadPropsHolder = (*readFile)(nil)
	_ webdav.DeadPropsHolder = (*writeFile)(nil)
	_ webdav.ETager          = (*Info)(nil)
	_ webdav.ContentTyper    = (*Info)(nil)
)
