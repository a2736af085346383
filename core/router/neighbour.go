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
	}

	ihuBuf   []byte        // reader goroutine only: scratch for IHU replies
	helloSeq atomic.Uint32 // next Hello seqno

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
	h.Unlock()
	sample := now.Sub(sent).Milliseconds()
	if sample > 0xFFFF {
		sample = 0xFFFF
	}
	old := n.rtt.Load()
	n.rtt.Store((old*9 + uint32(sample)) / 10)
}

// lastHeard is the later of the last IHU and the last byte on the link.
func (n *Neighbour) lastHeard() time.Time {
	t := n.epoch.Add(time.Duration(n.lastIHU.Load()))
	if lr := n.link.LastReceive(); lr.After(t) {
		t = lr
	}
	return t
}
