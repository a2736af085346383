package store

import (
	"context"
	"database/sql"
	"encoding/xml"
	"fmt"

	"golang.org/x/net/webdav"
)

// Props stores dead properties in SQLite: one row per property, keyed by
// volume, resource path and the property's namespace and name, with the
// raw (canonical) XML value and its xml:lang. The parent column lets a
// Depth 1 PROPFIND fetch a whole directory's properties in one query.
type Props struct {
	db *sql.DB
}

// NewProps creates the table if needed.
func NewProps(ctx context.Context, db *sql.DB) (*Props, error) {
	const schema = `
	CREATE TABLE IF NOT EXISTS props (
		volume TEXT NOT NULL,
		path   TEXT NOT NULL,
		parent TEXT NOT NULL,
		ns     TEXT NOT NULL,
		name   TEXT NOT NULL,
		lang   TEXT NOT NULL DEFAULT '',
		value  BLOB NOT NULL,
		PRIMARY KEY (volume, path, ns, name)
	) WITHOUT ROWID;
	CREATE INDEX IF NOT EXISTS props_parent ON props (volume, parent);`
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return nil, fmt.Errorf("store: create props table: %w", err)
	}
	return &Props{db: db}, nil
}

// parentOf is the value of the parent column for p ("" for the root).
func parentOf(p string) string {
	if p == "/" {
		return ""
	}
	return parent(p)
}

// subtree returns a WHERE clause fragment and arguments selecting the
// rows of p and everything below it in volume. Paths below "/a" sort
// between "/a/" and "/a0" ('0' follows '/').
func subtree(volume, p string) (string, []any) {
	if p == "/" {
		return "volume = ?", []any{volume}
	}
	return "volume = ? AND (path = ? OR (path >= ? AND path < ?))", []any{volume, p, p + "/", p + "0"}
}

// Get returns the dead properties of the resource at p.
func (s *Props) Get(ctx context.Context, volume, p string) ([]webdav.Property, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT path, ns, name, lang, value FROM props WHERE volume = ? AND path = ?`, volume, p)
	if err != nil {
		return nil, fmt.Errorf("store: read properties of %s: %w", p, err)
	}
	m, err := scanProps(rows)
	if err != nil {
		return nil, fmt.Errorf("store: read properties of %s: %w", p, err)
	}
	return m[p], nil
}

// Children returns the dead properties of the collection at dir and of
// its direct members, keyed by path, in one query.
func (s *Props) Children(ctx context.Context, volume, dir string) (map[string][]webdav.Property, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT path, ns, name, lang, value FROM props WHERE volume = ? AND (parent = ? OR path = ?)`, volume, dir, dir)
	if err != nil {
		return nil, fmt.Errorf("store: read properties under %s: %w", dir, err)
	}
	m, err := scanProps(rows)
	if err != nil {
		return nil, fmt.Errorf("store: read properties under %s: %w", dir, err)
	}
	return m, nil
}

func scanProps(rows *sql.Rows) (map[string][]webdav.Property, error) {
	defer rows.Close()
	out := map[string][]webdav.Property{}
	for rows.Next() {
		var p string
		var prop webdav.Property
		if err := rows.Scan(&p, &prop.XMLName.Space, &prop.XMLName.Local, &prop.Lang, &prop.InnerXML); err != nil {
			return nil, err
		}
		out[p] = append(out[p], prop)
	}
	return out, rows.Err()
}

// Patch applies set and remove instructions to the resource at p in
// order, in one transaction: all of them or none.
func (s *Props) Patch(ctx context.Context, volume, p string, patches []webdav.Proppatch) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: patch properties of %s: %w", p, err)
	}
	defer tx.Rollback()
	for _, pp := range patches {
		for _, prop := range pp.Props {
			if err := patchOne(ctx, tx, volume, p, pp.Remove, prop); err != nil {
				return fmt.Errorf("store: patch properties of %s: %w", p, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: patch properties of %s: %w", p, err)
	}
	return nil
}

func patchOne(ctx context.Context, tx *sql.Tx, volume, p string, remove bool, prop webdav.Property) error {
	n := prop.XMLName
	if remove {
		_, err := tx.ExecContext(ctx, `DELETE FROM props WHERE volume = ? AND path = ? AND ns = ? AND name = ?`, volume, p, n.Space, n.Local)
		return err
	}
	value := prop.InnerXML
	if value == nil {
		value = []byte{}
	}
	_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO props (volume, path, parent, ns, name, lang, value) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		volume, p, parentOf(p), n.Space, n.Local, prop.Lang, value)
	return err
}

// DeleteTree removes the properties of p and everything below it.
func (s *Props) DeleteTree(ctx context.Context, volume, p string) error {
	where, args := subtree(volume, p)
	if _, err := s.db.ExecContext(ctx, `DELETE FROM props WHERE `+where, args...); err != nil {
		return fmt.Errorf("store: delete properties under %s: %w", p, err)
	}
	return nil
}

// MoveTree moves the properties of src and everything below it to dst
// (possibly in another volume), replacing any properties there.
func (s *Props) MoveTree(ctx context.Context, srcVol, src, dstVol, dst string) error {
	return s.transfer(ctx, srcVol, src, dstVol, dst, true, true)
}

// CopyTree copies the properties of src to dst, replacing any there; with
// deep also those of everything below src.
func (s *Props) CopyTree(ctx context.Context, srcVol, src, dstVol, dst string, deep bool) error {
	return s.transfer(ctx, srcVol, src, dstVol, dst, deep, false)
}

func (s *Props) transfer(ctx context.Context, srcVol, src, dstVol, dst string, deep, move bool) error {
	if dst == "/" || (move && src == "/") {
		return fmt.Errorf("%w: cannot replace or move the root's properties", ErrInvalidPath)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: transfer properties %s to %s: %w", src, dst, err)
	}
	defer tx.Rollback()
	where, args := subtree(dstVol, dst)
	stmts := []stmt{
		{`DELETE FROM props WHERE ` + where, args},
		// The resource itself.
		{`INSERT INTO props (volume, path, parent, ns, name, lang, value)
			SELECT ?, ?, ?, ns, name, lang, value FROM props WHERE volume = ? AND path = ?`,
			[]any{dstVol, dst, parentOf(dst), srcVol, src}},
	}
	if deep {
		stmts = append(stmts, copyBelow(srcVol, src, dstVol, dst))
	}
	if move {
		w, a := subtree(srcVol, src)
		stmts = append(stmts, stmt{`DELETE FROM props WHERE ` + w, a})
	}
	for _, st := range stmts {
		if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
			return fmt.Errorf("store: transfer properties %s to %s: %w", src, dst, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: transfer properties %s to %s: %w", src, dst, err)
	}
	return nil
}

type stmt struct {
	q    string
	args []any
}

// copyBelow copies the properties of everything strictly below src to
// the same relative paths below dst. Paths are rewritten by replacing the
// src prefix (character counts, as SQLite's substr counts them).
func copyBelow(srcVol, src, dstVol, dst string) stmt {
	const cols = `ns, name, lang, value FROM props WHERE volume = ?`
	if src == "/" {
		// Everything but the root; "/a" becomes dst + "/a".
		return stmt{`INSERT INTO props (volume, path, parent, ns, name, lang, value)
			SELECT ?, ? || path, CASE parent WHEN '/' THEN ? ELSE ? || parent END, ` + cols + ` AND path <> '/'`,
			[]any{dstVol, dst, dst, dst, srcVol}}
	}
	return stmt{`INSERT INTO props (volume, path, parent, ns, name, lang, value)
		SELECT ?, ? || substr(path, length(?) + 1), ? || substr(parent, length(?) + 1), ` + cols + ` AND path >= ? AND path < ?`,
		[]any{dstVol, dst, src, dst, src, srcVol, src + "/", src + "0"}}
}

// Names returns just the property names of a list, for PROPFIND propname.
func Names(props []webdav.Property) []xml.Name {
	out := make([]xml.Name, len(props))
	for i, p := range props {
		out[i] = p.XMLName
	}
	return out
}
