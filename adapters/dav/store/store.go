// Package store keeps the DAV plugin's principals, collections, calendar
// and address objects, change log and local accounts in one SQLite
// database (modernc.org/sqlite, WAL, synchronous=FULL).
//
// Every write runs in one IMMEDIATE transaction and returns only after
// the commit, so a caller that replies to a client after a nil error
// replies about data that is on disk. Each collection has a change
// counter; every member change and property change increments it, and
// deleted members leave tombstones, which is what sync-collection
// (RFC 6578) and getctag are built on.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// Errors returned by the store.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
)

// Store is the DAV database. It is safe for concurrent use.
type Store struct {
	db  *sql.DB
	log *slog.Logger
	now func() time.Time
	// TombstoneTTL is how long deleted-member records are kept; sync
	// tokens older than the newest pruned tombstone become invalid.
	tombstoneTTL time.Duration
}

// Options configure Open.
type Options struct {
	Logger       *slog.Logger
	TombstoneTTL time.Duration    // default 400 days
	Now          func() time.Time // default time.Now; for tests
}

// Open opens (creating if needed) the database at path.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		return nil, errors.New("store: open: nil logger")
	}
	if opts.TombstoneTTL <= 0 {
		opts.TombstoneTTL = 400 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Store{db: db, log: opts.Logger, now: opts.Now, tombstoneTTL: opts.TombstoneTTL}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

const schemaVersion = 1

var schema = []string{
	`CREATE TABLE principals (
		id      TEXT PRIMARY KEY,
		created INTEGER NOT NULL
	)`,
	`CREATE TABLE accounts (
		name    TEXT PRIMARY KEY,
		hash    TEXT NOT NULL,
		created INTEGER NOT NULL
	)`,
	`CREATE TABLE collections (
		id         INTEGER PRIMARY KEY,
		principal  TEXT NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
		kind       INTEGER NOT NULL,
		name       TEXT NOT NULL,
		components TEXT NOT NULL DEFAULT '',
		sync_id    TEXT NOT NULL,
		seq        INTEGER NOT NULL DEFAULT 0,
		prune_seq  INTEGER NOT NULL DEFAULT 0,
		created    INTEGER NOT NULL,
		UNIQUE (principal, kind, name)
	)`,
	`CREATE TABLE collection_props (
		collection INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
		space      TEXT NOT NULL,
		local      TEXT NOT NULL,
		xml        BLOB NOT NULL,
		PRIMARY KEY (collection, space, local)
	)`,
	`CREATE TABLE objects (
		collection INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
		name       TEXT NOT NULL,
		uid        TEXT NOT NULL,
		etag       TEXT NOT NULL,
		component  TEXT NOT NULL DEFAULT '',
		data       BLOB NOT NULL,
		modified   INTEGER NOT NULL,
		seq        INTEGER NOT NULL,
		tr_start   INTEGER,
		tr_end     INTEGER,
		PRIMARY KEY (collection, name)
	)`,
	`CREATE UNIQUE INDEX objects_uid ON objects (collection, uid)`,
	`CREATE INDEX objects_seq ON objects (collection, seq)`,
	`CREATE TABLE tombstones (
		collection INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
		name       TEXT NOT NULL,
		seq        INTEGER NOT NULL,
		deleted    INTEGER NOT NULL,
		PRIMARY KEY (collection, name)
	)`,
	`CREATE INDEX tombstones_seq ON tombstones (collection, seq)`,
}

func (s *Store) migrate(ctx context.Context) error {
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	switch {
	case v == schemaVersion:
		return nil
	case v > schemaVersion:
		return fmt.Errorf("store: database schema %d is newer than this plugin (%d)", v, schemaVersion)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		for _, stmt := range schema {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("store: create schema: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
			return fmt.Errorf("store: set schema version: %w", err)
		}
		return nil
	})
}

// write runs fn in an IMMEDIATE transaction and commits it. With
// synchronous=FULL, a nil return means the change is durable.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func (s *Store) unixNow() int64 { return s.now().Unix() }
