package node

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/link"
	"github.com/mycelium-go/mycelium/core/wire"
)

// countLink counts what the node sends on it.
type countLink struct {
	name       string
	data, ctrl atomic.Int64
	last       atomic.Int64
}

func (l *countLink) SendControl([]byte) error { l.ctrl.Add(1); return nil }
func (l *countLink) SendData([]byte) error    { l.data.Add(1); return nil }
func (l *countLink) StaticCost() uint16       { return 10 }
func (l *countLink) LastReceive() time.Time   { return time.Now() }
func (l *countLink) Info() link.Info          { return link.Info{Endpoint: "count://" + l.name} }
func (l *countLink) Close() error             { return nil }
func (l *countLink) String() string           { return "COUNT " + l.name }

// countDevice counts what the node writes and never yields packets.
type countDevice struct {
	rec    *recordDevice // when set, the device the node gets
	writes atomic.Int64
	closed chan struct{}
	once   sync.Once
}

func newCountDevice() *countDevice { return &countDevice{closed: make(chan struct{})} }

func (d *countDevice) File() *os.File { return nil }
func (d *countDevice) Read([][]byte, []int, int) (int, error) {
	<-d.closed
	return 0, os.ErrClosed
}
func (d *countDevice) Write(bufs [][]byte, offset int) (int, error) {
	d.writes.Add(int64(len(bufs)))
	return len(bufs), nil
}
func (d *countDevice) MTU() (int, error)        { return OverlayMTU, nil }
func (d *countDevice) Name() (string, error)    { return "count", nil }
func (d *countDevice) Events() <-chan tun.Event { return nil }
func (d *countDevice) Close() error             { d.once.Do(func() { close(d.closed) }); return nil }
func (d *countDevice) BatchSize() int           { return 1 }

var (
	_ link.Link  = (*countLink)(nil)
	_ tun.Device = (*countDevice)(nil)
)

// testbed is a started node with fake neighbours whose subnets it routes
// directly.
type testbed struct {
	n     *Node
	dev   *countDevice
	links []*countLink
	peers []*identity.KeyPair
}

func newTestbed(tb testing.TB, peers int) *testbed {
	return newTestbedDev(tb, peers, newCountDevice())
}

// newTestbedDev is newTestbed with the device given.
func newTestbedDev(tb testing.TB, peers int, dev *countDevice) *testbed {
	tb.Helper()
	kp, _ := identity.GenerateKeyPair()
	cfg := Default()
	cfg.Key = kp
	cfg.Router.DeadInterval = time.Hour
	var tdev tun.Device = dev
	if dev.rec != nil {
		tdev = dev.rec
	}
	n, err := New(cfg, tdev, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { n.Close() })
	b := &testbed{n: n, dev: dev}
	for i := range peers {
		pk, _ := identity.GenerateKeyPair()
		l := &countLink{name: string(rune('a' + i))}
		n.LinkUp(l)
		t := wire.TLV{Type: wire.TLVUpdate, Update: wire.Update{
			Interval: wire.UpdateInterval, Prefix: pk.Subnet(), RouterID: wire.NewRouterID(pk.Public()),
		}}
		n.HandleControl(l, wire.AppendControl(nil, &t)[wire.OuterHeaderSize:])
		for !n.r.Lookup(pk.Address()).Selected() {
			time.Sleep(time.Millisecond)
		}
		b.links = append(b.links, l)
		b.peers = append(b.peers, pk)
	}
	return b
}

// ipv6Packet returns an IPv6 packet of size bytes (a UDP header-less
// payload of zeros is fine for the data plane).
func ipv6Packet(src, dst netip.Addr, size int, hop uint8) []byte {
	p := make([]byte, size)
	putIPv6Header(p, src, dst, hop, 17, size-ipv6HeaderLen)
	return p
}

// sealedFrom returns a data packet (without outer header) from peer to
// the node carrying plain (user header included).
func (b *testbed) sealedFrom(tb testing.TB, peer int, plain []byte, hop uint8) []byte {
	s, err := b.peers[peer].SharedSecret(b.n.key.Public())
	if err != nil {
		tb.Fatal(err)
	}
	body := s.Seal(nil, plain)
	pkt := wire.AppendDataHeader(nil, wire.DataHeader{
		Length: uint16(len(body)), HopLimit: hop, Src: b.peers[peer].Address(), Dst: b.n.addr,
	})
	return append(pkt, body...)
}

func userPacket(inner []byte) []byte {
	return append([]byte{wire.UserHeaderVersion, wire.KindPacket, 0, 0}, inner...)
}

func TestSendAndReceivePathsDoNotAllocate(t *testing.T) {
	b := newTestbed(t, 2)
	pkt := ipv6Packet(b.n.addr, b.peers[0].Address(), 1400, 64)
	st := newTxState()
	buf := make([]byte, headroom+OverlayMTU+tailroom)
	now := time.Now()
	send := func() {
		copy(buf[headroom:], pkt)
		b.n.sendLocal(st, buf, len(pkt), now)
		b.n.flush(st)
	}
	send()
	if a := testing.AllocsPerRun(200, send); a != 0 {
		t.Errorf("send path allocates %v times per packet", a)
	}
	if b.links[0].data.Load() < 200 {
		t.Fatalf("only %d packets sent", b.links[0].data.Load())
	}

	tmpl := b.sealedFrom(t, 0, userPacket(ipv6Packet(b.peers[0].Address(), b.n.addr, 1400, 64)), 60)
	rx := make([]byte, len(tmpl))
	batch := [][]byte{rx}
	recv := func() {
		copy(rx, tmpl)
		b.n.HandleData(b.links[0], batch)
	}
	recv()
	if a := testing.AllocsPerRun(200, recv); a != 0 {
		t.Errorf("receive path allocates %v times per packet", a)
	}
	if b.dev.writes.Load() < 200 {
		t.Fatalf("only %d packets written to the device", b.dev.writes.Load())
	}

	// Transit: from peer 0 to peer 1 through us.
	s, _ := b.peers[0].SharedSecret(b.peers[1].Public())
	body := s.Seal(nil, userPacket(ipv6Packet(b.peers[0].Address(), b.peers[1].Address(), 1400, 64)))
	fwd := wire.AppendDataHeader(nil, wire.DataHeader{Length: uint16(len(body)), HopLimit: 60, Src: b.peers[0].Address(), Dst: b.peers[1].Address()})
	fwd = append(fwd, body...)
	fbatch := [][]byte{fwd}
	transit := func() { b.n.HandleData(b.links[0], fbatch) }
	transit()
	if a := testing.AllocsPerRun(200, transit); a != 0 {
		t.Errorf("forward path allocates %v times per packet", a)
	}
	if b.links[1].data.Load() < 200 {
		t.Fatalf("only %d packets forwarded", b.links[1].data.Load())
	}
}

// cpuMeter reports the benchmark's CPU time per operation of the calling
// thread, which stays meaningful on a loaded machine.
func cpuMeter(b *testing.B) func() {
	runtime.LockOSThread()
	start, ok := threadCPU()
	return func() {
		if end, ok2 := threadCPU(); ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
		runtime.UnlockOSThread()
	}
}

func BenchmarkSendPath(b *testing.B) {
	tb := newTestbed(b, 1)
	pkt := ipv6Packet(tb.n.addr, tb.peers[0].Address(), 1400, 64)
	st := newTxState()
	buf := make([]byte, headroom+OverlayMTU+tailroom)
	now := time.Now()
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	defer cpuMeter(b)()
	for b.Loop() {
		copy(buf[headroom:], pkt)
		tb.n.sendLocal(st, buf, len(pkt), now)
		tb.n.flush(st)
	}
	if tb.links[0].data.Load() < int64(b.N) {
		b.Fatalf("sent %d of %d", tb.links[0].data.Load(), b.N)
	}
}

func BenchmarkReceivePath(b *testing.B) {
	tb := newTestbed(b, 1)
	tmpl := tb.sealedFrom(b, 0, userPacket(ipv6Packet(tb.peers[0].Address(), tb.n.addr, 1400, 64)), 60)
	rx := make([]byte, len(tmpl))
	batch := [][]byte{rx}
	b.SetBytes(1400)
	b.ReportAllocs()
	defer cpuMeter(b)()
	for b.Loop() {
		copy(rx, tmpl)
		tb.n.HandleData(tb.links[0], batch)
	}
	if tb.dev.writes.Load() < int64(b.N) {
		b.Fatalf("delivered %d of %d", tb.dev.writes.Load(), b.N)
	}
}

func BenchmarkForwardPath(b *testing.B) {
	tb := newTestbed(b, 2)
	s, _ := tb.peers[0].SharedSecret(tb.peers[1].Public())
	body := s.Seal(nil, userPacket(ipv6Packet(tb.peers[0].Address(), tb.peers[1].Address(), 1400, 64)))
	pkt := wire.AppendDataHeader(nil, wire.DataHeader{Length: uint16(len(body)), HopLimit: 60, Src: tb.peers[0].Address(), Dst: tb.peers[1].Address()})
	batch := [][]byte{append(pkt, body...)}
	b.SetBytes(1400)
	b.ReportAllocs()
	defer cpuMeter(b)()
	for b.Loop() {
		tb.n.HandleData(tb.links[0], batch)
	}
}

func TestICMPChecksumVector(t *testing.T) {
	// An echo request with a checksum computed elsewhere must verify: the
	// checksum over a message including its checksum is 0.
	src := netip.MustParseAddr("5a6:f0c6:f365:177d:66be:4a2b:d9fd:b59e")
	dst := netip.MustParseAddr("4e7:5ef0:bce0:3097:f411:ef50:242b:57a4")
	b := make([]byte, maxICMPPacket)
	for _, q := range [][]byte{nil, {1}, make([]byte, 1231), make([]byte, 5000)} {
		n := putICMPv6(b, src, dst, 64, icmpUnreach, unreachNoRoute, 0, q)
		if want := ipv6HeaderLen + icmpHeaderLen + min(len(q), maxICMPQuote); n != want {
			t.Errorf("quote %d: packet of %d bytes, want %d", len(q), n, want)
		}
		if c := icmpv6Checksum(src.As16(), dst.As16(), b[ipv6HeaderLen:n]); c != 0 {
			t.Errorf("quote %d: checksum does not verify (%#04x)", len(q), c)
		}
	}
}

func FuzzHandleData(f *testing.F) {
	b := newTestbed(f, 1)
	inner := ipv6Packet(b.peers[0].Address(), b.n.addr, 80, 64)
	f.Add(b.sealedFrom(f, 0, userPacket(inner), 10), false)
	f.Add(userPacket(inner), true)
	f.Add(append([]byte{1, wire.KindICMP, 0, 0}, make([]byte, 70)...), true)
	f.Add(append([]byte{1, wire.KindMessage, 0, 0}, "hello"...), true)
	f.Add([]byte{0, 0, 0, 1}, false)
	f.Fuzz(func(t *testing.T, data []byte, sealIt bool) {
		pkt := data
		if sealIt {
			pkt = b.sealedFrom(t, 0, data, 10)
		}
		b.n.HandleData(b.links[0], [][]byte{pkt})
	})
}

func FuzzHandleControl(f *testing.F) {
	b := newTestbed(f, 1)
	for _, t := range []wire.TLV{
		{Type: wire.TLVHello, Hello: wire.Hello{Interval: 2000}},
		{Type: wire.TLVRouteRequest},
		{Type: wire.TLVUpdate, Update: wire.Update{Prefix: b.peers[0].Subnet(), Metric: 5, Interval: 1}},
	} {
		f.Add(wire.AppendControl(nil, &t)[wire.OuterHeaderSize:])
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		b.n.HandleControl(b.links[0], pkt)
	})
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
