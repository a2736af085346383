package node

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/mycelium-go/mycelium/core/router"
	"github.com/mycelium-go/mycelium/core/wire"
)

// eventBits is a set of router events (bit 1<<Event).
type eventBits uint8

// givenUp are the events after which waiting packets are dropped unless
// their state is ready anyway.
const givenUp = 1<<router.EventLost | 1<<router.EventQueryTimeout

type waitKind uint8

const (
	waitLocal   waitKind = iota // a payload we originate (kind in pkt.kind), waiting for a route
	waitTransit                 // a data packet to forward, waiting for a route
	waitInbound                 // a data packet for us, waiting for its sender's key
)

// waiting is one packet held back. data is a private copy: the payload
// for waitLocal, the data packet (header first) otherwise.
type waiting struct {
	what     waitKind
	kind     byte // user header kind of a waitLocal payload
	hop      uint8
	src, dst netip.Addr
	at       time.Time
	data     []byte
}

// waitQueue holds the packets for one /64 and class.
type waitQueue struct {
	pkts   []waiting
	wanted time.Time // when the router was last asked for the route
}

// rewant is how often a queue that keeps waiting asks the router again.
const rewant = time.Second

// waitClass is one bounded set of queues: outbound (waiting for a route to
// the destination) or inbound (waiting for the source's key).
type waitClass struct {
	queues                map[uint64]*waitQueue
	count, bytes          int
	perSubnet, total, max int
	ctr                   *queueCounters
}

// pending holds packets waiting for routing state, and turns the router's
// events into releases and drops on its own goroutine. It implements
// router.Observer.
type pending struct {
	n      *Node
	mu     sync.Mutex
	out    waitClass
	in     waitClass
	events map[uint64]eventBits // per /64 with waiting packets
	signal chan struct{}
}

func newPending(n *Node) *pending {
	c := &n.cfg
	return &pending{
		n:      n,
		out:    waitClass{queues: map[uint64]*waitQueue{}, perSubnet: c.QueuePerSubnet, total: c.QueueTotal, max: c.QueueBytes, ctr: &n.m.Outbound},
		in:     waitClass{queues: map[uint64]*waitQueue{}, perSubnet: c.ParkPerSubnet, total: c.ParkTotal, max: c.ParkBytes, ctr: &n.m.Incoming},
		events: map[uint64]eventBits{},
		signal: make(chan struct{}, 1),
	}
}

func key64(a netip.Addr) uint64 {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8])
}

// add appends w to the queue of k; it reports whether w was accepted and
// whether the router should be asked for the route: for a new queue, and
// again every rewant while packets keep waiting (a query may have ended
// without an answer while the queue lived on).
func (c *waitClass) add(k uint64, w waiting) (ok, want bool) {
	q := c.queues[k]
	switch {
	case q != nil && len(q.pkts) >= c.perSubnet:
		c.ctr.FullSubnet.Add(1)
		return false, false
	case c.count >= c.total || c.bytes+len(w.data) > c.max:
		c.ctr.FullGlobal.Add(1)
		return false, false
	}
	if q == nil {
		q = &waitQueue{}
		c.queues[k] = q
	}
	if w.at.Sub(q.wanted) >= rewant {
		q.wanted = w.at
		want = true
	}
	q.pkts = append(q.pkts, w)
	c.count++
	c.bytes += len(w.data)
	c.ctr.Enqueued.Add(1)
	return true, want
}

// take removes and returns the queue of k.
func (c *waitClass) take(k uint64) []waiting {
	q := c.queues[k]
	if q == nil {
		return nil
	}
	delete(c.queues, k)
	c.count -= len(q.pkts)
	for _, w := range q.pkts {
		c.bytes -= len(w.data)
	}
	return q.pkts
}

// expired removes and returns the packets older than maxAge.
func (c *waitClass) expired(now time.Time, maxAge time.Duration) []waiting {
	var out []waiting
	for k, q := range c.queues {
		i := slices.IndexFunc(q.pkts, func(w waiting) bool { return now.Sub(w.at) <= maxAge })
		if i < 0 {
			i = len(q.pkts)
		}
		for _, w := range q.pkts[:i] {
			c.bytes -= len(w.data)
		}
		out = append(out, q.pkts[:i]...)
		c.count -= i
		q.pkts = q.pkts[i:]
		if len(q.pkts) == 0 {
			delete(c.queues, k)
		}
	}
	return out
}

// enqueueLocal holds a payload we originate until dst has a route, and
// asks the router for one. It returns ErrQueueFull when the queue is full.
func (q *pending) enqueueLocal(kind byte, hop uint8, src, dst netip.Addr, payload []byte, now time.Time) error {
	w := waiting{what: waitLocal, kind: kind, hop: hop, src: src, dst: dst, at: now, data: slices.Clone(payload)}
	if !q.hold(&q.out, key64(dst), w, dst) {
		q.n.m.RoutedNoRoute.Add(1)
		return ErrQueueFull
	}
	return nil
}

// enqueueTransit holds a data packet to forward until h.Dst has a route;
// when the queue is full the source gets a "no route" report.
func (q *pending) enqueueTransit(h wire.DataHeader, hop uint8, p []byte, now time.Time) {
	w := waiting{what: waitTransit, hop: hop, src: h.Src, dst: h.Dst, at: now, data: slices.Clone(p)}
	if !q.hold(&q.out, key64(h.Dst), w, h.Dst) {
		q.n.m.RoutedNoRoute.Add(1)
		q.n.sendOOB(icmpUnreach, unreachNoRoute, h, p[wire.DataHeaderSize:])
	}
}

// park holds a data packet for us until its sender's key is known.
func (q *pending) park(h wire.DataHeader, hop uint8, p []byte, now time.Time) {
	w := waiting{what: waitInbound, hop: hop, src: h.Src, dst: h.Dst, at: now, data: slices.Clone(p)}
	q.hold(&q.in, key64(h.Src), w, h.Src)
}

// hold queues w and asks the router for the route when due. If the route
// appeared meanwhile, the queue is released at once.
func (q *pending) hold(c *waitClass, k uint64, w waiting, want netip.Addr) bool {
	q.mu.Lock()
	ok, ask := c.add(k, w)
	q.mu.Unlock()
	if !ok {
		return false
	}
	if ask {
		q.n.r.Want(want)
	}
	fw := q.n.r.Lookup(want)
	if q.ready(c, fw) {
		q.post(k, router.EventSelected)
	}
	return true
}

// ready reports whether packets of class c can go on with forwarding
// state fw: outbound ones need a selected route, inbound ones a key.
func (q *pending) ready(c *waitClass, fw *router.Forward) bool {
	if c == &q.out {
		return fw.Selected()
	}
	return fw.Keyed()
}

// RouteEvent implements router.Observer. It runs on the router goroutine:
// it only records the event and wakes the worker.
func (q *pending) RouteEvent(p netip.Prefix, ev router.Event) {
	q.post(key64(p.Addr()), ev)
}

func (q *pending) post(k uint64, ev router.Event) {
	q.mu.Lock()
	_, outWaiting := q.out.queues[k]
	_, inWaiting := q.in.queues[k]
	if outWaiting || inWaiting {
		q.events[k] |= 1 << ev
	}
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// worker is the queue goroutine's scratch.
type worker struct {
	n   *Node
	st  *txState
	rx  *rxScratch
	buf []byte
}

// run settles queues on router events and drops packets that waited too
// long (the router's query timeout plus a second: a safety net for
// requests lost under load).
func (q *pending) run(ctx context.Context) {
	w := &worker{n: q.n, st: newTxState(), rx: newRxScratch(), buf: make([]byte, headroom+q.n.cfg.MTU+tailroom)}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	maxAge := q.n.cfg.Router.QueryTimeout + time.Second
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.signal:
			q.process(w)
		case now := <-tick.C:
			q.mu.Lock()
			out, in := q.out.expired(now, maxAge), q.in.expired(now, maxAge)
			q.mu.Unlock()
			w.rx.now = now
			for _, p := range out {
				q.out.ctr.DroppedTimeout.Add(1)
				w.drop(p)
			}
			q.in.ctr.DroppedTimeout.Add(uint64(len(in)))
			w.n.flushRx(w.rx)
		}
	}
}

// process settles every /64 an event arrived for.
func (q *pending) process(w *worker) {
	q.mu.Lock()
	evs := q.events
	q.events = make(map[uint64]eventBits, len(evs))
	q.mu.Unlock()
	w.rx.now = time.Now()
	for k, bits := range evs {
		q.settle(w, &q.out, k, bits)
		q.settle(w, &q.in, k, bits)
	}
	w.n.flushRx(w.rx)
}

// settle releases the queue of k in class c when its forwarding state is
// ready, drops it when the router gave the prefix up, and else leaves it.
func (q *pending) settle(w *worker, c *waitClass, k uint64, bits eventBits) {
	q.mu.Lock()
	wq := c.queues[k]
	var probe netip.Addr
	if wq != nil && len(wq.pkts) > 0 {
		probe = wq.pkts[0].dst
		if c == &q.in {
			probe = wq.pkts[0].src
		}
	}
	q.mu.Unlock()
	if !probe.IsValid() {
		return
	}
	ready := q.ready(c, q.n.r.Lookup(probe))
	if !ready && bits&givenUp == 0 {
		return
	}
	q.mu.Lock()
	pkts := c.take(k)
	q.mu.Unlock()
	for _, p := range pkts {
		if ready {
			c.ctr.Dequeued.Add(1)
			w.release(p)
		} else {
			c.ctr.DroppedTimeout.Add(1)
			w.drop(p)
		}
	}
}

// release sends a packet on now that its state is ready.
func (w *worker) release(p waiting) {
	n := w.n
	switch p.what {
	case waitLocal:
		copy(w.buf[headroom:], p.data)
		err := n.originate(nil, w.buf, len(p.data), p.kind, p.hop, p.src, p.dst, w.rx.now, true)
		if errors.Is(err, ErrQueueFull) && p.kind == wire.KindPacket {
			n.icmpToDevice(w.st, icmpUnreach, unreachNoRoute, 0, p.data)
		}
	case waitTransit:
		h, _ := wire.DecodeDataHeader(p.data)
		n.forward(w.rx, h, p.hop, p.data)
	case waitInbound:
		h, _ := wire.DecodeDataHeader(p.data)
		n.deliver(w.rx, h, p.hop, p.data, true)
	}
}

// drop gives a packet up, telling its sender there is no route.
func (w *worker) drop(p waiting) {
	n := w.n
	switch p.what {
	case waitLocal:
		if p.kind == wire.KindPacket && n.dev != nil {
			n.icmpToDevice(w.st, icmpUnreach, unreachNoRoute, 0, p.data)
		}
	case waitTransit:
		h, _ := wire.DecodeDataHeader(p.data)
		n.sendOOB(icmpUnreach, unreachNoRoute, h, p.data[wire.DataHeaderSize:])
	}
}
