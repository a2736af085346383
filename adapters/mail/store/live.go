package store

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// Live is the in-memory state of a mailbox that IMAP sessions have
// selected: its sorted UID list (the server's view of sequence numbers) and
// the go-imap tracker that fans updates out to sessions. The store updates
// both right after each commit, under mu, in commit order.
type Live struct {
	mu      sync.Mutex
	uids    []imap.UID
	tracker *imapserver.MailboxTracker
}

// OpenLive returns the live state of a mailbox, loading it on first use.
func (s *Store) OpenLive(ctx context.Context, mailboxID int64) (*Live, error) {
	s.live.Lock()
	l := s.live.m[mailboxID]
	s.live.Unlock()
	if l != nil {
		return l, nil
	}
	// Load under the write lock so no commit slips between the query and
	// the registration.
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.live.Lock()
	l = s.live.m[mailboxID]
	s.live.Unlock()
	if l != nil {
		return l, nil
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT uid FROM messages WHERE mailbox_id=? ORDER BY uid`, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("load mailbox: %w", err)
	}
	defer rows.Close()
	var uids []imap.UID
	for rows.Next() {
		var u uint32
		if err := rows.Scan(&u); err != nil {
			return nil, fmt.Errorf("load mailbox: %w", err)
		}
		uids = append(uids, imap.UID(u))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load mailbox: %w", err)
	}
	l = &Live{uids: uids, tracker: imapserver.NewMailboxTracker(uint32(len(uids)))}
	s.live.Lock()
	s.live.m[mailboxID] = l
	s.live.Unlock()
	return l, nil
}

func (s *Store) liveOf(mailboxID int64) *Live {
	s.live.Lock()
	defer s.live.Unlock()
	return s.live.m[mailboxID]
}

func (s *Store) dropLive(mailboxID int64) {
	s.live.Lock()
	delete(s.live.m, mailboxID)
	s.live.Unlock()
}

// NewSession registers an IMAP session on the mailbox and returns its
// tracker and the number of messages the session starts with.
func (l *Live) NewSession() (*imapserver.SessionTracker, uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tracker.NewSession(), uint32(len(l.uids))
}

// View runs fn with the current UID list (index i is sequence number i+1
// in the server's view). fn must not keep uids or call back into the store.
func (l *Live) View(fn func(uids []imap.UID)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fn(l.uids)
}

func (l *Live) appended(uid imap.UID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.uids = append(l.uids, uid)
	l.tracker.QueueNumMessages(uint32(len(l.uids)))
}

func (l *Live) expunged(gone map[imap.UID]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	kept := l.uids[:0]
	removed := 0
	for i, u := range l.uids {
		if gone[u] {
			// Sequence numbers shift as earlier messages go.
			l.tracker.QueueExpunge(uint32(i + 1 - removed))
			removed++
			continue
		}
		kept = append(kept, u)
	}
	l.uids = kept
}

func (l *Live) flagsChanged(uid imap.UID, flags []imap.Flag, source *imapserver.SessionTracker) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := sort.Search(len(l.uids), func(i int) bool { return l.uids[i] >= uid })
	if i < len(l.uids) && l.uids[i] == uid {
		l.tracker.QueueMessageFlags(uint32(i+1), uid, flags, source)
	}
}
