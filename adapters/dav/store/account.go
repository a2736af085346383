package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Account is a local account for password (loopback) logins.
type Account struct {
	Name    string
	Hash    string // PHC-style password hash
	Created time.Time
}

// AddAccount creates an account; ErrExists if the name is taken.
func (s *Store) AddAccount(ctx context.Context, name, hash string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO accounts (name, hash, created) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
			name, hash, s.unixNow())
		if err != nil {
			return fmt.Errorf("store: add account: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: add account %q: %w", name, ErrExists)
		}
		return nil
	})
}

// SetAccountHash replaces an account's password hash.
func (s *Store) SetAccountHash(ctx context.Context, name, hash string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET hash = ? WHERE name = ?`, hash, name)
		if err != nil {
			return fmt.Errorf("store: set password: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: set password of %q: %w", name, ErrNotFound)
		}
		return nil
	})
}

// DeleteAccount removes an account (not its data).
func (s *Store) DeleteAccount(ctx context.Context, name string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE name = ?`, name)
		if err != nil {
			return fmt.Errorf("store: delete account: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: delete account %q: %w", name, ErrNotFound)
		}
		return nil
	})
}

// AccountHash returns an account's password hash; ErrNotFound if there
// is no such account.
func (s *Store) AccountHash(ctx context.Context, name string) (string, error) {
	var h string
	err := s.db.QueryRowContext(ctx, `SELECT hash FROM accounts WHERE name = ?`, name).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("store: account %q: %w", name, ErrNotFound)
	} else if err != nil {
		return "", fmt.Errorf("store: account %q: %w", name, err)
	}
	return h, nil
}

// Accounts lists the accounts by name.
func (s *Store) Accounts(ctx context.Context) ([]Account, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, hash, created FROM accounts ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: list accounts: %w", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		var (
			a       Account
			created int64
		)
		if err := rows.Scan(&a.Name, &a.Hash, &created); err != nil {
			return nil, fmt.Errorf("store: list accounts: %w", err)
		}
		a.Created = time.Unix(created, 0)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list accounts: %w", err)
	}
	return out, nil
}
