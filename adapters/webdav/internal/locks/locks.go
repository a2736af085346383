// Package locks manages WebDAV write locks (RFC 4918 sections 6 and 7):
// exclusive and shared locks of depth 0 or infinity, with timeouts, bound
// to the principal that created them, and kept in a Store so that they
// survive a restart.
//
// Resources are named by a volume (one storage tree) and a clean slash
// path inside it ("/", "/a", "/a/b"). A lock covers its root and, at depth
// infinity, every resource below it.
package locks

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Errors returned by Manager methods.
var (
	// ErrConflict: a lock that conflicts with the requested one exists
	// (423 Locked). The error is a *ConflictError.
	ErrConflict = errors.New("locks: conflicting lock")
	// ErrNoSuchLock: the token names no active lock.
	ErrNoSuchLock = errors.New("locks: no such lock")
	// ErrNotInScope: the lock exists but does not cover the request URL.
	ErrNotInScope = errors.New("locks: request URL is outside the lock's scope")
	// ErrForbidden: the lock belongs to another principal.
	ErrForbidden = errors.New("locks: lock belongs to another principal")
)

// ConflictError names the root of a lock that blocks a request.
type ConflictError struct {
	Volume, Root string
}

func (e *ConflictError) Error() string { return "locks: conflicting lock rooted at " + e.Root }

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// Lock is one write lock.
type Lock struct {
	Token     string // "opaquelocktoken:<uuid>", set by Create
	Volume    string
	Root      string
	Infinite  bool          // depth infinity; false means depth 0
	Shared    bool          // shared rather than exclusive
	Owner     []byte        // canonical DAV:owner content, nil if none
	Principal string        // who created it; only they may use the token
	Timeout   time.Duration // granted timeout
	Expires   time.Time
}

// Covers reports whether the lock applies to the resource at path.
func (l *Lock) Covers(path string) bool {
	return l.Root == path || (l.Infinite && IsDescendant(path, l.Root))
}

// IsDescendant reports whether path lies strictly below dir.
func IsDescendant(path, dir string) bool {
	if dir == "/" {
		return path != "/" && strings.HasPrefix(path, "/")
	}
	return len(path) > len(dir) && strings.HasPrefix(path, dir) && path[len(dir)] == '/'
}

// Store persists locks. Methods are called with the manager's mutex held,
// one at a time.
type Store interface {
	// LoadLocks returns every stored lock, expired ones included.
	LoadLocks(ctx context.Context) ([]Lock, error)
	// SaveLock inserts or replaces the lock with l.Token, durably.
	SaveLock(ctx context.Context, l Lock) error
	// DeleteLocks removes the locks with the given tokens.
	DeleteLocks(ctx context.Context, tokens []string) error
}

// Manager holds the active locks. It is safe for concurrent use.
type Manager struct {
	store Store
	now   func() time.Time

	mu struct {
		sync.Mutex
		byToken map[string]*Lock
		// byVolume indexes locks by volume; lock counts per volume are
		// small, so the sets are scanned linearly.
		byVolume map[string]map[*Lock]struct{}
	}
}

// New returns a manager holding the unexpired locks of store. now is the
// clock; nil means time.Now.
func New(ctx context.Context, store Store, now func() time.Time) (*Manager, error) {
	if store == nil {
		return nil, errors.New("locks: nil store")
	}
	if now == nil {
		now = time.Now
	}
	m := &Manager{store: store, now: now}
	m.mu.byToken = map[string]*Lock{}
	m.mu.byVolume = map[string]map[*Lock]struct{}{}
	all, err := store.LoadLocks(ctx)
	if err != nil {
		return nil, fmt.Errorf("locks: load: %w", err)
	}
	var expired []string
	t := now()
	for i := range all {
		l := all[i]
		if !t.Before(l.Expires) {
			expired = append(expired, l.Token)
			continue
		}
		m.addLocked(&l)
	}
	if len(expired) > 0 {
		if err := store.DeleteLocks(ctx, expired); err != nil {
			return nil, fmt.Errorf("locks: drop expired: %w", err)
		}
	}
	return m, nil
}

func (m *Manager) addLocked(l *Lock) {
	m.mu.byToken[l.Token] = l
	set := m.mu.byVolume[l.Volume]
	if set == nil {
		set = map[*Lock]struct{}{}
		m.mu.byVolume[l.Volume] = set
	}
	set[l] = struct{}{}
}

func (m *Manager) removeLocked(l *Lock) {
	delete(m.mu.byToken, l.Token)
	if set := m.mu.byVolume[l.Volume]; set != nil {
		delete(set, l)
		if len(set) == 0 {
			delete(m.mu.byVolume, l.Volume)
		}
	}
}

// purgeLocked drops the expired locks of volume, from memory and store.
func (m *Manager) purgeLocked(ctx context.Context, volume string, now time.Time) error {
	var gone []*Lock
	for l := range m.mu.byVolume[volume] {
		if !now.Before(l.Expires) {
			gone = append(gone, l)
		}
	}
	return m.deleteLocked(ctx, gone)
}

func (m *Manager) deleteLocked(ctx context.Context, gone []*Lock) error {
	if len(gone) == 0 {
		return nil
	}
	tokens := make([]string, len(gone))
	for i, l := range gone {
		tokens[i] = l.Token
	}
	if err := m.store.DeleteLocks(ctx, tokens); err != nil {
		return fmt.Errorf("locks: delete: %w", err)
	}
	for _, l := range gone {
		m.removeLocked(l)
	}
	return nil
}

// Create grants a new lock described by l (Token and Expires are set
// here). It fails with a *ConflictError if an overlapping lock exists
// and either of the two is exclusive.
func (m *Manager) Create(ctx context.Context, l Lock) (Lock, error) {
	tok, err := newToken()
	if err != nil {
		return Lock{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if err := m.purgeLocked(ctx, l.Volume, now); err != nil {
		return Lock{}, err
	}
	for o := range m.mu.byVolume[l.Volume] {
		overlap := o.Covers(l.Root) || (l.Infinite && IsDescendant(o.Root, l.Root))
		if overlap && (!o.Shared || !l.Shared) {
			return Lock{}, &ConflictError{Volume: o.Volume, Root: o.Root}
		}
	}
	l.Token = tok
	l.Expires = now.Add(l.Timeout)
	if err := m.store.SaveLock(ctx, l); err != nil {
		return Lock{}, fmt.Errorf("locks: save: %w", err)
	}
	stored := l
	m.addLocked(&stored)
	return l, nil
}

// Refresh restarts the timeout of the lock with token, asked for through
// the resource at path, which the lock must cover.
func (m *Manager) Refresh(ctx context.Context, token, volume, path, principal string, timeout time.Duration) (Lock, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.findLocked(token, volume, path, principal)
	if err != nil {
		return Lock{}, err
	}
	next := *l
	next.Timeout = timeout
	next.Expires = m.now().Add(timeout)
	if err := m.store.SaveLock(ctx, next); err != nil {
		return Lock{}, fmt.Errorf("locks: save: %w", err)
	}
	*l = next
	return next, nil
}

// Unlock removes the lock with token, asked for through the resource at
// path, which the lock must cover.
func (m *Manager) Unlock(ctx context.Context, token, volume, path, principal string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, err := m.findLocked(token, volume, path, principal)
	if err != nil {
		return err
	}
	return m.deleteLocked(ctx, []*Lock{l})
}

func (m *Manager) findLocked(token, volume, path, principal string) (*Lock, error) {
	l, ok := m.mu.byToken[token]
	if !ok || !m.now().Before(l.Expires) {
		return nil, ErrNoSuchLock
	}
	if l.Volume != volume || !l.Covers(path) {
		return nil, ErrNotInScope
	}
	if l.Principal != principal {
		return nil, ErrForbidden
	}
	return l, nil
}

// Lookup returns the active lock with token.
func (m *Manager) Lookup(token string) (Lock, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.mu.byToken[token]
	if !ok || !m.now().Before(l.Expires) {
		return Lock{}, false
	}
	return *l, true
}

// Active reports whether volume has any lock at all; callers use it to
// skip per-resource lookups.
func (m *Manager) Active(volume string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.mu.byVolume[volume]) > 0
}

// Covering returns the active locks that cover the resource at path.
func (m *Manager) Covering(volume, path string) []Lock {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var out []Lock
	for l := range m.mu.byVolume[volume] {
		if now.Before(l.Expires) && l.Covers(path) {
			out = append(out, *l)
		}
	}
	return out
}

// Check reports whether a principal that submitted tokens may modify the
// resource at path (and, with subtree, everything below it). It returns
// nil when allowed, or a lock that blocks the request (423 Locked).
//
// A locked resource may be modified when at least one of the locks
// covering it was submitted by its own principal: for an exclusive lock
// that is the lock itself, for shared locks any one of them.
func (m *Manager) Check(volume, path string, subtree bool, tokens []string, principal string) *Lock {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.mu.byVolume[volume]
	if len(set) == 0 {
		return nil
	}
	now := m.now()
	held := func(l *Lock) bool {
		if l.Principal != principal {
			return false
		}
		for _, t := range tokens {
			if t == l.Token {
				return true
			}
		}
		return false
	}
	roots := []string{path}
	if subtree {
		for l := range set {
			if now.Before(l.Expires) && IsDescendant(l.Root, path) {
				roots = append(roots, l.Root)
			}
		}
	}
	for _, r := range roots {
		var blocker *Lock
		ok := true
		for l := range set {
			if !now.Before(l.Expires) || !l.Covers(r) {
				continue
			}
			if held(l) {
				ok = true
				break
			}
			ok, blocker = false, l
		}
		if !ok {
			c := *blocker
			return &c
		}
	}
	return nil
}

// RemoveSubtree drops every lock rooted at path or below it, as after the
// resource was deleted or moved away.
func (m *Manager) RemoveSubtree(ctx context.Context, volume, path string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var gone []*Lock
	for l := range m.mu.byVolume[volume] {
		if l.Root == path || IsDescendant(l.Root, path) {
			gone = append(gone, l)
		}
	}
	return m.deleteLocked(ctx, gone)
}

// newToken returns a fresh lock token with a random (version 4) UUID.
func newToken() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", fmt.Errorf("locks: token: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("opaquelocktoken:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]), nil
}
