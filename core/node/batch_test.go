package node

import (
	"bytes"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/link"
)

// recordDevice is a countDevice that also checks and records each write.
type recordDevice struct {
	*countDevice
	mu      sync.Mutex
	batches []int    // packets per Write call
	offsets []int    // offset of each call
	minRoom int      // smallest capacity behind the offset seen
	pkts    [][]byte // copies of the packets written
}

func (d *recordDevice) Write(bufs [][]byte, offset int) (int, error) {
	d.mu.Lock()
	d.batches = append(d.batches, len(bufs))
	d.offsets = append(d.offsets, offset)
	for _, b := range bufs {
		if room := cap(b) - offset; d.minRoom == 0 || room < d.minRoom {
			d.minRoom = room
		}
		d.pkts = append(d.pkts, bytes.Clone(b[offset:]))
	}
	d.mu.Unlock()
	return d.countDevice.Write(bufs, offset)
}

// TestDeviceWritesAllowGRO checks the receive path's promise to the
// kernel TUN: packets arrive in batches of at most devBatch, each in a
// buffer with room for a 64 KiB super-packet behind the offset, so
// wireguard-go can coalesce TCP segments in place.
func TestDeviceWritesAllowGRO(t *testing.T) {
	dev := &recordDevice{countDevice: newCountDevice()}
	dev.rec = dev
	b := newTestbedDev(t, 1, dev.countDevice)
	const count = devBatch*2 + 22
	var inner, batch [][]byte
	for i := range count {
		p := ipv6Packet(b.peers[0].Address(), b.n.addr, 100+i, 64)
		p[ipv6HeaderLen] = byte(i)
		inner = append(inner, p)
		batch = append(batch, b.sealedFrom(t, 0, userPacket(p), 60))
	}
	b.n.HandleData(b.links[0], batch)
	dev.mu.Lock()
	defer dev.mu.Unlock()
	if want := []int{devBatch, devBatch, 22}; !equalInts(dev.batches, want) {
		t.Errorf("device write batches = %v, want %v", dev.batches, want)
	}
	for _, off := range dev.offsets {
		if off != tunOffset {
			t.Errorf("device write offset %d, want %d", off, tunOffset)
		}
	}
	if dev.minRoom < 65535 {
		t.Errorf("smallest room behind the offset = %d, want at least 65535 (GRO)", dev.minRoom)
	}
	if len(dev.pkts) != count {
		t.Fatalf("device got %d packets, want %d", len(dev.pkts), count)
	}
	for i, p := range dev.pkts {
		want := bytes.Clone(inner[i])
		want[7] = 59 // hop limit of the data packet, minus our hop
		if !bytes.Equal(p, want) {
			t.Errorf("packet %d differs from what was sent", i)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// batchLink is a countLink that implements link.BatchSender and takes at
// most room packets per call.
type batchLink struct {
	countLink
	room  int
	calls []int // batch sizes offered
	waits []time.Duration
}

func (l *batchLink) SendDataBatch(pkts [][]byte, wait time.Duration) (int, error) {
	l.calls = append(l.calls, len(pkts))
	l.waits = append(l.waits, wait)
	n := min(len(pkts), l.room)
	l.data.Add(int64(n))
	if n < len(pkts) {
		return n, link.ErrQueueFull
	}
	return n, nil
}

var _ link.BatchSender = (*batchLink)(nil)

func TestFlushTx(t *testing.T) {
	b := newTestbed(t, 0)
	full := &batchLink{countLink: countLink{name: "full"}, room: 3}
	plain := &countLink{name: "plain"}
	b.n.LinkUp(full)
	b.n.LinkUp(plain)
	nbFull, nbPlain := b.n.r.Neighbour(full), b.n.r.Neighbour(plain)
	if nbFull == nil || nbPlain == nil {
		t.Fatal("neighbours not registered")
	}
	pkt := make([]byte, 100)
	tx := txBatch{wait: 7 * time.Millisecond}
	for range 5 {
		b.n.stage(&tx, nbFull, pkt) // 5 for a link with room for 3
	}
	b.n.stage(&tx, nbPlain, pkt) // switches neighbour: flushes the 5
	b.n.stage(&tx, nbPlain, pkt)
	b.n.stage(&tx, nbFull, pkt) // flushes the 2 for plain
	b.n.flushTx(&tx)
	if !equalInts(full.calls, []int{5, 1}) || full.waits[0] != 7*time.Millisecond {
		t.Errorf("batch link got calls %v with waits %v, want [5 1] with 7ms", full.calls, full.waits)
	}
	if got := plain.data.Load(); got != 2 {
		t.Errorf("plain link got %d packets, want 2 (one by one)", got)
	}
	if got := b.n.m.LinkQueueFull.Load(); got != 2 {
		t.Errorf("link_queue_full = %d, want 2", got)
	}
	if got := b.n.m.RoutedForward.Load(); got != 6 {
		t.Errorf("routed_forward = %d, want 6", got)
	}
	if len(tx.pkts) != 0 || tx.bytes != 0 || tx.nb != nil {
		t.Errorf("batch not reset after flush: %d packets, %d bytes", len(tx.pkts), tx.bytes)
	}
}

func TestStatRunMergesPerAddress(t *testing.T) {
	s := newIPStats(10)
	x, y := netip.MustParseAddr("400::1"), netip.MustParseAddr("400::2")
	var r statRun
	for _, a := range []netip.Addr{x, x, x, y, x} {
		r.add(s, a, 100)
	}
	r.flush(s)
	got := s.snapshot()
	want := []IPStat{{IP: x, Packets: 4, Bytes: 400}, {IP: y, Packets: 1, Bytes: 100}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func TestFreeListKeepsAtMostMax(t *testing.T) {
	made := 0
	f := newFreeList(2, func() *int { made++; return new(int) })
	a, b, c := f.get(), f.get(), f.get()
	f.put(a)
	f.put(b)
	f.put(c) // dropped
	if x, y := f.get(), f.get(); (x != a && x != b) || (y != a && y != b) || x == y {
		t.Error("free list did not hand back the kept objects")
	}
	f.get()
	if made != 4 {
		t.Errorf("made %d objects, want 4 (3 at first, 1 after the kept two)", made)
	}
}
