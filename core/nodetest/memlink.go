package nodetest

import (
	"errors"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mycelium-go/mycelium/core/link"
	"github.com/mycelium-go/mycelium/core/wire"
)

// Default queue bounds of an in-memory link direction.
const (
	DefaultDataQueue    = 1024
	DefaultControlQueue = 1 << 16
	maxDeliveryBatch    = 64
)

// ErrCut is the reason LinkDown reports for a cut link.
var ErrCut = errors.New("nodetest: link cut")

// Pair is an in-memory link between two handlers: two ends, each a
// link.Link, with a bounded queue and a delivery goroutine per direction.
// It supports a clean Cut (both ends go down at once) and a silent
// Blackhole (everything sent is dropped; only timing reveals it).
type Pair struct {
	A, B *End
	wg   sync.WaitGroup
	cut  chan struct{}
	once sync.Once
	// closed is called once when an end is closed through link.Link.Close
	// (a router giving up on its neighbour), not on Cut.
	closed func()
}

// End is one end of a Pair. What is sent on an End arrives at the other
// end's handler.
type End struct {
	pair     *Pair
	name     string
	peer     *End
	h        link.Handler // receives what arrives at this end
	out      *direction   // what this end sends
	cost     uint16
	lastRecv atomic.Int64 // UnixNano of the last delivery to this end
	since    time.Time
	rx, tx   atomic.Uint64
}

// direction is the queue from one end to the other.
type direction struct {
	mu        sync.Mutex
	q         [][]byte // complete packets, outer header included
	data      int      // data packets in q
	dataCap   int
	ctrlCap   int
	wake      chan struct{}
	blackhole atomic.Bool
}

// Pipe connects handler a (end A) and handler b (end B): both get LinkUp,
// then packets flow. cost is the links' static cost (StaticCost).
func Pipe(aName string, a link.Handler, bName string, b link.Handler, cost uint16) *Pair {
	p := &Pair{cut: make(chan struct{})}
	now := time.Now()
	p.A = &End{pair: p, name: aName, h: a, cost: cost, since: now, out: newDirection()}
	p.B = &End{pair: p, name: bName, h: b, cost: cost, since: now, out: newDirection()}
	p.A.peer, p.B.peer = p.B, p.A
	p.A.lastRecv.Store(now.UnixNano())
	p.B.lastRecv.Store(now.UnixNano())
	a.LinkUp(p.A)
	b.LinkUp(p.B)
	p.wg.Add(2)
	go p.deliver(p.A.out, p.B)
	go p.deliver(p.B.out, p.A)
	return p
}

func newDirection() *direction {
	return &direction{dataCap: DefaultDataQueue, ctrlCap: DefaultControlQueue, wake: make(chan struct{}, 1)}
}

// Cut tears the link down cleanly: both handlers get LinkDown, queued
// packets are dropped. It does not wait; see Wait.
func (p *Pair) Cut() { p.once.Do(func() { close(p.cut) }) }

// Blackhole makes the link silently drop everything in both directions
// from now on, like a dead path with no RST or FIN.
func (p *Pair) Blackhole() {
	p.A.out.blackhole.Store(true)
	p.B.out.blackhole.Store(true)
}

// Wait waits for both delivery goroutines to finish after a Cut.
func (p *Pair) Wait() { p.wg.Wait() }

// Down reports whether the link was cut.
func (p *Pair) Down() bool {
	select {
	case <-p.cut:
		return true
	default:
		return false
	}
}

// deliver hands what d carries to the handler of end to, in order, and
// calls LinkDown on it when the pair is cut.
func (p *Pair) deliver(d *direction, to *End) {
	defer p.wg.Done()
	defer to.h.LinkDown(to, ErrCut)
	var batch [][]byte
	for {
		select {
		case <-p.cut:
			return
		case <-d.wake:
		}
		for {
			d.mu.Lock()
			q := d.q
			d.q, d.data = nil, 0
			d.mu.Unlock()
			if len(q) == 0 {
				break
			}
			for i := 0; i < len(q); {
				if p.Down() {
					return
				}
				to.lastRecv.Store(time.Now().UnixNano())
				if q[i][1] == wire.TypeControl {
					to.rx.Add(uint64(len(q[i])))
					to.h.HandleControl(to, q[i][wire.OuterHeaderSize:])
					i++
					continue
				}
				batch = batch[:0]
				for ; i < len(q) && q[i][1] == wire.TypeData && len(batch) < maxDeliveryBatch; i++ {
					to.rx.Add(uint64(len(q[i])))
					batch = append(batch, q[i][wire.OuterHeaderSize:])
				}
				to.h.HandleData(to, batch)
			}
		}
	}
}

func (e *End) send(pkt []byte, data bool) error {
	if e.pair.Down() {
		return link.ErrClosed
	}
	d := e.out
	if d.blackhole.Load() {
		return nil
	}
	d.mu.Lock()
	switch {
	case data && d.data >= d.dataCap:
		d.mu.Unlock()
		return link.ErrQueueFull
	case !data && len(d.q)-d.data >= d.ctrlCap:
		d.mu.Unlock()
		e.pair.Cut() // a real link would die of a stuck peer too
		return link.ErrClosed
	}
	d.q = append(d.q, slices.Clone(pkt))
	if data {
		d.data++
	}
	d.mu.Unlock()
	e.tx.Add(uint64(len(pkt)))
	select {
	case d.wake <- struct{}{}:
	default:
	}
	return nil
}

// SendControl implements link.Link.
func (e *End) SendControl(pkt []byte) error { return e.send(pkt, false) }

// SendData implements link.Link.
func (e *End) SendData(pkt []byte) error { return e.send(pkt, true) }

// StaticCost implements link.Link.
func (e *End) StaticCost() uint16 { return e.cost }

// LastReceive implements link.Link.
func (e *End) LastReceive() time.Time { return time.Unix(0, e.lastRecv.Load()) }

// Info implements link.Link.
func (e *End) Info() link.Info {
	return link.Info{
		Endpoint:  "mem://" + e.peer.name,
		Transport: "mem",
		Kind:      "static",
		Local:     netip.AddrPort{},
		Remote:    netip.AddrPort{},
		RxBytes:   e.rx.Load(),
		TxBytes:   e.tx.Load(),
		Since:     e.since,
	}
}

// Close implements link.Link: it cuts the pair.
func (e *End) Close() error {
	p := e.pair
	first := false
	p.once.Do(func() {
		first = true
		close(p.cut)
	})
	if first && p.closed != nil {
		p.closed()
	}
	return nil
}

// String implements link.Link.
func (e *End) String() string { return "MEM " + e.name + " <-> " + e.peer.name }

var _ link.Link = (*End)(nil)
