package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Delim is the mailbox hierarchy delimiter.
const Delim = '/'

// Mailbox is one folder of a user.
type Mailbox struct {
	ID            int64
	UserID        int64
	Name          string
	SpecialUse    string // e.g. `\Sent`; empty for none
	Subscribed    bool
	UIDValidity   uint32
	UIDNext       uint32
	HighestModSeq uint64
}

// Status holds the counters of a mailbox.
type Status struct {
	Messages uint32
	Unseen   uint32
	Deleted  uint32
	Size     int64
}

// NormalizeName makes INBOX (and its children) case-insensitive and
// rejects names the hierarchy cannot hold.
func NormalizeName(name string) (string, error) {
	name = strings.TrimSuffix(name, string(Delim))
	if name == "" {
		return "", errors.New("empty mailbox name")
	}
	if len(name) > 512 {
		return "", errors.New("mailbox name too long")
	}
	head, rest, hasRest := strings.Cut(name, string(Delim))
	if strings.EqualFold(head, "INBOX") {
		name = "INBOX"
		if hasRest {
			name += string(Delim) + rest
		}
	}
	for _, part := range strings.Split(name, string(Delim)) {
		if part == "" {
			return "", fmt.Errorf("mailbox name %q has an empty level", name)
		}
	}
	if strings.ContainsAny(name, "*%\r\n\x00") {
		return "", fmt.Errorf("mailbox name %q contains a wildcard or control character", name)
	}
	return name, nil
}

const mailboxCols = `id, user_id, name, special_use, subscribed, uidvalidity, uidnext, highestmodseq`

func scanMailbox(row interface{ Scan(...any) error }) (Mailbox, error) {
	var m Mailbox
	err := row.Scan(&m.ID, &m.UserID, &m.Name, &m.SpecialUse, &m.Subscribed, &m.UIDValidity, &m.UIDNext, &m.HighestModSeq)
	return m, err
}

// GetMailbox returns the mailbox name of user, or ErrNoSuchMailbox.
func (s *Store) GetMailbox(ctx context.Context, userID int64, name string) (Mailbox, error) {
	n, err := NormalizeName(name)
	if err != nil {
		return Mailbox{}, fmt.Errorf("mailbox %q: %w", name, ErrNoSuchMailbox)
	}
	m, err := scanMailbox(s.rdb.QueryRowContext(ctx, `SELECT `+mailboxCols+` FROM mailboxes WHERE user_id=? AND name=?`, userID, n))
	if errors.Is(err, sql.ErrNoRows) {
		return Mailbox{}, fmt.Errorf("mailbox %q: %w", name, ErrNoSuchMailbox)
	}
	if err != nil {
		return Mailbox{}, fmt.Errorf("mailbox %q: %w", name, err)
	}
	return m, nil
}

func getMailboxTx(ctx context.Context, tx *sql.Tx, userID int64, name string) (Mailbox, error) {
	m, err := scanMailbox(tx.QueryRowContext(ctx, `SELECT `+mailboxCols+` FROM mailboxes WHERE user_id=? AND name=?`, userID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Mailbox{}, fmt.Errorf("mailbox %q: %w", name, ErrNoSuchMailbox)
	}
	return m, err
}

// ListMailboxes returns all mailboxes of a user sorted by name.
func (s *Store) ListMailboxes(ctx context.Context, userID int64) ([]Mailbox, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+mailboxCols+` FROM mailboxes WHERE user_id=? ORDER BY name`, userID)
	if err != nil {
		return nil, fmt.Errorf("list mailboxes: %w", err)
	}
	defer rows.Close()
	var out []Mailbox
	for rows.Next() {
		m, err := scanMailbox(rows)
		if err != nil {
			return nil, fmt.Errorf("list mailboxes: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func createMailboxTx(ctx context.Context, tx *sql.Tx, userID int64, name, specialUse string) error {
	v, err := nextUIDValidity(ctx, tx)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO mailboxes(user_id,name,special_use,uidvalidity) VALUES(?,?,?,?)`, userID, name, specialUse, v)
	if err != nil {
		return fmt.Errorf("create mailbox %q: %w", name, err)
	}
	return nil
}

// CreateMailbox creates a mailbox and any missing parents.
func (s *Store) CreateMailbox(ctx context.Context, userID int64, name, specialUse string) error {
	n, err := NormalizeName(name)
	if err != nil {
		return fmt.Errorf("create mailbox: %w", err)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := getMailboxTx(ctx, tx, userID, n); err == nil {
			return fmt.Errorf("create mailbox %q: %w", n, ErrMailboxExists)
		}
		parts := strings.Split(n, string(Delim))
		for i := 1; i < len(parts); i++ {
			parent := strings.Join(parts[:i], string(Delim))
			if _, err := getMailboxTx(ctx, tx, userID, parent); errors.Is(err, ErrNoSuchMailbox) {
				if err := createMailboxTx(ctx, tx, userID, parent, ""); err != nil {
					return err
				}
			}
		}
		return createMailboxTx(ctx, tx, userID, n, specialUse)
	}, nil)
}

// ErrHasChildren is returned when deleting a mailbox that has children.
var ErrHasChildren = errors.New("mailbox has children")

// ErrInbox is returned for operations INBOX does not allow.
var ErrInbox = errors.New("INBOX cannot be deleted or renamed")

// DeleteMailbox deletes a mailbox and its messages.
func (s *Store) DeleteMailbox(ctx context.Context, userID int64, name string) error {
	n, err := NormalizeName(name)
	if err != nil {
		return fmt.Errorf("delete mailbox: %w", ErrNoSuchMailbox)
	}
	if n == "INBOX" {
		return fmt.Errorf("delete mailbox: %w", ErrInbox)
	}
	var (
		blobs []string
		id    int64
	)
	err = s.write(ctx, func(tx *sql.Tx) error {
		m, err := getMailboxTx(ctx, tx, userID, n)
		if err != nil {
			return fmt.Errorf("delete mailbox: %w", err)
		}
		id = m.ID
		var kids int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM mailboxes WHERE user_id=? AND substr(name,1,?)=?`,
			userID, len(n)+1, n+string(Delim)).Scan(&kids); err != nil {
			return fmt.Errorf("delete mailbox: %w", err)
		}
		if kids > 0 {
			return fmt.Errorf("delete mailbox %q: %w", n, ErrHasChildren)
		}
		if blobs, err = queryStrings(ctx, tx, `SELECT blob FROM messages WHERE mailbox_id=?`, m.ID); err != nil {
			return fmt.Errorf("delete mailbox: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM mailboxes WHERE id=?`, m.ID); err != nil {
			return fmt.Errorf("delete mailbox: %w", err)
		}
		return nil
	}, func() { s.dropLive(id) })
	if err != nil {
		return err
	}
	for _, b := range blobs {
		s.blobs.remove(b)
	}
	return nil
}

// RenameMailbox renames a mailbox and its children. UIDVALIDITY and UIDs
// are kept (the messages do not change).
func (s *Store) RenameMailbox(ctx context.Context, userID int64, oldName, newName string) error {
	from, err := NormalizeName(oldName)
	if err != nil {
		return fmt.Errorf("rename mailbox: %w", ErrNoSuchMailbox)
	}
	to, err := NormalizeName(newName)
	if err != nil {
		return fmt.Errorf("rename mailbox: %w", err)
	}
	if from == "INBOX" {
		return fmt.Errorf("rename mailbox: %w", ErrInbox)
	}
	if to == from || strings.HasPrefix(to, from+string(Delim)) {
		return fmt.Errorf("rename mailbox %q to %q: cannot rename a mailbox into itself", from, to)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := getMailboxTx(ctx, tx, userID, from); err != nil {
			return fmt.Errorf("rename mailbox: %w", err)
		}
		if _, err := getMailboxTx(ctx, tx, userID, to); err == nil {
			return fmt.Errorf("rename mailbox to %q: %w", to, ErrMailboxExists)
		}
		parts := strings.Split(to, string(Delim))
		for i := 1; i < len(parts); i++ {
			parent := strings.Join(parts[:i], string(Delim))
			if _, err := getMailboxTx(ctx, tx, userID, parent); errors.Is(err, ErrNoSuchMailbox) {
				if err := createMailboxTx(ctx, tx, userID, parent, ""); err != nil {
					return err
				}
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE mailboxes SET name = ? || substr(name, ?) WHERE user_id=? AND (name=? OR substr(name,1,?)=?)`,
			to, len(from)+1, userID, from, len(from)+1, from+string(Delim))
		if err != nil {
			return fmt.Errorf("rename mailbox: %w", err)
		}
		return nil
	}, nil)
}

// SetSubscribed changes the subscription of a mailbox.
func (s *Store) SetSubscribed(ctx context.Context, userID int64, name string, sub bool) error {
	n, err := NormalizeName(name)
	if err != nil {
		return fmt.Errorf("subscribe: %w", ErrNoSuchMailbox)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE mailboxes SET subscribed=? WHERE user_id=? AND name=?`, sub, userID, n)
		if err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return fmt.Errorf("subscribe %q: %w", n, ErrNoSuchMailbox)
		}
		return nil
	}, nil)
}

// MailboxStatus counts the messages of a mailbox.
func (s *Store) MailboxStatus(ctx context.Context, mailboxID int64) (Status, error) {
	var st Status
	err := s.rdb.QueryRowContext(ctx, `SELECT count(*),
		coalesce(sum(CASE WHEN instr(' '||flags||' ', ' \Seen ')=0 THEN 1 ELSE 0 END),0),
		coalesce(sum(CASE WHEN instr(' '||flags||' ', ' \Deleted ')>0 THEN 1 ELSE 0 END),0),
		coalesce(sum(size),0) FROM messages WHERE mailbox_id=?`, mailboxID).Scan(&st.Messages, &st.Unseen, &st.Deleted, &st.Size)
	if err != nil {
		return Status{}, fmt.Errorf("mailbox status: %w", err)
	}
	return st, nil
}
