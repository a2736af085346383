package router

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/mycelium-go/mycelium/core/link"
	"github.com/mycelium-go/mycelium/core/wire"
)

// helloRing is how many unanswered Hello send times a neighbour remembers.
const helloRing = 16

// Neighbour is a directly connected peer as the router sees it: its link,
// its measured cost and its liveness. The router creates one per LinkUp;
// the data plane uses it as a next hop and counts packets on it.
type Neighbour struct {
	link   link.Link
	static wire.Metric
	since  time.Time
	epoch  time.Time // the router's clock origin (monotonic)

	// Written by the link's reader goroutine (IHU handling), read by the
	// router goroutine.
	rtt     atomic.Uint32 // smoothed RTT part of the cost, ms
	lastIHU atomic.Int64  // since epoch, ns
	dead    atomic.Bool

	// hello holds the send times of Hellos not yet answered by an IHU,
	// oldest first. Links are reliable and ordered and every node answers
	// each Hello with one IHU, so the n-th IHU answers the n-th Hello; this
	// keeps the RTT sample right even when it exceeds the Hello interval.
	hello struct {
		sync.Mutex
		sent        [helloRing]time.Time
		head, count int
		sampled     bool // an RTT sample was taken
	}

	ihuBuf   []byte        // reader goroutine only: scratch for IHU replies
	helloSeq atomic.Uint32 // next Hello seqno

	// evalCost is the cost at the last re-evaluation of the routes through
	// this neighbour; evalQueued is set while a re-evaluation is queued or
	// deferred, so the reader posts at most one (see costMoved).
	evalCost   atomic.Uint32
	evalQueued atomic.Bool

	// Router goroutine only: when the routes through this neighbour were
	// last re-evaluated for a cost change, and the head of the list of
	// those routes (linked through route.nbNext/nbPrev).
	lastEval time.Time
	routes   *route

	txPackets, txBytes, rxPackets, rxBytes atomic.Uint64
}

func newNeighbour(l link.Link, initialCost uint16, now, epoch time.Time) *Neighbour {
	n := &Neighbour{
		link:   l,
		static: wire.Metric(l.StaticCost()),
		since:  now,
		epoch:  epoch,
		ihuBuf: make([]byte, 0, wire.MaxControlPacket),
	}
	n.rtt.Store(uint32(initialCost))
	n.evalCost.Store(uint32(n.Cost()))
	n.lastIHU.Store(int64(now.Sub(epoch)))
	return n
}

// Link returns the neighbour's link.
func (n *Neighbour) Link() link.Link { return n.link }

// Cost is the link cost used in route selection: smoothed RTT in ms plus
// the transport's static cost (spec §2.8).
func (n *Neighbour) Cost() wire.Metric {
	return wire.Metric(n.rtt.Load()).Add(n.static)
}

// Alive reports whether the router still uses this neighbour.
func (n *Neighbour) Alive() bool { return !n.dead.Load() }

// CountTx records packets data packets of bytes total sent to the
// neighbour.
func (n *Neighbour) CountTx(packets, bytes int) {
	n.txPackets.Add(uint64(packets))
	n.txBytes.Add(uint64(bytes))
}

// CountRx records packets data packets of bytes total received from the
// neighbour.
func (n *Neighbour) CountRx(packets, bytes int) {
	n.rxPackets.Add(uint64(packets))
	n.rxBytes.Add(uint64(bytes))
}

// helloSent records a Hello sent at now.
func (n *Neighbour) helloSent(now time.Time) {
	h := &n.hello
	h.Lock()
	if h.count == helloRing {
		h.head = (h.head + 1) % helloRing
		h.count--
	}
	h.sent[(h.head+h.count)%helloRing] = now
	h.count++
	h.Unlock()
}

// gotIHU records an IHU received at now: liveness, and an RTT sample
// against the oldest unanswered Hello. Hellos older than stale are
// forgotten first, so a Hello the peer never answered cannot skew later
// samples.
//
// The first sample replaces the initial cost instead of being smoothed
// into it: with the reference's (old*9+sample)/10 a new link would need
// about 35 samples to come down from 1000 to a few tens of ms, and the
// routes it offers would look worse than they are all that time. Later
// samples are smoothed as the reference does.
func (n *Neighbour) gotIHU(now time.Time, stale time.Duration) {
	n.lastIHU.Store(int64(now.Sub(n.epoch)))
	h := &n.hello
	h.Lock()
	for h.count > 0 && now.Sub(h.sent[h.head]) > stale {
		h.head = (h.head + 1) % helloRing
		h.count--
	}
	if h.count == 0 {
		h.Unlock()
		return
	}
	sent := h.sent[h.head]
	h.head = (h.head + 1) % helloRing
	h.count--
	first := !h.sampled
	h.sampled = true
	h.Unlock()
	sample := uint32(min(max(now.Sub(sent).Milliseconds(), 0), 0xFFFF))
	if first {
		n.rtt.Store(sample)
		return
	}
	n.rtt.Store((n.rtt.Load()*9 + sample) / 10)
}

// costMoved reports whether the cost moved by more than the route
// selection hysteresis since the routes through n were last re-evaluated,
// and no re-evaluation is pending yet; it then marks one pending. A cost
// that jitters within the hysteresis never asks for a re-evaluation.
func (n *Neighbour) costMoved() bool {
	d := int(n.Cost()) - int(n.evalCost.Load())
	if d <= int(significantImprovement) && d >= -int(significantImprovement) {
		return false
	}
	return n.evalQueued.CompareAndSwap(false, true)
}

// lastHeard is the later of the last IHU and the last byte on the link.
func (n *Neighbour) lastHeard() time.Time {
	t := n.epoch.Add(time.Duration(n.lastIHU.Load()))
	if lr := n.link.LastReceive(); lr.After(t) {
		t = lr
	}
	return t
}
