package passwd

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"
)

// CacheOptions configure a Cache. The zero value gives the defaults.
type CacheOptions struct {
	// TTL is how long a successful verification is remembered
	// (default 5 minutes).
	TTL time.Duration
	// MaxConcurrent bounds the argon2 computations running at once
	// across all users (default 2, so Default costs at most 38 MiB).
	MaxConcurrent int
	// Now returns the current time (default time.Now); tests move it.
	Now func() time.Time
}

// Default cache settings.
const (
	DefaultTTL           = 5 * time.Minute
	DefaultMaxConcurrent = 2
	maxEntries           = 1024
)

// Cache verifies passwords and remembers recent successes, so that a
// client that sends its password with every request or opens many
// connections at once (DAV clients, Thunderbird) pays argon2id once per
// TTL rather than per request.
//
// An entry belongs to a user and the stored hash the password matched: a
// new hash (passwd, a re-created account) misses at once. It holds an
// HMAC of the password under a per-process random key, never the
// password. Verifications for one user run one at a time, so a burst of
// connections computes argon2 once and the rest find the entry; across
// users at most MaxConcurrent computations run, so a login storm queues
// instead of exhausting memory. It is safe for concurrent use.
type Cache struct {
	ttl   time.Duration
	now   func() time.Time
	key   [32]byte
	slots chan struct{} // one token per running argon2 computation

	// verify is Verify; tests replace it to count and block calls.
	verify func(hash, password string) (bool, error)

	mu struct {
		sync.Mutex
		entries map[string]entry     // user -> last success
		users   map[string]*userLock // user -> verification in progress
	}
}

type entry struct {
	hash    string   // stored hash the password matched
	mac     [32]byte // HMAC-SHA256 of the password under Cache.key
	expires time.Time
}

// userLock serialises verifications for one user; refs counts holders
// and waiters so the lock is dropped from the map when idle.
type userLock struct {
	ch   chan struct{}
	refs int
}

// NewCache returns an empty Cache.
func NewCache(o CacheOptions) *Cache {
	c := &Cache{ttl: o.TTL, now: o.Now, verify: Verify}
	if c.ttl <= 0 {
		c.ttl = DefaultTTL
	}
	if c.now == nil {
		c.now = time.Now
	}
	n := o.MaxConcurrent
	if n <= 0 {
		n = DefaultMaxConcurrent
	}
	c.slots = make(chan struct{}, n)
	rand.Read(c.key[:]) // never fails (crypto/rand since Go 1.24)
	c.mu.entries = make(map[string]entry)
	c.mu.users = make(map[string]*userLock)
	return c
}

// Verify reports whether password matches hash, the stored hash of user.
// It answers from the cache when it can; otherwise it waits for its turn
// (per user, then for a computation slot) and runs Verify. Only ctx
// ending or a malformed hash is an error.
func (c *Cache) Verify(ctx context.Context, user, hash, password string) (bool, error) {
	mac := c.mac(password)
	if c.hit(user, hash, mac) {
		return true, nil
	}
	unlock, err := c.lockUser(ctx, user)
	if err != nil {
		return false, err
	}
	defer unlock()
	// Another caller may have verified the same password meanwhile.
	if c.hit(user, hash, mac) {
		return true, nil
	}
	var ok bool
	err = c.compute(ctx, func() (err error) {
		ok, err = c.verify(hash, password)
		return err
	})
	if err != nil || !ok {
		return false, err
	}
	c.add(user, hash, mac)
	return true, nil
}

// Cached reports whether Verify would answer true from the cache alone,
// without argon2. Callers that rate-limit failed logins check it first,
// so a locked-out name still serves the client that knows the password.
func (c *Cache) Cached(user, hash, password string) bool {
	return c.hit(user, hash, c.mac(password))
}

// Reject spends one Default verification on password, under the same
// concurrency bound, and returns. Call it for a login to an account that
// does not exist, so the reply time does not tell which accounts do. The
// error is ctx's.
func (c *Cache) Reject(ctx context.Context, password string) error {
	return c.compute(ctx, func() error {
		_, err := c.verify(dummyHash(), password)
		return err
	})
}

// dummyHash is a valid Default hash of a password nobody knows.
var dummyHash = sync.OnceValue(func() string {
	var pw [16]byte
	rand.Read(pw[:])
	h, err := Hash(fmt.Sprintf("%x", pw))
	if err != nil {
		panic(err) // Default is valid and the password non-empty
	}
	return h
})

// compute runs fn, which runs argon2, once a slot is free.
func (c *Cache) compute(ctx context.Context, fn func() error) error {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("verify password: %w", ctx.Err())
	}
	defer func() { <-c.slots }()
	return fn()
}

func (c *Cache) mac(password string) [32]byte {
	m := hmac.New(sha256.New, c.key[:])
	m.Write([]byte(password))
	var out [32]byte
	m.Sum(out[:0])
	return out
}

func (c *Cache) hit(user, hash string, mac [32]byte) bool {
	c.mu.Lock()
	e, ok := c.mu.entries[user]
	c.mu.Unlock()
	return ok && e.hash == hash && c.now().Before(e.expires) && hmac.Equal(e.mac[:], mac[:])
}

func (c *Cache) add(user, hash string, mac [32]byte) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.mu.entries[user]; !ok && len(c.mu.entries) >= maxEntries {
		c.evictLocked(now)
	}
	c.mu.entries[user] = entry{hash: hash, mac: mac, expires: now.Add(c.ttl)}
}

// evictLocked drops expired entries, or one arbitrary entry if none has
// expired. Entries are only added after a successful verification, so
// the bound is reached only by a node with that many active accounts.
func (c *Cache) evictLocked(now time.Time) {
	n := len(c.mu.entries)
	for u, e := range c.mu.entries {
		if !now.Before(e.expires) {
			delete(c.mu.entries, u)
		}
	}
	if len(c.mu.entries) < n {
		return
	}
	for u := range c.mu.entries {
		delete(c.mu.entries, u)
		return
	}
}

// lockUser waits until no other verification for user runs.
func (c *Cache) lockUser(ctx context.Context, user string) (unlock func(), err error) {
	c.mu.Lock()
	l := c.mu.users[user]
	if l == nil {
		l = &userLock{ch: make(chan struct{}, 1)}
		c.mu.users[user] = l
	}
	l.refs++
	c.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; c.releaseUser(user, l) }, nil
	case <-ctx.Done():
		c.releaseUser(user, l)
		return nil, fmt.Errorf("verify password: %w", ctx.Err())
	}
}

func (c *Cache) releaseUser(user string, l *userLock) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.refs--; l.refs == 0 {
		delete(c.mu.users, user)
	}
}
