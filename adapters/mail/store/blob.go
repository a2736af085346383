package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// blobDir holds message bodies as files: <dir>/<2 hex>/<32 hex>. A body
// referenced from several index rows has one hard link per row, so each
// row owns exactly one name and deleting a row unlinks only its name.
type blobDir struct {
	dir string
	tmp string
}

func openBlobDir(dir string) (*blobDir, error) {
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("create blob dir: %w", err)
	}
	// Temp files left by a crash were never acknowledged: drop them.
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return nil, fmt.Errorf("read blob tmp dir: %w", err)
	}
	for _, e := range ents {
		os.Remove(filepath.Join(tmp, e.Name()))
	}
	return &blobDir{dir: dir, tmp: tmp}, nil
}

func newBlobName() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func validBlobName(name string) bool {
	if len(name) != 32 {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil
}

func (d *blobDir) path(name string) string {
	return filepath.Join(d.dir, name[:2], name)
}

// Blob is a durable message body file not yet referenced by the index.
// Commit it into the index (Store.Deliver, Store.Append, Store.Enqueue)
// or Discard it.
type Blob struct {
	Name string
	Size int64
	d    *blobDir
	used bool // the first index row took Name itself
}

// Path returns the file path of the blob.
func (b *Blob) Path() string { return b.d.path(b.Name) }

// Open opens the blob for reading.
func (b *Blob) Open() (*os.File, error) { return os.Open(b.Path()) }

// Discard removes a blob that no index row references.
func (b *Blob) Discard() {
	if !b.used {
		os.Remove(b.Path())
	}
}

// ref returns a name for one more index row: the blob's own name the first
// time, a new durable hard link after that.
func (b *Blob) ref() (string, error) {
	if !b.used {
		b.used = true
		return b.Name, nil
	}
	name := newBlobName()
	if err := b.d.link(b.Name, name); err != nil {
		return "", err
	}
	return name, nil
}

// write copies r (at most limit bytes; limit <= 0 means no limit) into a
// new blob: temp file, fsync, rename into place, fsync the directory.
func (d *blobDir) write(r io.Reader, limit int64) (*Blob, error) {
	f, err := os.CreateTemp(d.tmp, "in-*")
	if err != nil {
		return nil, fmt.Errorf("create blob: %w", err)
	}
	tmpName := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmpName)
		}
	}()
	src := r
	if limit > 0 {
		src = io.LimitReader(r, limit+1)
	}
	n, err := io.Copy(f, src)
	if err != nil {
		return nil, fmt.Errorf("write blob: %w", err)
	}
	if limit > 0 && n > limit {
		return nil, fmt.Errorf("write blob: %w (limit %d bytes)", ErrTooBig, limit)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("fsync blob: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("close blob: %w", err)
	}
	name := newBlobName()
	final := d.path(name)
	if err := d.ensureShard(name); err != nil {
		return nil, err
	}
	if err := os.Rename(tmpName, final); err != nil {
		return nil, fmt.Errorf("rename blob: %w", err)
	}
	ok = true
	if err := syncDir(filepath.Dir(final)); err != nil {
		os.Remove(final)
		return nil, err
	}
	return &Blob{Name: name, Size: n, d: d}, nil
}

func (d *blobDir) ensureShard(name string) error {
	shard := filepath.Join(d.dir, name[:2])
	if _, err := os.Stat(shard); err == nil {
		return nil
	}
	if err := os.MkdirAll(shard, 0o700); err != nil {
		return fmt.Errorf("create blob shard: %w", err)
	}
	return syncDir(d.dir)
}

// link makes newName a durable hard link of oldName.
func (d *blobDir) link(oldName, newName string) error {
	if err := d.ensureShard(newName); err != nil {
		return err
	}
	dst := d.path(newName)
	if err := os.Link(d.path(oldName), dst); err != nil {
		return fmt.Errorf("link blob: %w", err)
	}
	return syncDir(filepath.Dir(dst))
}

func (d *blobDir) remove(name string) {
	if validBlobName(name) {
		if err := os.Remove(d.path(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			_ = err // an orphan file is harmless; Sweep removes it later
		}
	}
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir for fsync: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}
