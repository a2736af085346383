// Package accounts keeps the plugin's local accounts (for loopback logins
// with HTTP Basic auth) in SQLite, with argon2id password hashes in PHC
// string form.
//
// WebDAV clients send the password with every request, so a verified
// password is remembered for a few minutes as a keyed hash (never in
// clear) together with the stored hash it matched: changing or deleting
// the account invalidates it at once. At most two argon2 computations run
// at a time, bounding memory under a password-guessing burst.
package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// Errors returned by DB methods.
var (
	ErrExists      = errors.New("accounts: account exists")
	ErrNotFound    = errors.New("accounts: no such account")
	ErrInvalidName = errors.New("accounts: invalid account name (use 1-64 of a-z 0-9 . _ - starting with a letter or digit)")
	ErrWeak        = errors.New("accounts: password must have at least 8 characters")
)

// argon2id parameters: the OWASP recommendation (19 MiB, 2 passes, 1 lane).
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16

	cacheTTL = 5 * time.Minute
)

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
	macKey [32]byte
	slots  chan struct{} // bounds concurrent argon2 computations

	cache struct {
		sync.Mutex
		m map[string]cached
	}
}

type cached struct {
	hash    string   // stored hash the password matched
	mac     [32]byte // HMAC of the password under macKey
	expires time.Time
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
	a := &DB{db: db, now: time.Now, slots: make(chan struct{}, 2)}
	if _, err := rand.Read(a.macKey[:]); err != nil {
		return nil, fmt.Errorf("accounts: key: %w", err)
	}
	a.cache.m = map[string]cached{}
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
// unknown account is simply false.
func (a *DB) Verify(ctx context.Context, name, password string) (bool, error) {
	var stored string
	err := a.db.QueryRowContext(ctx, `SELECT hash FROM accounts WHERE name = ?`, name).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("accounts: verify %s: %w", name, err)
	}
	mac := a.mac(password)
	now := a.now()
	a.cache.Lock()
	c, ok := a.cache.m[name]
	a.cache.Unlock()
	if ok && c.hash == stored && now.Before(c.expires) && hmac.Equal(c.mac[:], mac[:]) {
		return true, nil
	}
	select {
	case a.slots <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	match, err := checkHash(stored, password)
	<-a.slots
	if err != nil || !match {
		return false, err
	}
	a.cache.Lock()
	a.cache.m[name] = cached{hash: stored, mac: mac, expires: now.Add(cacheTTL)}
	a.cache.Unlock()
	return true, nil
}

func (a *DB) mac(password string) [32]byte {
	m := hmac.New(sha256.New, a.macKey[:])
	m.Write([]byte(password))
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
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
	if len([]rune(password)) < 8 {
		return "", ErrWeak
	}
	return Hash(password)
}

// Hash returns the argon2id PHC string of password with a fresh salt.
func Hash(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("accounts: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// checkHash verifies password against a PHC string made by Hash (any
// parameters).
func checkHash(phc, password string) (bool, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false, errors.New("accounts: unsupported password hash")
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<22 {
		return false, errors.New("accounts: bad password hash parameters")
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 128 {
		return false, errors.New("accounts: bad password hash encoding")
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
