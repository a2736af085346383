// Package queue delivers queued outbound mail to other mesh nodes. Each
// entry (one message for one remote domain) is sent over the overlay to
// the node's "mx" service with SMTP; temporary failures are retried with
// exponential backoff, and permanent failures or expiry put a delivery
// status notification (RFC 3464) in the sender's INBOX. The queue lives in
// the store, so delivery resumes after a restart.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mycelium-go/mycelium/adapters/mail/addr"
	"github.com/mycelium-go/mycelium/adapters/mail/store"
)

// Dialer opens connections over the overlay; sdk.Host implements it.
type Dialer interface {
	Dial(ctx context.Context, network, address string) (net.Conn, error)
}

// Config configures a Queue.
type Config struct {
	Store    *store.Store
	Resolver *addr.Resolver
	Dialer   Dialer
	// RetryInitial is the delay after the first failed attempt; each
	// further failure doubles it up to RetryMax.
	RetryInitial time.Duration
	RetryMax     time.Duration
	// Expiry is how long a message may stay queued before it bounces.
	Expiry time.Duration
	// MXPort is the port of the mx service on remote nodes (25).
	MXPort uint16
	// DialTimeout bounds one connection attempt.
	DialTimeout time.Duration
	// Concurrency bounds parallel deliveries.
	Concurrency int
	Log         *slog.Logger
}

// Queue runs deliveries.
type Queue struct {
	cfg  Config
	wake chan struct{}

	mu       sync.Mutex
	inFlight map[int64]bool
}

// New validates cfg and returns a queue runner.
func New(cfg Config) (*Queue, error) {
	switch {
	case cfg.Store == nil || cfg.Resolver == nil || cfg.Dialer == nil || cfg.Log == nil:
		return nil, errors.New("new queue: store, resolver, dialer and logger are required")
	case cfg.RetryInitial <= 0 || cfg.RetryMax < cfg.RetryInitial:
		return nil, fmt.Errorf("new queue: retry delays %v..%v invalid", cfg.RetryInitial, cfg.RetryMax)
	case cfg.Expiry <= 0:
		return nil, errors.New("new queue: expiry must be positive")
	}
	if cfg.MXPort == 0 {
		cfg.MXPort = 25
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 30 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	return &Queue{cfg: cfg, wake: make(chan struct{}, 1), inFlight: map[int64]bool{}}, nil
}

// Wake makes the loop look at the queue now (after new mail was queued).
func (q *Queue) Wake() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// maxIdle bounds how long the loop sleeps without looking at the queue.
const maxIdle = time.Minute

// Run delivers until ctx ends, then waits for deliveries in progress.
func (q *Queue) Run(ctx context.Context) error {
	sem := make(chan struct{}, q.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		due, err := q.cfg.Store.DueQueue(ctx, time.Now(), 64)
		if err != nil && ctx.Err() == nil {
			q.cfg.Log.Error("read mail queue", "err", err)
		}
		for _, e := range due {
			if !q.claim(e.ID) {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				q.release(e.ID)
				return nil
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem; q.release(e.ID); q.Wake() }()
				q.attempt(ctx, e)
			}()
		}
		// Entries due now are running or waiting for a slot (a finished
		// delivery wakes the loop); sleep until the next future one.
		sleep := maxIdle
		if next, ok, err := q.cfg.Store.NextQueueAttempt(ctx, time.Now()); err == nil && ok {
			if d := time.Until(next); d > 0 && d < sleep {
				sleep = d
			}
		}
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-q.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (q *Queue) claim(id int64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.inFlight[id] {
		return false
	}
	q.inFlight[id] = true
	return true
}

func (q *Queue) release(id int64) {
	q.mu.Lock()
	delete(q.inFlight, id)
	q.mu.Unlock()
}

// backoff returns the delay before attempt number attempts+1.
func (q *Queue) backoff(attempts int) time.Duration {
	d := q.cfg.RetryInitial
	for i := 0; i < attempts && d < q.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, q.cfg.RetryMax)
}

// attempt tries one entry once and records the outcome.
func (q *Queue) attempt(ctx context.Context, e store.QueueEntry) {
	log := q.cfg.Log.With("queue_id", e.ID, "domain", e.Domain)
	now := time.Now()
	deadline := e.Created.Add(q.cfg.Expiry)
	if !now.Before(deadline) {
		reason := fmt.Sprintf("delivery expired after %d attempts over %v", e.Attempts, q.cfg.Expiry)
		if e.LastError != "" {
			reason += "; last error: " + e.LastError
		}
		res := result{}
		for _, r := range e.Rcpts {
			res.failed = append(res.failed, failure{rcpt: r, status: "4.4.7", diag: reason})
		}
		q.finish(ctx, log, e, res)
		return
	}
	res := q.send(ctx, e)
	q.finish(ctx, log, e, res)
}

func (q *Queue) finish(ctx context.Context, log *slog.Logger, e store.QueueEntry, res result) {
	if len(res.failed) > 0 {
		if err := q.bounce(ctx, e, res.failed, len(res.pending) == 0); err != nil {
			log.Error("bounce", "err", err)
			return
		}
		log.Info("mail bounced", "rcpts", len(res.failed))
		if len(res.pending) == 0 {
			return
		}
	}
	if len(res.pending) == 0 {
		if err := q.cfg.Store.QueueDone(ctx, e.ID); err != nil {
			log.Error("remove delivered queue entry", "err", err)
		}
		log.Info("mail delivered", "rcpts", len(e.Rcpts))
		return
	}
	next := time.Now().Add(q.backoff(e.Attempts))
	if dl := e.Created.Add(q.cfg.Expiry); next.After(dl) {
		next = dl
	}
	if err := q.cfg.Store.QueueRetry(ctx, e.ID, res.pending, next, res.tempErr); err != nil {
		log.Error("reschedule queue entry", "err", err)
	}
	log.Info("mail delivery deferred", "err", res.tempErr, "next", next, "attempts", e.Attempts+1)
}
