// Package store keeps mail durably: a SQLite index (users, mailboxes,
// messages with UIDs, flags, mod-sequences and cached envelope and body
// structure, and the outbound queue) plus one file per message body under
// the data directory.
//
// Every write that a protocol success reply depends on is durable before
// the method returns: the body file and its directory are fsync'd and the
// index transaction is committed with synchronous=FULL.
//
// The store also owns the live state of mailboxes that IMAP sessions have
// selected (the UID list and the go-imap MailboxTracker), updated in the
// same critical section as the commit, so unilateral EXISTS/EXPUNGE/FETCH
// updates reach other sessions in commit order.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/mycelium-go/mycelium/plugins/sdk/passwd"
)

// Errors callers branch on.
var (
	ErrNoSuchUser    = errors.New("no such user")
	ErrUserExists    = errors.New("user already exists")
	ErrNoSuchMailbox = errors.New("no such mailbox")
	ErrMailboxExists = errors.New("mailbox already exists")
	ErrBadPassword   = errors.New("wrong password")
	ErrTooBig        = errors.New("message too big")
)

const schema = `
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
	id      INTEGER PRIMARY KEY,
	local   TEXT NOT NULL UNIQUE,
	pwhash  TEXT NOT NULL,
	created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS mailboxes (
	id            INTEGER PRIMARY KEY,
	user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name          TEXT NOT NULL,
	special_use   TEXT NOT NULL DEFAULT '',
	subscribed    INTEGER NOT NULL DEFAULT 1,
	uidvalidity   INTEGER NOT NULL,
	uidnext       INTEGER NOT NULL DEFAULT 1,
	highestmodseq INTEGER NOT NULL DEFAULT 1,
	UNIQUE (user_id, name)
);
CREATE TABLE IF NOT EXISTS messages (
	id            INTEGER PRIMARY KEY,
	mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid           INTEGER NOT NULL,
	modseq        INTEGER NOT NULL,
	flags         TEXT NOT NULL DEFAULT '',
	internal_date INTEGER NOT NULL,
	size          INTEGER NOT NULL,
	envelope      BLOB NOT NULL,
	bodystructure BLOB NOT NULL,
	blob          TEXT NOT NULL,
	UNIQUE (mailbox_id, uid)
);
CREATE TABLE IF NOT EXISTS queue (
	id           INTEGER PRIMARY KEY,
	sender       TEXT NOT NULL,
	rcpts        TEXT NOT NULL,
	domain       TEXT NOT NULL,
	blob         TEXT NOT NULL,
	size         INTEGER NOT NULL,
	created      INTEGER NOT NULL,
	next_attempt INTEGER NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS queue_next ON queue(next_attempt);
`

// authCacheTTL is how long a successful login is remembered: Thunderbird
// opens several connections and checks every folder.
const authCacheTTL = 10 * time.Minute

// Store is the mail store of one plugin instance. Its methods are safe for
// concurrent use.
type Store struct {
	dir   string
	wdb   *sql.DB // one connection: all writes are serialised
	rdb   *sql.DB // readers (WAL lets them run beside the writer)
	blobs *blobDir
	log   *slog.Logger
	auth  *passwd.Cache // recent successful logins

	// wmu serialises write transactions together with the live-state
	// updates that follow their commit.
	wmu sync.Mutex

	live struct {
		sync.Mutex
		m map[int64]*Live // mailbox id -> live state, created on first select
	}
}

// Open opens (creating if needed) the store in dir.
func Open(ctx context.Context, dir string, log *slog.Logger) (*Store, error) {
	if log == nil {
		return nil, errors.New("open store: nil logger")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	blobs, err := openBlobDir(filepath.Join(dir, "blobs"))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	path := filepath.Join(dir, "mail.sqlite")
	wdb, err := openDB(path, true)
	if err != nil {
		return nil, err
	}
	if _, err := wdb.ExecContext(ctx, schema); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("open store: create schema: %w", err)
	}
	rdb, err := openDB(path, false)
	if err != nil {
		wdb.Close()
		return nil, err
	}
	s := &Store{dir: dir, wdb: wdb, rdb: rdb, blobs: blobs, log: log, auth: passwd.NewCache(passwd.CacheOptions{TTL: authCacheTTL})}
	s.live.m = make(map[int64]*Live)
	return s, nil
}

func openDB(path string, writer bool) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	if writer {
		q.Set("_txlock", "immediate")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if writer {
		db.SetMaxOpenConns(1)
	} else {
		db.SetMaxOpenConns(8)
	}
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// Close closes the database handles.
func (s *Store) Close() error {
	return errors.Join(s.rdb.Close(), s.wdb.Close())
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// write runs fn in one write transaction, serialised with every other
// write, then after commit runs after (still serialised) for live-state
// updates.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error, after func()) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if after != nil {
		after()
	}
	return nil
}

// nextUIDValidity returns a UIDVALIDITY never handed out before by this
// store (a persistent counter).
func nextUIDValidity(ctx context.Context, tx *sql.Tx) (uint32, error) {
	var v int64
	err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key='uidvalidity'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		v = 0
	} else if err != nil {
		return 0, fmt.Errorf("read uidvalidity counter: %w", err)
	}
	// Seed from the clock so a store recreated from scratch does not
	// repeat the UIDVALIDITY values an earlier one handed out.
	v = max(v+1, time.Now().Unix()&0xffffffff)
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta(key,value) VALUES('uidvalidity',?) ON CONFLICT(key) DO UPDATE SET value=excluded.value`, v); err != nil {
		return 0, fmt.Errorf("write uidvalidity counter: %w", err)
	}
	return uint32(v), nil
}
