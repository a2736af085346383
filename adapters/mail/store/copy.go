package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/emersion/go-imap/v2"
)

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
	names, err := s.linkBodies(msgs)
	if err != nil {
		return res, fmt.Errorf("copy: %w", err)
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

// linkBodies makes a new durable hard link for each message's body: all
// links first, then one fsync per shard directory.
func (s *Store) linkBodies(msgs []Message) ([]string, error) {
	names := make([]string, len(msgs))
	dirs := map[string]bool{}
	for i, m := range msgs {
		names[i] = newBlobName()
		if err := s.blobs.ensureShard(names[i]); err != nil {
			s.removeAll(names[:i])
			return nil, err
		}
		if err := os.Link(s.blobs.path(m.Blob), s.blobs.path(names[i])); err != nil {
			s.removeAll(names[:i])
			return nil, fmt.Errorf("link body: %w", err)
		}
		dirs[filepath.Dir(s.blobs.path(names[i]))] = true
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			s.removeAll(names)
			return nil, err
		}
	}
	return names, nil
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
