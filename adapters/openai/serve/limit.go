package serve

import (
	"sync"
	"time"
)

// bucket is a token bucket that refills at capacity per minute. Its level
// may go negative: tokens are charged after a response, when the usage is
// known, and a peer in debt waits until the bucket refills above zero.
type bucket struct {
	level float64
	at    time.Time
}

func (b *bucket) refill(now time.Time, perMinute float64) {
	b.level += now.Sub(b.at).Minutes() * perMinute
	b.level = min(b.level, perMinute)
	b.at = now
}

// waitFor returns how long until the bucket holds at least need.
func (b *bucket) waitFor(need, perMinute float64) time.Duration {
	if b.level >= need {
		return 0
	}
	return time.Duration((need - b.level) / perMinute * float64(time.Minute))
}

type peerBuckets struct {
	requests, tokens bucket
}

// limiter enforces the per-peer budgets. A request is admitted if the
// peer has a whole request left and its token bucket is above zero; the
// tokens a response used are charged afterwards. A debt is capped at one
// minute of tokens, so one huge response blocks a peer for at most a
// minute.
type limiter struct {
	now func() time.Time
	def Limit
	per map[string]Limit

	mu        sync.Mutex
	peers     map[string]*peerBuckets // by peer label
	lastSweep time.Time
}

func newLimiter(def Limit, per map[string]Limit, now func() time.Time) *limiter {
	return &limiter{now: now, def: def, per: per, peers: make(map[string]*peerBuckets), lastSweep: now()}
}

func (l *limiter) limitOf(peer string) Limit {
	if lim, ok := l.per[peer]; ok {
		return lim
	}
	return l.def
}

// bucketsLocked returns the peer's buckets refilled to now, creating full
// ones for a new peer.
func (l *limiter) bucketsLocked(peer string, lim Limit, now time.Time) *peerBuckets {
	b := l.peers[peer]
	if b == nil {
		b = &peerBuckets{
			requests: bucket{level: float64(lim.RequestsPerMinute), at: now},
			tokens:   bucket{level: float64(lim.TokensPerMinute), at: now},
		}
		l.peers[peer] = b
	}
	b.requests.refill(now, float64(lim.RequestsPerMinute))
	b.tokens.refill(now, float64(lim.TokensPerMinute))
	return b
}

// allow admits one request of peer, or reports which budget is exhausted
// ("requests" or "tokens") and how long until it is not.
func (l *limiter) allow(peer string) (ok bool, wait time.Duration, exhausted string) {
	lim := l.limitOf(peer)
	if lim.RequestsPerMinute == 0 && lim.TokensPerMinute == 0 {
		return true, 0, ""
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepLocked(now)
	b := l.bucketsLocked(peer, lim, now)
	if lim.RequestsPerMinute > 0 {
		if w := b.requests.waitFor(1, float64(lim.RequestsPerMinute)); w > 0 {
			wait, exhausted = w, "requests"
		}
	}
	if lim.TokensPerMinute > 0 && b.tokens.level <= 0 {
		if w := b.tokens.waitFor(1, float64(lim.TokensPerMinute)); w > wait {
			wait, exhausted = w, "tokens"
		}
	}
	if exhausted != "" {
		return false, wait, exhausted
	}
	if lim.RequestsPerMinute > 0 {
		b.requests.level--
	}
	return true, 0, ""
}

// charge takes tokens from peer's token budget.
func (l *limiter) charge(peer string, tokens int64) {
	lim := l.limitOf(peer)
	if lim.TokensPerMinute == 0 || tokens <= 0 {
		return
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketsLocked(peer, lim, now)
	b.tokens.level = max(b.tokens.level-float64(tokens), -float64(lim.TokensPerMinute))
}

// sweepLocked forgets, once a minute, the peers whose buckets have been
// refilled completely: they are in the same state as a new peer.
func (l *limiter) sweepLocked(now time.Time) {
	if now.Sub(l.lastSweep) < time.Minute {
		return
	}
	l.lastSweep = now
	for peer, b := range l.peers {
		if now.Sub(b.requests.at) >= 2*time.Minute && now.Sub(b.tokens.at) >= 2*time.Minute {
			delete(l.peers, peer)
		}
	}
}
