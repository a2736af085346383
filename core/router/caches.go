package router

import (
	"net/netip"
	"slices"
	"time"

	"github.com/mycelium-go/mycelium/core/wire"
)

// seqnoKey identifies one seqno request.
type seqnoKey struct {
	rid    wire.RouterID
	prefix netip.Prefix
	seqno  wire.SeqNo
}

// seqnoInfo remembers a seqno request we sent or forwarded.
type seqnoInfo struct {
	sources   []*Neighbour // neighbours that asked us for it
	targets   []*Neighbour // neighbours we sent it to
	firstSent time.Time
	lastSent  time.Time
}

// seqnoCache suppresses duplicate seqno requests and remembers who is
// interested in the answer (spec §4.1, §4.11).
type seqnoCache map[seqnoKey]*seqnoInfo

// forward records that the request key went to target on behalf of source
// (nil when we originated it).
func (c seqnoCache) forward(key seqnoKey, target, source *Neighbour, now time.Time) {
	info := c[key]
	if info == nil {
		info = &seqnoInfo{firstSent: now}
		c[key] = info
	}
	info.lastSent = now
	if !slices.Contains(info.targets, target) {
		info.targets = append(info.targets, target)
	}
	if source != nil && !slices.Contains(info.sources, source) {
		info.sources = append(info.sources, source)
	}
}

// recentTargets returns the neighbours the request went to, if it was
// last sent within window.
func (c seqnoCache) recentTargets(key seqnoKey, now time.Time, window time.Duration) []*Neighbour {
	if info := c[key]; info != nil && now.Sub(info.lastSent) < window {
		return info.targets
	}
	return nil
}

// sentWithin reports whether the request was last sent within window.
func (c seqnoCache) sentWithin(key seqnoKey, now time.Time, window time.Duration) bool {
	info := c[key]
	return info != nil && now.Sub(info.lastSent) <= window
}

// sources returns who asked us for key.
func (c seqnoCache) sources(key seqnoKey) []*Neighbour {
	if info := c[key]; info != nil {
		return info.sources
	}
	return nil
}

// take returns the neighbours that asked us for key and forgets them: the
// request is answered. The entry itself stays until it ages out, so the
// same request is still suppressed (an answer that does not satisfy the
// asker must not turn into a request/answer loop).
func (c seqnoCache) take(key seqnoKey) []*Neighbour {
	info := c[key]
	if info == nil {
		return nil
	}
	src := info.sources
	info.sources = nil
	return src
}

// sweep drops requests first sent more than ttl ago.
func (c seqnoCache) sweep(now time.Time, ttl time.Duration) {
	for k, info := range c {
		if now.Sub(info.firstSent) > ttl {
			delete(c, k)
		}
	}
}

// rrInfo remembers a route request we sent or forwarded.
type rrInfo struct {
	generation uint8
	receivers  []*Neighbour
	sent       time.Time
}

// rrCache suppresses duplicate route requests per prefix (spec §4.10).
type rrCache map[netip.Prefix]*rrInfo

// suppressed returns the neighbours that already got a request for p with
// a generation not above gen within ttl; they need not get it again.
func (c rrCache) suppressed(p netip.Prefix, gen uint8, now time.Time, ttl time.Duration) []*Neighbour {
	info := c[p]
	if info == nil || now.Sub(info.sent) > ttl || info.generation > gen {
		return nil
	}
	return info.receivers
}

// sent records a request for p of generation gen that went to receivers.
func (c rrCache) sent(p netip.Prefix, gen uint8, receivers []*Neighbour, now time.Time) {
	c[p] = &rrInfo{generation: gen, receivers: receivers, sent: now}
}

// sweep drops requests older than ttl.
func (c rrCache) sweep(now time.Time, ttl time.Duration) {
	for p, info := range c {
		if now.Sub(info.sent) > ttl {
			delete(c, p)
		}
	}
}
