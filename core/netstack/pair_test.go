package netstack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

// Test harness: two stacks joined back to back by pump goroutines that copy
// packets between their tun.Device ends, as the node's data plane would
// (minus encryption and routing).

var (
	addrA = netip.MustParseAddr("4a0:1111:2222:3333::a")
	addrB = netip.MustParseAddr("5b0:4444:5555:6666::b")
)

// offset is the headroom the node leaves in front of every packet.
const offset = 16

// pair is two stacks and the pumps between them.
type pair struct {
	a, b   *Stack
	batch  int // packets per Read and Write
	wg     sync.WaitGroup
	check  bool         // verify every packet in transit
	errMu  sync.Mutex   // guards err
	err    error        // first malformed packet seen
	pkts   atomic.Int64 // packets moved
	filter atomic.Pointer[func(pkt []byte) bool]
}

// newPair builds two stacks with cfg as template and starts the pumps;
// cleanup closes both and waits for the pumps.
func newPair(tb testing.TB, cfg Config, check bool) *pair {
	tb.Helper()
	return newPairBatch(tb, cfg, check, batchSize)
}

// newPairBatch is newPair with pumps moving at most batch packets per call.
func newPairBatch(tb testing.TB, cfg Config, check bool, batch int) *pair {
	tb.Helper()
	ca, cb := cfg, cfg
	ca.Addr, cb.Addr = addrA, addrB
	a, err := New(ca)
	if err != nil {
		tb.Fatalf("New(%v) = %v", addrA, err)
	}
	b, err := New(cb)
	if err != nil {
		a.Close()
		tb.Fatalf("New(%v) = %v", addrB, err)
	}
	p := &pair{a: a, b: b, check: check, batch: batch}
	p.wg.Add(2)
	go p.pump(a, b)
	go p.pump(b, a)
	tb.Cleanup(p.close)
	return p
}

func (p *pair) close() {
	p.a.Close()
	p.b.Close()
	p.wg.Wait()
	if err := p.firstErr(); err != nil {
		panic(fmt.Sprintf("malformed packet in transit: %v", err))
	}
}

func (p *pair) firstErr() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.err
}

// dropIf installs a filter: packets it returns true for are dropped.
func (p *pair) dropIf(f func(pkt []byte) bool) { p.filter.Store(&f) }

// pump copies batches from one stack's Read to the other's Write with the
// node's buffer discipline (offset 16, 65535+offset capacity).
func (p *pair) pump(from, to *Stack) {
	defer p.wg.Done()
	bufs := make([][]byte, p.batch)
	for i := range bufs {
		bufs[i] = make([]byte, 65535+offset)
	}
	sizes := make([]int, len(bufs))
	out := make([][]byte, 0, len(bufs))
	for {
		n, err := from.Read(bufs, sizes, offset)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				p.fail(fmt.Errorf("Read() = %w", err))
			}
			return
		}
		out = out[:0]
		f := p.filter.Load()
		for i := range n {
			pkt := bufs[i][:offset+sizes[i]]
			if p.check {
				if err := checkPacket(pkt[offset:], from.cfg.MTU); err != nil {
					p.fail(err)
				}
			}
			if f != nil && (*f)(pkt[offset:]) {
				continue
			}
			out = append(out, pkt)
		}
		p.pkts.Add(int64(len(out)))
		if _, err := to.Write(out, offset); err != nil {
			return
		}
	}
}

func (p *pair) fail(err error) {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

// checkPacket verifies what the node would: an IPv6 packet of at most mtu
// bytes whose length field matches, with a correct TCP/UDP/ICMPv6 checksum.
func checkPacket(pkt []byte, mtu int) error {
	if len(pkt) > mtu {
		return fmt.Errorf("packet of %d bytes exceeds mtu %d", len(pkt), mtu)
	}
	if len(pkt) < 40 || pkt[0]>>4 != 6 {
		return fmt.Errorf("not an IPv6 packet: % x", pkt[:min(len(pkt), 8)])
	}
	if plen := int(binary.BigEndian.Uint16(pkt[4:])); plen+40 != len(pkt) {
		return fmt.Errorf("payload length %d, packet %d bytes", plen, len(pkt))
	}
	var off int
	switch pkt[6] {
	case 6:
		off = 16
	case 17:
		off = 6
	case 58:
		off = 2
	default:
		return nil
	}
	if !checksumValid(pkt, off) {
		return fmt.Errorf("bad checksum in packet with next header %d", pkt[6])
	}
	return nil
}

// checksumValid recomputes the transport checksum independently of gVisor.
func checksumValid(pkt []byte, csumOff int) bool {
	payload := pkt[40:]
	if len(payload) < csumOff+2 {
		return false
	}
	want := binary.BigEndian.Uint16(payload[csumOff:])
	return transportChecksum(pkt, csumOff) == want
}

// transportChecksum computes the checksum of the transport segment in pkt
// (treating the checksum field at csumOff as zero) with the pseudo-header.
func transportChecksum(pkt []byte, csumOff int) uint16 {
	payload := pkt[40:]
	var sum uint32
	add := func(b []byte) {
		for len(b) >= 2 {
			sum += uint32(binary.BigEndian.Uint16(b))
			b = b[2:]
		}
		if len(b) == 1 {
			sum += uint32(b[0]) << 8
		}
	}
	add(pkt[8:40])
	sum += uint32(len(payload)) + uint32(pkt[6])
	add(payload[:csumOff])
	add(payload[csumOff+2:])
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	c := ^uint16(sum)
	if c == 0 && pkt[6] == 17 {
		c = 0xffff
	}
	return c
}

// buildPacket returns an IPv6 packet from src to dst with the transport
// payload, its checksum (at csumOff) filled in.
func buildPacket(src, dst netip.Addr, next uint8, payload []byte, csumOff int) []byte {
	pkt := make([]byte, 40+len(payload))
	pkt[0] = 0x60
	binary.BigEndian.PutUint16(pkt[4:], uint16(len(payload)))
	pkt[6], pkt[7] = next, 64
	s, d := src.As16(), dst.As16()
	copy(pkt[8:], s[:])
	copy(pkt[24:], d[:])
	copy(pkt[40:], payload)
	binary.BigEndian.PutUint16(pkt[40+csumOff:], transportChecksum(pkt, csumOff))
	return pkt
}

// deviceIO drives one stack's device end directly (no peer stack).
type deviceIO struct {
	s    *Stack
	out  chan []byte
	done chan struct{}
}

func newDeviceIO(tb testing.TB, addr netip.Addr) *deviceIO {
	tb.Helper()
	s, err := New(Config{Addr: addr})
	if err != nil {
		tb.Fatalf("New() = %v", err)
	}
	d := &deviceIO{s: s, out: make(chan []byte, 1024), done: make(chan struct{})}
	go func() {
		defer close(d.done)
		bufs := [][]byte{make([]byte, 65535+offset)}
		sizes := []int{0}
		for {
			n, err := s.Read(bufs, sizes, offset)
			if err != nil {
				return
			}
			for i := range n {
				d.out <- append([]byte(nil), bufs[i][offset:offset+sizes[i]]...)
			}
		}
	}()
	tb.Cleanup(func() {
		s.Close()
		<-d.done
	})
	return d
}

// write writes raw packets into the stack in one batch.
func (d *deviceIO) write(tb testing.TB, pkts ...[]byte) {
	tb.Helper()
	bufs := make([][]byte, len(pkts))
	for i, p := range pkts {
		bufs[i] = append(make([]byte, offset, offset+len(p)), p...)
	}
	if n, err := d.s.Write(bufs, offset); err != nil || n != len(pkts) {
		tb.Fatalf("Write(%d packets) = %d, %v", len(pkts), n, err)
	}
}
