package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TokenPrefix starts every sync token; tokens are URIs as RFC 6578
// requires.
const TokenPrefix = "http://mycelium.invalid/ns/sync/"

// FormatToken returns the sync token for a collection incarnation and a
// change counter value.
func FormatToken(syncID string, seq int64) string {
	return TokenPrefix + syncID + "/" + strconv.FormatInt(seq, 10)
}

// ErrBadToken is returned for a token that is not one of ours.
var ErrBadToken = errors.New("store: malformed sync token")

// ParseToken splits a token made by FormatToken.
func ParseToken(tok string) (syncID string, seq int64, err error) {
	rest, ok := strings.CutPrefix(tok, TokenPrefix)
	if !ok {
		return "", 0, ErrBadToken
	}
	syncID, num, ok := strings.Cut(rest, "/")
	if !ok || len(syncID) != 16 || !isLowerHex(syncID) {
		return "", 0, ErrBadToken
	}
	if num == "" || len(num) > 18 || (len(num) > 1 && num[0] == '0') {
		return "", 0, ErrBadToken
	}
	seq, err = strconv.ParseInt(num, 10, 64)
	if err != nil || seq < 0 {
		return "", 0, ErrBadToken
	}
	return syncID, seq, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Change is one member change reported by Changes.
type Change struct {
	Name    string
	Seq     int64
	Deleted bool
	Meta    *ObjectMeta // nil for deletions
}

// ChangeSet is the answer to Changes.
type ChangeSet struct {
	Changes   []Change // ordered by Seq
	Seq       int64    // the change counter the new token must carry
	Truncated bool     // more changes remain after Seq
}

// ErrTokenExpired is returned when the changes since a token can no
// longer be reconstructed (its tombstones were pruned) or the token is
// from the future.
var ErrTokenExpired = errors.New("store: sync token no longer valid")

// Changes returns the members of collection coll that changed after
// change counter since (0: every current member, no deletions), at most
// limit of them (limit < 0: no limit).
func (s *Store) Changes(ctx context.Context, coll int64, since int64, limit int) (ChangeSet, error) {
	var cur, prune int64
	err := s.db.QueryRowContext(ctx, `SELECT seq, prune_seq FROM collections WHERE id = ?`, coll).Scan(&cur, &prune)
	if errors.Is(err, sql.ErrNoRows) {
		return ChangeSet{}, fmt.Errorf("store: changes of collection %d: %w", coll, ErrNotFound)
	} else if err != nil {
		return ChangeSet{}, fmt.Errorf("store: changes: %w", err)
	}
	if since > cur || (since > 0 && since < prune) {
		return ChangeSet{}, ErrTokenExpired
	}
	q := `SELECT name, seq, 0, uid, etag, component, length(data), modified FROM objects
	      WHERE collection = ? AND seq > ? AND seq <= ?`
	args := []any{coll, since, cur}
	if since > 0 {
		q += ` UNION ALL SELECT name, seq, 1, '', '', '', 0, deleted FROM tombstones
		       WHERE collection = ? AND seq > ? AND seq <= ?`
		args = append(args, coll, since, cur)
	}
	q += ` ORDER BY 2`
	if limit >= 0 {
		q += ` LIMIT ` + strconv.Itoa(limit+1)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return ChangeSet{}, fmt.Errorf("store: changes: %w", err)
	}
	defer rows.Close()
	cs := ChangeSet{Seq: cur}
	for rows.Next() {
		var (
			m       ObjectMeta
			deleted bool
			mod     int64
		)
		if err := rows.Scan(&m.Name, &m.Seq, &deleted, &m.UID, &m.ETag, &m.Component, &m.Size, &mod); err != nil {
			return ChangeSet{}, fmt.Errorf("store: changes: %w", err)
		}
		m.Modified = time.Unix(mod, 0)
		c := Change{Name: m.Name, Seq: m.Seq, Deleted: deleted}
		if !deleted {
			c.Meta = &m
		}
		cs.Changes = append(cs.Changes, c)
	}
	if err := rows.Err(); err != nil {
		return ChangeSet{}, fmt.Errorf("store: changes: %w", err)
	}
	if limit >= 0 && len(cs.Changes) > limit {
		cs.Changes = cs.Changes[:limit]
		cs.Truncated = true
		cs.Seq = since
		if limit > 0 {
			cs.Seq = cs.Changes[limit-1].Seq
		}
	}
	return cs, nil
}
