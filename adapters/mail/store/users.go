package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk/passwd"
)

// User is a mail account. Local is its lowercase local part; the account
// receives mail for Local at every one of the node's local domains.
type User struct {
	ID    int64
	Local string
}

// DefaultMailboxes are created for every new user, with their SPECIAL-USE
// attributes.
var DefaultMailboxes = []struct{ Name, SpecialUse string }{
	{"INBOX", ""},
	{"Sent", `\Sent`},
	{"Drafts", `\Drafts`},
	{"Trash", `\Trash`},
	{"Junk", `\Junk`},
	{"Archive", `\Archive`},
}

// AddUser creates an account with the given (already normalised) local
// part and password, and its default mailboxes.
func (s *Store) AddUser(ctx context.Context, local, password string) error {
	hash, err := passwd.Hash(password)
	if err != nil {
		return fmt.Errorf("add user %s: %w", local, err)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE local=?`, local).Scan(&n); err != nil {
			return fmt.Errorf("add user %s: %w", local, err)
		}
		if n > 0 {
			return fmt.Errorf("add user %s: %w", local, ErrUserExists)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO users(local,pwhash,created) VALUES(?,?,?)`, local, hash, time.Now().Unix())
		if err != nil {
			return fmt.Errorf("add user %s: %w", local, err)
		}
		id, _ := res.LastInsertId()
		for _, mb := range DefaultMailboxes {
			if err := createMailboxTx(ctx, tx, id, mb.Name, mb.SpecialUse); err != nil {
				return fmt.Errorf("add user %s: %w", local, err)
			}
		}
		return nil
	}, nil)
}

// SetPassword replaces an account's password.
func (s *Store) SetPassword(ctx context.Context, local, password string) error {
	hash, err := passwd.Hash(password)
	if err != nil {
		return fmt.Errorf("set password for %s: %w", local, err)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET pwhash=? WHERE local=?`, hash, local)
		if err != nil {
			return fmt.Errorf("set password for %s: %w", local, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("set password for %s: %w", local, ErrNoSuchUser)
		}
		return nil
	}, nil)
}

// DeleteUser removes an account with all its mailboxes and messages.
func (s *Store) DeleteUser(ctx context.Context, local string) error {
	var blobs []string
	err := s.write(ctx, func(tx *sql.Tx) error {
		u, err := userTx(ctx, tx, local)
		if err != nil {
			return fmt.Errorf("delete user %s: %w", local, err)
		}
		blobs, err = queryStrings(ctx, tx, `SELECT m.blob FROM messages m JOIN mailboxes b ON m.mailbox_id=b.id WHERE b.user_id=?`, u.ID)
		if err != nil {
			return fmt.Errorf("delete user %s: %w", local, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id=?`, u.ID); err != nil {
			return fmt.Errorf("delete user %s: %w", local, err)
		}
		return nil
	}, nil)
	if err != nil {
		return err
	}
	for _, b := range blobs {
		s.blobs.remove(b)
	}
	return nil
}

// ListUsers returns all accounts' local parts, sorted.
func (s *Store) ListUsers(ctx context.Context) ([]string, error) {
	l, err := queryStrings(ctx, s.rdb, `SELECT local FROM users ORDER BY local`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return l, nil
}

// UserByLocal returns the account with local part local, or ErrNoSuchUser.
func (s *Store) UserByLocal(ctx context.Context, local string) (User, error) {
	var u User
	err := s.rdb.QueryRowContext(ctx, `SELECT id, local FROM users WHERE local=?`, local).Scan(&u.ID, &u.Local)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %s: %w", local, ErrNoSuchUser)
	}
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", local, err)
	}
	return u, nil
}

// Authenticate checks local's password. It returns ErrNoSuchUser or
// ErrBadPassword on failure.
func (s *Store) Authenticate(ctx context.Context, local, password string) (User, error) {
	var (
		u    User
		hash string
	)
	err := s.rdb.QueryRowContext(ctx, `SELECT id, local, pwhash FROM users WHERE local=?`, local).Scan(&u.ID, &u.Local, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		// Spend comparable time so the reply does not reveal which
		// accounts exist.
		if err := s.auth.Reject(ctx, password); err != nil {
			return User{}, fmt.Errorf("authenticate %s: %w", local, err)
		}
		return User{}, fmt.Errorf("authenticate %s: %w", local, ErrNoSuchUser)
	}
	if err != nil {
		return User{}, fmt.Errorf("authenticate %s: %w", local, err)
	}
	// A client opening many connections at once pays argon2id once; the
	// rest find the cache entry.
	ok, err := s.auth.Verify(ctx, local, hash, password)
	if err != nil {
		return User{}, fmt.Errorf("authenticate %s: %w", local, err)
	}
	if !ok {
		return User{}, fmt.Errorf("authenticate %s: %w", local, ErrBadPassword)
	}
	return u, nil
}

func userTx(ctx context.Context, tx *sql.Tx, local string) (User, error) {
	var u User
	err := tx.QueryRowContext(ctx, `SELECT id, local FROM users WHERE local=?`, local).Scan(&u.ID, &u.Local)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNoSuchUser
	}
	return u, err
}

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func queryStrings(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
