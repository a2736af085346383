package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
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

// CopyResult describes a COPY or MOVE.
type CopyResult struct {
	UIDValidity uint32
	Source      []imap.UID
	Dest        []imap.UID
}

// Copy copies messages (by UID) from one mailbox to another; with move set
// it also expunges them from the source, in the same transaction.
func (s *Store) Copy(ctx context.Context, srcID, dstID int64, uids []imap.UID, move bool) (CopyResult, error) {
	var res CopyResult
	if len(uids) == 0 {
		return res, nil
	}
	msgs, err := s.messagesByUID(ctx, srcID, uids)
	if err != nil {
		return res, fmt.Errorf("copy: %w", err)
	}
	// Link all bodies first, then fsync each shard directory once.
	names := make([]string, len(msgs))
	dirs := map[string]bool{}
	for i, m := range msgs {
		names[i] = newBlobName()
		if err := s.blobs.ensureShard(names[i]); err != nil {
			return res, fmt.Errorf("copy: %w", err)
		}
		if err := os.Link(s.blobs.path(m.Blob), s.blobs.path(names[i])); err != nil {
			s.removeAll(names[:i])
			return res, fmt.Errorf("copy: link body: %w", err)
		}
		dirs[filepath.Dir(s.blobs.path(names[i]))] = true
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			s.removeAll(names)
			return res, fmt.Errorf("copy: %w", err)
		}
	}
	gone := map[imap.UID]bool{}
	err = s.write(ctx, func(tx *sql.Tx) error {
		dst, err := scanMailbox(tx.QueryRowContext(ctx, `SELECT `+mailboxCols+` FROM mailboxes WHERE id=?`, dstID))
		if err != nil {
			return fmt.Errorf("copy: destination: %w", ErrNoSuchMailbox)
		}
		res.UIDValidity = dst.UIDValidity
		for i, m := range msgs {
			meta := Meta{Envelope: m.Envelope, BodyStructure: m.BodyStructure}
			uid, _, err := insertMessageTx(ctx, tx, dst, names[i], m.Size, meta, m.Flags, m.InternalDate)
			if err != nil {
				return fmt.Errorf("copy: %w", err)
			}
			res.Source = append(res.Source, m.UID)
			res.Dest = append(res.Dest, uid)
		}
		if move {
			for _, m := range msgs {
				if _, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE mailbox_id=? AND uid=?`, srcID, uint32(m.UID)); err != nil {
					return fmt.Errorf("move: %w", err)
				}
				gone[m.UID] = true
			}
			if err := bumpModSeqTx(ctx, tx, srcID); err != nil {
				return fmt.Errorf("move: %w", err)
			}
		}
		return nil
	}, func() {
		if l := s.liveOf(dstID); l != nil {
			for _, u := range res.Dest {
				l.appended(u)
			}
		}
		if l := s.liveOf(srcID); l != nil && len(gone) > 0 {
			l.expunged(gone)
		}
	})
	if err != nil {
		s.removeAll(names)
		return CopyResult{}, err
	}
	if move {
		for _, m := range msgs {
			s.blobs.remove(m.Blob)
		}
	}
	return res, nil
}

func (s *Store) removeAll(names []string) {
	for _, n := range names {
		if n != "" {
			s.blobs.remove(n)
		}
	}
}

func bumpModSeqTx(ctx context.Context, tx *sql.Tx, mailboxID int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE mailboxes SET highestmodseq=highestmodseq+1 WHERE id=?`, mailboxID)
	return err
}

func (s *Store) messagesByUID(ctx context.Context, mailboxID int64, uids []imap.UID) ([]Message, error) {
	lo, hi := uids[0], uids[0]
	want := make(map[imap.UID]bool, len(uids))
	for _, u := range uids {
		lo, hi = min(lo, u), max(hi, u)
		want[u] = true
	}
	all, err := s.Messages(ctx, mailboxID, lo, hi, true)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, m := range all {
		if want[m.UID] {
			out = append(out, m)
		}
	}
	return out, nil
}

// Expunge deletes the given messages of a mailbox that carry \Deleted and
// returns the UIDs removed.
func (s *Store) Expunge(ctx context.Context, mailboxID int64, uids []imap.UID) ([]imap.UID, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	msgs, err := s.messagesByUID(ctx, mailboxID, uids)
	if err != nil {
		return nil, fmt.Errorf("expunge: %w", err)
	}
	gone := map[imap.UID]bool{}
	var removed []imap.UID
	var blobs []string
	err = s.write(ctx, func(tx *sql.Tx) error {
		for _, m := range msgs {
			var flags, blob string
			err := tx.QueryRowContext(ctx, `SELECT flags, blob FROM messages WHERE mailbox_id=? AND uid=?`, mailboxID, uint32(m.UID)).Scan(&flags, &blob)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			} else if err != nil {
				return fmt.Errorf("expunge: %w", err)
			}
			if !ParseFlags(flags).Has(imap.FlagDeleted) {
				continue
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE mailbox_id=? AND uid=?`, mailboxID, uint32(m.UID)); err != nil {
				return fmt.Errorf("expunge: %w", err)
			}
			gone[m.UID] = true
			removed = append(removed, m.UID)
			blobs = append(blobs, blob)
		}
		if len(removed) > 0 {
			return bumpModSeqTx(ctx, tx, mailboxID)
		}
		return nil
	}, func() {
		if l := s.liveOf(mailboxID); l != nil && len(gone) > 0 {
			l.expunged(gone)
		}
	})
	if err != nil {
		return nil, err
	}
	s.removeAll(blobs)
	return removed, nil
}

// FlagUpdate is the new flag set of one message after a STORE.
type FlagUpdate struct {
	UID    imap.UID
	Flags  []imap.Flag
	ModSeq uint64
}

// StoreFlags applies a flag operation to messages (by UID). Each changed
// message gets a new mod-sequence; other sessions (not source) receive a
// FETCH FLAGS update. It returns the flags of every message still present.
func (s *Store) StoreFlags(ctx context.Context, mailboxID int64, uids []imap.UID, op imap.StoreFlagsOp, flags []imap.Flag, source *imapserver.SessionTracker) ([]FlagUpdate, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	var out, changed []FlagUpdate
	err := s.write(ctx, func(tx *sql.Tx) error {
		lo, hi := uids[0], uids[0]
		want := make(map[imap.UID]bool, len(uids))
		for _, u := range uids {
			lo, hi = min(lo, u), max(hi, u)
			want[u] = true
		}
		type row struct {
			uid    imap.UID
			flags  string
			modseq uint64
		}
		var rs []row
		rows, err := tx.QueryContext(ctx, `SELECT uid, flags, modseq FROM messages WHERE mailbox_id=? AND uid BETWEEN ? AND ? ORDER BY uid`, mailboxID, uint32(lo), uint32(hi))
		if err != nil {
			return fmt.Errorf("store flags: %w", err)
		}
		for rows.Next() {
			var r row
			var u uint32
			if err := rows.Scan(&u, &r.flags, &r.modseq); err != nil {
				rows.Close()
				return fmt.Errorf("store flags: %w", err)
			}
			r.uid = imap.UID(u)
			if want[r.uid] {
				rs = append(rs, r)
			}
		}
		rows.Close()
		var modseq uint64
		if err := tx.QueryRowContext(ctx, `SELECT highestmodseq FROM mailboxes WHERE id=?`, mailboxID).Scan(&modseq); err != nil {
			return fmt.Errorf("store flags: %w", err)
		}
		for _, r := range rs {
			fs := ParseFlags(r.flags)
			u := FlagUpdate{UID: r.uid, ModSeq: r.modseq}
			if fs.Apply(op, flags) {
				modseq++
				u.ModSeq = modseq
				if _, err := tx.ExecContext(ctx, `UPDATE messages SET flags=?, modseq=? WHERE mailbox_id=? AND uid=?`, fs.String(), modseq, mailboxID, uint32(r.uid)); err != nil {
					return fmt.Errorf("store flags: %w", err)
				}
				u.Flags = fs.List()
				changed = append(changed, u)
			}
			u.Flags = fs.List()
			out = append(out, u)
		}
		if len(changed) > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET highestmodseq=? WHERE id=?`, modseq, mailboxID); err != nil {
				return fmt.Errorf("store flags: %w", err)
			}
		}
		return nil
	}, func() {
		if l := s.liveOf(mailboxID); l != nil {
			for _, c := range changed {
				l.flagsChanged(c.UID, c.Flags, source)
			}
		}
	})
	return out, err
}

// MailboxKeywords returns the keywords used in a mailbox (for FLAGS and
// PERMANENTFLAGS).
func (s *Store) MailboxKeywords(ctx context.Context, mailboxID int64) ([]imap.Flag, error) {
	l, err := queryStrings(ctx, s.rdb, `SELECT DISTINCT flags FROM messages WHERE mailbox_id=? AND flags != ''`, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("mailbox keywords: %w", err)
	}
	fs := FlagSet{}
	for _, f := range l {
		for _, x := range strings.Fields(f) {
			if !strings.HasPrefix(x, `\`) {
				fs.Add(imap.Flag(x))
			}
		}
	}
	return fs.List(), nil
}
