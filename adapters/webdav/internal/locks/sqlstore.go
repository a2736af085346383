package locks

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// SQLStore keeps locks in an SQLite table of the plugin's database.
type SQLStore struct {
	db *sql.DB
}

// NewSQLStore creates the locks table if needed.
func NewSQLStore(ctx context.Context, db *sql.DB) (*SQLStore, error) {
	const schema = `CREATE TABLE IF NOT EXISTS locks (
		token     TEXT PRIMARY KEY,
		volume    TEXT NOT NULL,
		root      TEXT NOT NULL,
		infinite  INTEGER NOT NULL,
		shared    INTEGER NOT NULL,
		owner     BLOB,
		principal TEXT NOT NULL,
		timeout_ms INTEGER NOT NULL,
		expires_ms INTEGER NOT NULL
	)`
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return nil, fmt.Errorf("locks: create table: %w", err)
	}
	return &SQLStore{db: db}, nil
}

// LoadLocks implements Store.
func (s *SQLStore) LoadLocks(ctx context.Context) ([]Lock, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT token, volume, root, infinite, shared, owner, principal, timeout_ms, expires_ms FROM locks`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Lock
	for rows.Next() {
		var l Lock
		var timeout, expires int64
		if err := rows.Scan(&l.Token, &l.Volume, &l.Root, &l.Infinite, &l.Shared, &l.Owner, &l.Principal, &timeout, &expires); err != nil {
			return nil, err
		}
		l.Timeout = time.Duration(timeout) * time.Millisecond
		l.Expires = time.UnixMilli(expires)
		out = append(out, l)
	}
	return out, rows.Err()
}

// SaveLock implements Store.
func (s *SQLStore) SaveLock(ctx context.Context, l Lock) error {
	var owner any
	if l.Owner != nil {
		owner = l.Owner
	}
	_, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO locks
		(token, volume, root, infinite, shared, owner, principal, timeout_ms, expires_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		l.Token, l.Volume, l.Root, l.Infinite, l.Shared, owner, l.Principal,
		l.Timeout.Milliseconds(), l.Expires.UnixMilli())
	return err
}

// DeleteLocks implements Store.
func (s *SQLStore) DeleteLocks(ctx context.Context, tokens []string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, t := range tokens {
		if _, err := tx.ExecContext(ctx, `DELETE FROM locks WHERE token = ?`, t); err != nil {
			return err
		}
	}
	return tx.Commit()
}

var _ Store = (*SQLStore)(nil)
