package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// EnsurePrincipal creates the principal id, with the given initial
// collections, if it does not exist yet. It reports whether it created
// it. The collections' Principal fields are ignored.
func (s *Store) EnsurePrincipal(ctx context.Context, id string, initial []NewCollection) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM principals WHERE id = ?`, id).Scan(&one)
	if err == nil {
		return false, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("store: look up principal: %w", err)
	}
	created := false
	err = s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO principals (id, created) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`,
			id, s.unixNow())
		if err != nil {
			return fmt.Errorf("store: create principal: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // created concurrently
		}
		created = true
		for _, nc := range initial {
			nc.Principal = id
			if _, err := s.createCollectionTx(ctx, tx, nc); err != nil {
				return err
			}
		}
		return nil
	})
	return created, err
}

// PrincipalInfo summarizes a principal for listings.
type PrincipalInfo struct {
	ID          string
	Created     time.Time
	Collections int
	Objects     int
}

// Principals lists every principal.
func (s *Store) Principals(ctx context.Context) ([]PrincipalInfo, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT p.id, p.created,
		       (SELECT COUNT(*) FROM collections c WHERE c.principal = p.id),
		       (SELECT COUNT(*) FROM objects o JOIN collections c ON o.collection = c.id WHERE c.principal = p.id)
		FROM principals p ORDER BY p.id`)
	if err != nil {
		return nil, fmt.Errorf("store: list principals: %w", err)
	}
	defer rows.Close()
	var out []PrincipalInfo
	for rows.Next() {
		var (
			p       PrincipalInfo
			created int64
		)
		if err := rows.Scan(&p.ID, &created, &p.Collections, &p.Objects); err != nil {
			return nil, fmt.Errorf("store: list principals: %w", err)
		}
		p.Created = time.Unix(created, 0)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list principals: %w", err)
	}
	return out, nil
}

// DeletePrincipal removes a principal and all its data.
func (s *Store) DeletePrincipal(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM principals WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("store: delete principal: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: delete principal %q: %w", id, ErrNotFound)
		}
		return nil
	})
}
