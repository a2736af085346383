// Package accounts keeps the plugin's local accounts (for loopback logins
// with HTTP Basic auth) in SQLite, with argon2id password hashes from
// plugins/sdk/passwd.
//
// WebDAV clients send the password with every request, so verified
// passwords go through a passwd.Cache: remembered for a few minutes as a
// keyed hash together with the stored hash they matched (changing or
// deleting the account invalidates them at once), with at most two argon2
// computations at a time under a password-guessing burst.
package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk/passwd"
)

// Errors returned by DB methods.
var (
	ErrExists      = errors.New("accounts: account exists")
	ErrNotFound    = errors.New("accounts: no such account")
	ErrInvalidName = errors.New("accounts: invalid account name (use 1-64 of a-z 0-9 . _ - starting with a letter or digit)")
	ErrWeak        = passwd.ErrTooShort
)

// cacheTTL is how long a verified password is remembered.
const cacheTTL = passwd.DefaultTTL

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidName reports whether name can name an account.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// Account is one local account.
type Account struct {
	Name    string
	Created time.Time
}

// DB is the account table. It is safe for concurrent use.
type DB struct {
	db     *sql.DB
	now    func() time.Time
	logins *passwd.Cache
}

// Open creates the accounts table if needed.
func Open(ctx context.Context, db *sql.DB) (*DB, error) {
	const schema = `CREATE TABLE IF NOT EXISTS accounts (
		name    TEXT PRIMARY KEY,
		hash    TEXT NOT NULL,
		created INTEGER NOT NULL
	)`
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return nil, fmt.Errorf("accounts: create table: %w", err)
	}
	a := &DB{db: db, now: time.Now}
	a.logins = passwd.NewCache(passwd.CacheOptions{TTL: cacheTTL, Now: func() time.Time { return a.now() }})
	return a, nil
}

// Add creates an account.
func (a *DB) Add(ctx context.Context, name, password string) error {
	h, err := prepare(name, password)
	if err != nil {
		return err
	}
	_, err = a.db.ExecContext(ctx, `INSERT INTO accounts (name, hash, created) VALUES (?, ?, ?)`, name, h, a.now().Unix())
	if err != nil {
		if exists, _ := a.exists(ctx, name); exists {
			return ErrExists
		}
		return fmt.Errorf("accounts: add %s: %w", name, err)
	}
	return nil
}

// SetPassword replaces the password of an existing account.
func (a *DB) SetPassword(ctx context.Context, name, password string) error {
	h, err := prepare(name, password)
	if err != nil {
		return err
	}
	res, err := a.db.ExecContext(ctx, `UPDATE accounts SET hash = ? WHERE name = ?`, h, name)
	if err != nil {
		return fmt.Errorf("accounts: set password of %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// Delete removes an account.
func (a *DB) Delete(ctx context.Context, name string) error {
	res, err := a.db.ExecContext(ctx, `DELETE FROM accounts WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("accounts: delete %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// List returns the accounts sorted by name.
func (a *DB) List(ctx context.Context) ([]Account, error) {
	rows, err := a.db.QueryContext(ctx, `SELECT name, created FROM accounts ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("accounts: list: %w", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		var acc Account
		var created int64
		if err := rows.Scan(&acc.Name, &created); err != nil {
			return nil, fmt.Errorf("accounts: list: %w", err)
		}
		acc.Created = time.Unix(created, 0)
		out = append(out, acc)
	}
	return out, rows.Err()
}

// Verify reports whether password is the password of account name. An
// unknown account is simply false, after as long as a wrong password
// takes.
func (a *DB) Verify(ctx context.Context, name, password string) (bool, error) {
	var stored string
	err := a.db.QueryRowContext(ctx, `SELECT hash FROM accounts WHERE name = ?`, name).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return false, a.logins.Reject(ctx, password)
	}
	if err != nil {
		return false, fmt.Errorf("accounts: verify %s: %w", name, err)
	}
	ok, err := a.logins.Verify(ctx, name, stored, password)
	if err != nil {
		return false, fmt.Errorf("accounts: verify %s: %w", name, err)
	}
	return ok, nil
}

func (a *DB) exists(ctx context.Context, name string) (bool, error) {
	var n int
	err := a.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE name = ?`, name).Scan(&n)
	return n > 0, err
}

func prepare(name, password string) (string, error) {
	if !ValidName(name) {
		return "", ErrInvalidName
	}
	if err := passwd.Check(password); err != nil {
		return "", fmt.Errorf("accounts: %w", err)
	}
	return passwd.Hash(password)
}
