package message

import (
	"slices"
	"time"

	"github.com/mycelium-go/mycelium/core/wire"
)

// expirePending drops incoming transfers idle for PendingTimeout.
func (b *Bus) expirePending(now time.Time) {
	b.in.mu.Lock()
	defer b.in.mu.Unlock()
	for k, p := range b.in.m {
		if now.Sub(p.last) >= b.cfg.PendingTimeout {
			b.dropPendingLocked(k, p)
			b.c.drop(dropExpired)
		}
	}
}

// expireStatus forgets finished outgoing messages older than
// StatusRetention, and the oldest finished ones beyond MaxStatus.
func (b *Bus) expireStatus(now time.Time) {
	b.out.mu.Lock()
	defer b.out.mu.Unlock()
	type aged struct {
		id      wire.MessageID
		created time.Time
	}
	var finished []aged
	for id, o := range b.out.m {
		if !o.isFinished() {
			continue
		}
		if now.Sub(o.created) >= b.cfg.StatusRetention {
			delete(b.out.m, id)
			continue
		}
		finished = append(finished, aged{id, o.created})
	}
	if extra := len(b.out.m) - b.cfg.MaxStatus; extra > 0 {
		slices.SortFunc(finished, func(a, c aged) int { return a.created.Compare(c.created) })
		for _, a := range finished[:min(extra, len(finished))] {
			delete(b.out.m, a.id)
		}
	}
}
