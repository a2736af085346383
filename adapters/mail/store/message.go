package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Message is one index row.
type Message struct {
	UID           imap.UID
	ModSeq        uint64
	Flags         FlagSet
	InternalDate  time.Time
	Size          int64
	Blob          string
	Envelope      []byte
	BodyStructure []byte
}

// OpenBody opens the body file of a message.
func (s *Store) OpenBody(m *Message) (*os.File, error) {
	if !validBlobName(m.Blob) {
		return nil, fmt.Errorf("open body: bad blob name %q", m.Blob)
	}
	f, err := os.Open(s.blobs.path(m.Blob))
	if err != nil {
		return nil, fmt.Errorf("open body: %w", err)
	}
	return f, nil
}

// WriteBlob stores a message body durably and returns it, not yet
// referenced by the index. limit <= 0 means no size limit.
func (s *Store) WriteBlob(r io.Reader, limit int64) (*Blob, error) {
	return s.blobs.write(r, limit)
}

// Messages returns the rows of a mailbox with lo <= uid <= hi, sorted by
// UID. withMeta also loads the cached envelope and body structure.
func (s *Store) Messages(ctx context.Context, mailboxID int64, lo, hi imap.UID, withMeta bool) ([]Message, error) {
	cols := `uid, modseq, flags, internal_date, size, blob`
	if withMeta {
		cols += `, envelope, bodystructure`
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+cols+` FROM messages WHERE mailbox_id=? AND uid BETWEEN ? AND ? ORDER BY uid`,
		mailboxID, uint32(lo), uint32(hi))
	if err != nil {
		return nil, fmt.Errorf("query messages: %w", err)
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		var (
			m     Message
			uid   uint32
			flags string
			date  int64
		)
		dst := []any{&uid, &m.ModSeq, &flags, &date, &m.Size, &m.Blob}
		if withMeta {
			dst = append(dst, &m.Envelope, &m.BodyStructure)
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("query messages: %w", err)
		}
		m.UID = imap.UID(uid)
		m.Flags = ParseFlags(flags)
		m.InternalDate = time.Unix(0, date)
		out = append(out, m)
	}
	return out, rows.Err()
}

// Delivery is a received message committed in one transaction: a copy in
// the INBOX of each local user and one queue entry per remote domain.
type Delivery struct {
	Blob  *Blob
	Meta  Meta
	Date  time.Time
	Users []int64
	Queue []QueueItem
	// DoneQueue lists queue entries to remove in the same transaction
	// (a bounce replaces the entry it reports on).
	DoneQueue []int64
}

// QueueItem is the part of a delivery bound for one remote domain.
type QueueItem struct {
	Sender string
	Rcpts  []string
	Domain string
}

// Deliver commits d durably. The blob must have been written by this store;
// it is consumed (referenced or removed).
func (s *Store) Deliver(ctx context.Context, d Delivery) error {
	type added struct {
		mbox int64
		uid  imap.UID
	}
	var adds []added
	var names, doneBlobs []string
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, uid := range d.Users {
			mb, err := inboxTx(ctx, tx, uid)
			if err != nil {
				return fmt.Errorf("deliver: %w", err)
			}
			name, err := d.Blob.ref()
			if err != nil {
				return fmt.Errorf("deliver: %w", err)
			}
			names = append(names, name)
			u, _, err := insertMessageTx(ctx, tx, mb, name, d.Blob.Size, d.Meta, nil, d.Date)
			if err != nil {
				return fmt.Errorf("deliver: %w", err)
			}
			adds = append(adds, added{mb.ID, u})
		}
		for _, q := range d.Queue {
			name, err := d.Blob.ref()
			if err != nil {
				return fmt.Errorf("deliver: %w", err)
			}
			names = append(names, name)
			if err := insertQueueTx(ctx, tx, q, name, d.Blob.Size, d.Date); err != nil {
				return fmt.Errorf("deliver: %w", err)
			}
		}
		for _, id := range d.DoneQueue {
			b, err := deleteQueueTx(ctx, tx, id)
			if err != nil {
				return fmt.Errorf("deliver: %w", err)
			}
			doneBlobs = append(doneBlobs, b)
		}
		return nil
	}, func() {
		for _, a := range adds {
			if l := s.liveOf(a.mbox); l != nil {
				l.appended(a.uid)
			}
		}
	})
	if err != nil {
		for _, n := range names {
			if n != d.Blob.Name {
				s.blobs.remove(n)
			}
		}
		d.Blob.used = false
		d.Blob.Discard()
		return err
	}
	if !d.Blob.used {
		d.Blob.Discard()
	}
	s.removeAll(doneBlobs)
	return nil
}

func inboxTx(ctx context.Context, tx *sql.Tx, userID int64) (Mailbox, error) {
	return getMailboxTx(ctx, tx, userID, "INBOX")
}

func insertMessageTx(ctx context.Context, tx *sql.Tx, mb Mailbox, blob string, size int64, meta Meta, flags FlagSet, date time.Time) (imap.UID, uint64, error) {
	// Re-read the counters inside the transaction: mb may be stale.
	var uidNext uint32
	var modseq uint64
	if err := tx.QueryRowContext(ctx, `SELECT uidnext, highestmodseq FROM mailboxes WHERE id=?`, mb.ID).Scan(&uidNext, &modseq); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, 0, ErrNoSuchMailbox
		}
		return 0, 0, err
	}
	modseq++
	if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET uidnext=?, highestmodseq=? WHERE id=?`, uidNext+1, modseq, mb.ID); err != nil {
		return 0, 0, err
	}
	if flags == nil {
		flags = FlagSet{}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO messages(mailbox_id,uid,modseq,flags,internal_date,size,envelope,bodystructure,blob)
		VALUES(?,?,?,?,?,?,?,?,?)`, mb.ID, uidNext, modseq, flags.String(), date.UnixNano(), size, meta.Envelope, meta.BodyStructure, blob)
	if err != nil {
		return 0, 0, err
	}
	return imap.UID(uidNext), modseq, nil
}

// Append commits a message into a mailbox durably and returns the
// mailbox's UIDVALIDITY and the new UID.
func (s *Store) Append(ctx context.Context, mailboxID int64, b *Blob, meta Meta, flags []imap.Flag, date time.Time) (uint32, imap.UID, error) {
	fs := FlagSet{}
	for _, f := range flags {
		fs.Add(f)
	}
	var (
		uid imap.UID
		mb  Mailbox
	)
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		mb, err = scanMailbox(tx.QueryRowContext(ctx, `SELECT `+mailboxCols+` FROM mailboxes WHERE id=?`, mailboxID))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("append: %w", ErrNoSuchMailbox)
		} else if err != nil {
			return fmt.Errorf("append: %w", err)
		}
		name, err := b.ref()
		if err != nil {
			return fmt.Errorf("append: %w", err)
		}
		uid, _, err = insertMessageTx(ctx, tx, mb, name, b.Size, meta, fs, date)
		if err != nil {
			return fmt.Errorf("append: %w", err)
		}
		return nil
	}, func() {
		if l := s.liveOf(mailboxID); l != nil {
			l.appended(uid)
		}
	})
	if err != nil {
		b.used = false
		b.Discard()
		return 0, 0, err
	}
	return mb.UIDValidity, uid, nil
}
