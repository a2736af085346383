package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

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
		rs, err := flagRowsTx(ctx, tx, mailboxID, uids)
		if err != nil {
			return fmt.Errorf("store flags: %w", err)
		}
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
		if len(changed) == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET highestmodseq=? WHERE id=?`, modseq, mailboxID); err != nil {
			return fmt.Errorf("store flags: %w", err)
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

type flagRow struct {
	uid    imap.UID
	flags  string
	modseq uint64
}

// flagRowsTx reads the flags and mod-sequences of the given messages.
func flagRowsTx(ctx context.Context, tx *sql.Tx, mailboxID int64, uids []imap.UID) ([]flagRow, error) {
	lo, hi := uids[0], uids[0]
	want := make(map[imap.UID]bool, len(uids))
	for _, u := range uids {
		lo, hi = min(lo, u), max(hi, u)
		want[u] = true
	}
	rows, err := tx.QueryContext(ctx, `SELECT uid, flags, modseq FROM messages WHERE mailbox_id=? AND uid BETWEEN ? AND ? ORDER BY uid`, mailboxID, uint32(lo), uint32(hi))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var rs []flagRow
	for rows.Next() {
		var r flagRow
		var u uint32
		if err := rows.Scan(&u, &r.flags, &r.modseq); err != nil {
			return nil, err
		}
		r.uid = imap.UID(u)
		if want[r.uid] {
			rs = append(rs, r)
		}
	}
	return rs, rows.Err()
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
