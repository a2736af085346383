package node

import (
	"net/netip"
	"time"

	"github.com/mycelium-go/mycelium/core/link"
	"github.com/mycelium-go/mycelium/core/router"
)

// How long a batch may wait for room in a full link queue before the rest
// of it is dropped. Waiting slows the sender down to the link's pace
// instead of losing packets: for packets from our device the kernel's TCP
// small queues then hold the local flow back; for transit packets the
// input link's reader stops, so the previous hop's TCP link fills and the
// back-pressure travels to the origin. Losses would be answered by TCP
// with retransmissions and a smaller window (measured on a 3-node line:
// ~45k retransmissions per 8 s and ~10 % less throughput when transit
// packets are dropped at once).
//
// The bounds keep a stalled or slow link from holding up the traffic for
// other links: the device reader waits at most sendWait, an input link at
// most transitWait per batch, which covers a writer cycle of a fast link
// (1 MiB at 2 Gbit/s is 4 ms) but not a congested slow one, whose packets
// are then dropped as a router would.
const (
	sendWait    = 50 * time.Millisecond
	transitWait = 5 * time.Millisecond
)

// txBatch collects sealed packets for one next hop, so that a batch read
// from the device reaches each link in one call and one lock. The packets
// stay where they were sealed until flush.
type txBatch struct {
	nb    *router.Neighbour
	pkts  [][]byte
	bytes int
	wait  time.Duration // how long flush may wait for room in the link queue
}

// stage adds pkt for nb, flushing first when the batch is for another
// neighbour.
func (n *Node) stage(b *txBatch, nb *router.Neighbour, pkt []byte) {
	if b.nb != nb {
		n.flushTx(b)
		b.nb = nb
	}
	b.pkts = append(b.pkts, pkt)
	b.bytes += len(pkt)
}

// flushTx hands the staged packets to their link and counts them.
func (n *Node) flushTx(b *txBatch) {
	if len(b.pkts) == 0 {
		return
	}
	sent, bytes := sendBatch(b.nb.Link(), b.pkts, b.wait), b.bytes
	if sent < len(b.pkts) {
		n.m.LinkQueueFull.Add(uint64(len(b.pkts) - sent))
		for _, p := range b.pkts[sent:] {
			bytes -= len(p)
		}
	}
	if sent > 0 {
		b.nb.CountTx(sent, bytes)
		n.m.RoutedForward.Add(uint64(sent))
	}
	clear(b.pkts)
	b.pkts, b.bytes, b.nb = b.pkts[:0], 0, nil
}

// sendBatch queues pkts on l in order and returns how many it took: in one
// call for links that batch, else packet by packet until one is refused.
func sendBatch(l link.Link, pkts [][]byte, wait time.Duration) int {
	if bs, ok := l.(link.BatchSender); ok {
		sent, _ := bs.SendDataBatch(pkts, wait)
		return sent
	}
	for i, p := range pkts {
		if l.SendData(p) != nil {
			return i
		}
	}
	return len(pkts)
}

// statRun merges consecutive statistics updates for the same address (a
// batch is mostly one flow) into one update of the shared table.
type statRun struct {
	ip             netip.Addr
	packets, bytes int
}

func (r *statRun) add(s *ipStats, ip netip.Addr, bytes int) {
	if ip != r.ip {
		r.flush(s)
		r.ip = ip
	}
	r.packets++
	r.bytes += bytes
}

func (r *statRun) flush(s *ipStats) {
	if r.packets > 0 {
		s.addN(r.ip, r.packets, r.bytes)
	}
	*r = statRun{}
}
