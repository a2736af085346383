package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// QueueEntry is one outbound message for one remote domain.
type QueueEntry struct {
	ID          int64
	Sender      string
	Rcpts       []string
	Domain      string
	Blob        string
	Size        int64
	Created     time.Time
	NextAttempt time.Time
	Attempts    int
	LastError   string
}

func insertQueueTx(ctx context.Context, tx *sql.Tx, q QueueItem, blob string, size int64, now time.Time) error {
	rcpts, err := json.Marshal(q.Rcpts)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO queue(sender,rcpts,domain,blob,size,created,next_attempt) VALUES(?,?,?,?,?,?,?)`,
		q.Sender, string(rcpts), q.Domain, blob, size, now.UnixNano(), now.UnixNano())
	return err
}

// DueQueue returns up to limit entries whose next attempt is at or before
// now, oldest first.
func (s *Store) DueQueue(ctx context.Context, now time.Time, limit int) ([]QueueEntry, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id,sender,rcpts,domain,blob,size,created,next_attempt,attempts,last_error
		FROM queue WHERE next_attempt <= ? ORDER BY next_attempt LIMIT ?`, now.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("due queue: %w", err)
	}
	defer rows.Close()
	var out []QueueEntry
	for rows.Next() {
		var (
			e             QueueEntry
			rcpts         string
			created, next int64
		)
		if err := rows.Scan(&e.ID, &e.Sender, &rcpts, &e.Domain, &e.Blob, &e.Size, &created, &next, &e.Attempts, &e.LastError); err != nil {
			return nil, fmt.Errorf("due queue: %w", err)
		}
		if err := json.Unmarshal([]byte(rcpts), &e.Rcpts); err != nil {
			return nil, fmt.Errorf("due queue: entry %d: %w", e.ID, err)
		}
		e.Created, e.NextAttempt = time.Unix(0, created), time.Unix(0, next)
		out = append(out, e)
	}
	return out, rows.Err()
}

// NextQueueAttempt returns the earliest next-attempt time after after, ok
// false when there is none.
func (s *Store) NextQueueAttempt(ctx context.Context, after time.Time) (time.Time, bool, error) {
	var n sql.NullInt64
	if err := s.rdb.QueryRowContext(ctx, `SELECT min(next_attempt) FROM queue WHERE next_attempt > ?`, after.UnixNano()).Scan(&n); err != nil {
		return time.Time{}, false, fmt.Errorf("next queue attempt: %w", err)
	}
	if !n.Valid {
		return time.Time{}, false, nil
	}
	return time.Unix(0, n.Int64), true, nil
}

// QueueLen returns the number of queue entries.
func (s *Store) QueueLen(ctx context.Context) (int, error) {
	var n int
	err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM queue`).Scan(&n)
	return n, err
}

// OpenQueueBody opens the body file of a queue entry.
func (s *Store) OpenQueueBody(e QueueEntry) (*os.File, error) {
	if !validBlobName(e.Blob) {
		return nil, fmt.Errorf("open queued body: bad blob name %q", e.Blob)
	}
	return os.Open(s.blobs.path(e.Blob))
}

// QueueDone removes a queue entry and its body.
func (s *Store) QueueDone(ctx context.Context, id int64) error {
	var blob string
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		blob, err = deleteQueueTx(ctx, tx, id)
		return err
	}, nil)
	if err != nil {
		return fmt.Errorf("queue done %d: %w", id, err)
	}
	s.blobs.remove(blob)
	return nil
}

func deleteQueueTx(ctx context.Context, tx *sql.Tx, id int64) (string, error) {
	var blob string
	err := tx.QueryRowContext(ctx, `SELECT blob FROM queue WHERE id=?`, id).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM queue WHERE id=?`, id)
	return blob, err
}

// QueueRetry records a failed attempt: the recipients still pending, the
// next attempt time and the error.
func (s *Store) QueueRetry(ctx context.Context, id int64, rcpts []string, next time.Time, lastErr string) error {
	r, err := json.Marshal(rcpts)
	if err != nil {
		return fmt.Errorf("queue retry: %w", err)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE queue SET rcpts=?, next_attempt=?, attempts=attempts+1, last_error=? WHERE id=?`,
			string(r), next.UnixNano(), lastErr, id)
		if err != nil {
			return fmt.Errorf("queue retry %d: %w", id, err)
		}
		return nil
	}, nil)
}
