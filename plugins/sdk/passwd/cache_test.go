package passwd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingVerify wraps Verify, counting the argon2 runs a Cache asks for.
type countingVerify struct{ calls atomic.Int32 }

func (v *countingVerify) verify(hash, password string) (bool, error) {
	v.calls.Add(1)
	return Verify(hash, password)
}

func newCountingCache(o CacheOptions) (*Cache, *countingVerify) {
	c := NewCache(o)
	v := &countingVerify{}
	c.verify = v.verify
	return c, v
}

func mustHash(t testing.TB, pw string) string {
	t.Helper()
	h, err := HashWith(fast, pw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestCacheVerify(t *testing.T) {
	ctx := t.Context()
	c, v := newCountingCache(CacheOptions{})
	h1, h2 := mustHash(t, "correct horse"), mustHash(t, "battery staple")
	for i, tc := range []struct {
		user, hash, pw string
		want           bool
		runs           int32 // argon2 runs so far
	}{
		{"alice", h1, "correct horse", true, 1},
		{"alice", h1, "correct horse", true, 1}, // cached
		{"alice", h1, "wrong horse", false, 2},
		{"alice", h1, "correct horse", true, 2},  // a failure does not evict
		{"bob", h1, "correct horse", true, 3},    // entries are per user
		{"alice", h2, "correct horse", false, 4}, // passwd: the new hash misses
		{"alice", h2, "battery staple", true, 5},
		{"alice", h2, "battery staple", true, 5},
		{"alice", h1, "correct horse", true, 6}, // h1 was replaced by h2
	} {
		ok, err := c.Verify(ctx, tc.user, tc.hash, tc.pw)
		if ok != tc.want || err != nil {
			t.Errorf("%d: Verify(%s, %s) = %v, %v; want %v", i, tc.user, tc.pw, ok, err, tc.want)
		}
		if n := v.calls.Load(); n != tc.runs {
			t.Errorf("%d: %d argon2 runs, want %d", i, n, tc.runs)
		}
	}
}

func TestCacheCached(t *testing.T) {
	c := NewCache(CacheOptions{})
	h := mustHash(t, "correct horse")
	if c.Cached("alice", h, "correct horse") {
		t.Error("Cached before any Verify")
	}
	if ok, err := c.Verify(t.Context(), "alice", h, "correct horse"); !ok || err != nil {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
	for _, tc := range []struct {
		user, hash, pw string
		want           bool
	}{
		{"alice", h, "correct horse", true},
		{"alice", h, "correct horsE", false},
		{"alice", mustHash(t, "correct horse"), "correct horse", false},
		{"bob", h, "correct horse", false},
	} {
		if got := c.Cached(tc.user, tc.hash, tc.pw); got != tc.want {
			t.Errorf("Cached(%s, %s) = %v, want %v", tc.user, tc.pw, got, tc.want)
		}
	}
}

func TestCacheTTL(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c, v := newCountingCache(CacheOptions{TTL: time.Minute, Now: func() time.Time { return now }})
	h := mustHash(t, "correct horse")
	for _, step := range []struct {
		advance time.Duration
		runs    int32
	}{
		{0, 1},
		{59 * time.Second, 1},
		{time.Second, 2}, // expired exactly at TTL
		{30 * time.Second, 2},
	} {
		now = now.Add(step.advance)
		if ok, err := c.Verify(t.Context(), "alice", h, "correct horse"); !ok || err != nil {
			t.Fatalf("Verify = %v, %v", ok, err)
		}
		if n := v.calls.Load(); n != step.runs {
			t.Errorf("after %v more: %d argon2 runs, want %d", step.advance, n, step.runs)
		}
	}
}

func TestCacheMalformedHash(t *testing.T) {
	c := NewCache(CacheOptions{})
	for range 2 {
		ok, err := c.Verify(t.Context(), "alice", "$argon2id$broken", "pw")
		if ok || !errors.Is(err, ErrMalformed) {
			t.Errorf("Verify(malformed) = %v, %v; want ErrMalformed", ok, err)
		}
	}
}

// blockingVerify holds every verification until release is closed and
// records how many ran at once.
type blockingVerify struct {
	release chan struct{}
	mu      sync.Mutex
	running int
	peak    int
	calls   int
}

func (b *blockingVerify) verify(hash, password string) (bool, error) {
	b.mu.Lock()
	b.calls++
	b.running++
	b.peak = max(b.peak, b.running)
	b.mu.Unlock()
	<-b.release
	b.mu.Lock()
	b.running--
	b.mu.Unlock()
	return hash == "h-"+password, nil
}

func (b *blockingVerify) snapshot() (running, peak, calls int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.running, b.peak, b.calls
}

// waitFor polls cond, failing the test after a few seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (c *Cache) waiters(user string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l := c.mu.users[user]; l != nil {
		return l.refs
	}
	return 0
}

// TestCacheSingleFlight: a burst of logins for one user runs argon2 once.
func TestCacheSingleFlight(t *testing.T) {
	c := NewCache(CacheOptions{MaxConcurrent: 4})
	b := &blockingVerify{release: make(chan struct{})}
	c.verify = b.verify
	const n = 8
	var wg sync.WaitGroup
	results := make(chan error, n)
	for range n {
		wg.Go(func() {
			ok, err := c.Verify(t.Context(), "alice", "h-pw", "pw")
			if !ok && err == nil {
				err = errors.New("Verify = false")
			}
			results <- err
		})
	}
	waitFor(t, "all logins to queue for alice", func() bool { return c.waiters("alice") == n })
	close(b.release)
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Error(err)
		}
	}
	if _, _, calls := b.snapshot(); calls != 1 {
		t.Errorf("%d argon2 runs for %d concurrent logins, want 1", calls, n)
	}
	if w := c.waiters("alice"); w != 0 {
		t.Errorf("user lock still held by %d after the burst", w)
	}
}

// TestCacheConcurrencyBound: logins for many users run at most
// MaxConcurrent argon2 computations at once.
func TestCacheConcurrencyBound(t *testing.T) {
	for _, limit := range []int{1, 2} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			c := NewCache(CacheOptions{MaxConcurrent: limit})
			b := &blockingVerify{release: make(chan struct{})}
			c.verify = b.verify
			const n = 6
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					pw := fmt.Sprint("pw", i)
					if ok, err := c.Verify(t.Context(), fmt.Sprint("user", i), "h-"+pw, pw); !ok || err != nil {
						t.Errorf("Verify = %v, %v", ok, err)
					}
				})
			}
			waitFor(t, "all users to enter Verify", func() bool {
				c.mu.Lock()
				defer c.mu.Unlock()
				return len(c.mu.users) == n
			})
			waitFor(t, "the slots to fill", func() bool { r, _, _ := b.snapshot(); return r == limit })
			time.Sleep(20 * time.Millisecond) // give a broken bound the chance to show
			if r, _, _ := b.snapshot(); r != limit {
				t.Errorf("%d computations running, want %d", r, limit)
			}
			close(b.release)
			wg.Wait()
			if _, peak, calls := b.snapshot(); peak != limit || calls != n {
				t.Errorf("peak %d concurrent of %d calls, want %d of %d", peak, calls, limit, n)
			}
		})
	}
}

func TestCacheContext(t *testing.T) {
	c := NewCache(CacheOptions{MaxConcurrent: 1})
	b := &blockingVerify{release: make(chan struct{})}
	c.verify = b.verify
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Verify(context.Background(), "alice", "h-pw", "pw")
	}()
	waitFor(t, "the first verification to run", func() bool { r, _, _ := b.snapshot(); return r == 1 })

	// Waiting for alice's lock, and for the one slot (bob).
	for _, user := range []string{"alice", "bob"} {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		ok, err := c.Verify(ctx, user, "h-pw", "pw")
		cancel()
		if ok || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Verify(%s) while blocked = %v, %v; want DeadlineExceeded", user, ok, err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.Reject(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("Reject while blocked = %v, want Canceled", err)
	}
	close(b.release)
	<-done
	if w := c.waiters("alice") + c.waiters("bob"); w != 0 {
		t.Errorf("%d user locks left after cancelled waits", w)
	}
	if !c.Cached("alice", "h-pw", "pw") {
		t.Error("the first verification was not cached")
	}
}

func TestCacheEviction(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := NewCache(CacheOptions{TTL: time.Minute, Now: func() time.Time { return now }})
	c.verify = func(hash, password string) (bool, error) { return true, nil }
	fill := func(prefix string, n int) {
		for i := range n {
			if ok, err := c.Verify(t.Context(), fmt.Sprint(prefix, i), "h", "pw"); !ok || err != nil {
				t.Fatalf("Verify = %v, %v", ok, err)
			}
		}
	}
	size := func() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.mu.entries) }

	fill("old", maxEntries/2)
	now = now.Add(2 * time.Minute)
	fill("new", maxEntries/2+1) // the first add over the bound drops the expired half
	if n := size(); n != maxEntries/2+1 {
		t.Errorf("%d entries, want %d: expired entries not dropped first", n, maxEntries/2+1)
	}
	fill("more", maxEntries) // nothing expired: one arbitrary entry goes per add
	if n := size(); n != maxEntries {
		t.Errorf("%d entries, want the bound %d", n, maxEntries)
	}
	if !c.Cached("more1023", "h", "pw") {
		t.Error("the newest entry was evicted")
	}
}

func TestCacheReject(t *testing.T) {
	c := NewCache(CacheOptions{})
	var got string
	c.verify = func(hash, password string) (bool, error) {
		got = hash
		return Verify(hash, password)
	}
	if err := c.Reject(t.Context(), "correct horse"); err != nil {
		t.Fatal(err)
	}
	h, err := parse(got)
	if err != nil || h.Params != Default {
		t.Errorf("Reject verified against %q (%v), want a Default hash", got, err)
	}
}

func BenchmarkCacheHit(b *testing.B) {
	c := NewCache(CacheOptions{})
	h := mustHash(b, "correct horse")
	ctx := context.Background()
	c.Verify(ctx, "alice", h, "correct horse")
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := c.Verify(ctx, "alice", h, "correct horse"); !ok {
			b.Fatal("Verify = false")
		}
	}
}
