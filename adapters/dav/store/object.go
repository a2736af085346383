package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// ObjectMeta describes a stored object without its data.
type ObjectMeta struct {
	Name      string
	UID       string
	ETag      string // unquoted strong entity tag
	Component string // VEVENT, VTODO, ... for calendar objects
	Size      int64
	Modified  time.Time
	Seq       int64 // change counter value of the last change
}

// Object is a stored calendar object or vCard with its data, byte for
// byte as the client sent it.
type Object struct {
	ObjectMeta
	Data []byte
}

// Bounds is the time span an object's instances can cover, in Unix
// seconds; used to skip objects in time-range queries. A missing bound is
// unbounded on that side.
type Bounds struct {
	Start, End       int64
	HasStart, HasEnd bool
}

// ObjectInput is an object to store.
type ObjectInput struct {
	Name      string
	UID       string
	Component string
	Data      []byte
	Bounds    Bounds
}

// Check is called inside the write transaction with the object currently
// stored under the name (nil if there is none). A non-nil error aborts
// the write and is returned unchanged.
type Check func(current *ObjectMeta) error

// UIDConflictError is returned when another object of the collection
// already has the UID (CalDAV/CardDAV no-uid-conflict).
type UIDConflictError struct {
	Name string // the object that has the UID
}

func (e *UIDConflictError) Error() string {
	return fmt.Sprintf("store: UID already used by %q", e.Name)
}

// PutResult tells what PutObject did.
type PutResult struct {
	Created bool
	ETag    string
}

// ETagOf computes the entity tag of object data.
func ETagOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

const metaCols = `name, uid, etag, component, length(data), modified, seq`

func scanMeta(row interface{ Scan(...any) error }, extra ...any) (*ObjectMeta, error) {
	var (
		m   ObjectMeta
		mod int64
	)
	dest := append([]any{&m.Name, &m.UID, &m.ETag, &m.Component, &m.Size, &mod, &m.Seq}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	m.Modified = time.Unix(mod, 0)
	return &m, nil
}

// PutObject creates or replaces an object in collection coll after
// check accepts the current state.
func (s *Store) PutObject(ctx context.Context, coll int64, in ObjectInput, check Check) (PutResult, error) {
	var res PutResult
	err := s.write(ctx, func(tx *sql.Tx) error {
		cur, err := scanMeta(tx.QueryRowContext(ctx, `SELECT `+metaCols+` FROM objects WHERE collection = ? AND name = ?`, coll, in.Name))
		if errors.Is(err, sql.ErrNoRows) {
			cur = nil
		} else if err != nil {
			return fmt.Errorf("store: put object: %w", err)
		}
		if check != nil {
			if err := check(cur); err != nil {
				return err
			}
		}
		var other string
		err = tx.QueryRowContext(ctx, `SELECT name FROM objects WHERE collection = ? AND uid = ? AND name <> ?`,
			coll, in.UID, in.Name).Scan(&other)
		if err == nil {
			return &UIDConflictError{Name: other}
		} else if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: put object: %w", err)
		}
		seq, err := bumpSeqTx(ctx, tx, coll)
		if err != nil {
			return err
		}
		res = PutResult{Created: cur == nil, ETag: ETagOf(in.Data)}
		var start, end sql.NullInt64
		start.Int64, start.Valid = in.Bounds.Start, in.Bounds.HasStart
		end.Int64, end.Valid = in.Bounds.End, in.Bounds.HasEnd
		_, err = tx.ExecContext(ctx, `
			INSERT INTO objects (collection, name, uid, etag, component, data, modified, seq, tr_start, tr_end)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (collection, name) DO UPDATE SET
				uid = excluded.uid, etag = excluded.etag, component = excluded.component, data = excluded.data,
				modified = excluded.modified, seq = excluded.seq, tr_start = excluded.tr_start, tr_end = excluded.tr_end`,
			coll, in.Name, in.UID, res.ETag, in.Component, in.Data, s.unixNow(), seq, start, end)
		if err != nil {
			return fmt.Errorf("store: put object: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tombstones WHERE collection = ? AND name = ?`, coll, in.Name); err != nil {
			return fmt.Errorf("store: put object: %w", err)
		}
		return nil
	})
	return res, err
}

// DeleteObject removes an object after check accepts it, leaving a
// tombstone for sync-collection. ErrNotFound if there is no such object
// (check is called with nil first).
func (s *Store) DeleteObject(ctx context.Context, coll int64, name string, check Check) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		cur, err := scanMeta(tx.QueryRowContext(ctx, `SELECT `+metaCols+` FROM objects WHERE collection = ? AND name = ?`, coll, name))
		if errors.Is(err, sql.ErrNoRows) {
			cur = nil
		} else if err != nil {
			return fmt.Errorf("store: delete object: %w", err)
		}
		if check != nil {
			if err := check(cur); err != nil {
				return err
			}
		}
		if cur == nil {
			return fmt.Errorf("store: delete object %q: %w", name, ErrNotFound)
		}
		seq, err := bumpSeqTx(ctx, tx, coll)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM objects WHERE collection = ? AND name = ?`, coll, name); err != nil {
			return fmt.Errorf("store: delete object: %w", err)
		}
		now := s.unixNow()
		if _, err := tx.ExecContext(ctx, `INSERT INTO tombstones (collection, name, seq, deleted) VALUES (?, ?, ?, ?)
			ON CONFLICT (collection, name) DO UPDATE SET seq = excluded.seq, deleted = excluded.deleted`,
			coll, name, seq, now); err != nil {
			return fmt.Errorf("store: delete object: %w", err)
		}
		return s.pruneTombstonesTx(ctx, tx, coll, now)
	})
}

// pruneTombstonesTx drops tombstones older than the TTL and raises the
// collection's prune_seq so that tokens that would need them are refused.
func (s *Store) pruneTombstonesTx(ctx context.Context, tx *sql.Tx, coll, now int64) error {
	cutoff := now - int64(s.tombstoneTTL/time.Second)
	var maxSeq sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(seq) FROM tombstones WHERE collection = ? AND deleted < ?`,
		coll, cutoff).Scan(&maxSeq); err != nil {
		return fmt.Errorf("store: prune tombstones: %w", err)
	}
	if !maxSeq.Valid {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM tombstones WHERE collection = ? AND seq <= ?`, coll, maxSeq.Int64); err != nil {
		return fmt.Errorf("store: prune tombstones: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE collections SET prune_seq = MAX(prune_seq, ?) WHERE id = ?`, maxSeq.Int64, coll); err != nil {
		return fmt.Errorf("store: prune tombstones: %w", err)
	}
	return nil
}

// Object returns one object with its data.
func (s *Store) Object(ctx context.Context, coll int64, name string) (*Object, error) {
	var data []byte
	m, err := scanMeta(s.db.QueryRowContext(ctx, `SELECT `+metaCols+`, data FROM objects WHERE collection = ? AND name = ?`,
		coll, name), &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: object %q: %w", name, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("store: object %q: %w", name, err)
	}
	return &Object{ObjectMeta: *m, Data: data}, nil
}

// ObjectMetas lists a collection's objects without data, by name.
func (s *Store) ObjectMetas(ctx context.Context, coll int64) ([]*ObjectMeta, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+metaCols+` FROM objects WHERE collection = ? ORDER BY name`, coll)
	if err != nil {
		return nil, fmt.Errorf("store: list objects: %w", err)
	}
	defer rows.Close()
	var out []*ObjectMeta
	for rows.Next() {
		m, err := scanMeta(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list objects: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list objects: %w", err)
	}
	return out, nil
}

// Objects lists a collection's objects with data. If span is non-nil,
// objects whose stored bounds lie entirely outside [span.Start, span.End)
// are skipped; the caller still evaluates the real filter.
func (s *Store) Objects(ctx context.Context, coll int64, span *Bounds) ([]*Object, error) {
	q := `SELECT ` + metaCols + `, data FROM objects WHERE collection = ?`
	args := []any{coll}
	if span != nil {
		if span.HasEnd {
			q += ` AND (tr_start IS NULL OR tr_start < ?)`
			args = append(args, span.End)
		}
		if span.HasStart {
			q += ` AND (tr_end IS NULL OR tr_end > ?)`
			args = append(args, span.Start)
		}
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY name`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list objects: %w", err)
	}
	defer rows.Close()
	var out []*Object
	for rows.Next() {
		var data []byte
		m, err := scanMeta(rows, &data)
		if err != nil {
			return nil, fmt.Errorf("store: list objects: %w", err)
		}
		out = append(out, &Object{ObjectMeta: *m, Data: data})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list objects: %w", err)
	}
	return out, nil
}
