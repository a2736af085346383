package link_test

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/link"
	"github.com/mycelium-go/mycelium/core/link/linktest"
	"github.com/mycelium-go/mycelium/core/wire"
)

var (
	addrA = netip.MustParseAddrPort("[2001:db8::a]:9651")
	addrB = netip.MustParseAddrPort("[2001:db8::b]:9651")
)

// exchange sends control and data both ways over a and b and checks that
// each side receives exactly what the other sent, in order.
func exchange(t *testing.T, la, lb link.Link, ra, rb *linktest.Recorder) {
	t.Helper()
	sizes := []int{0, 1, 100, 1400, 1432, 9000, 65535}
	for i, n := range sizes {
		if err := la.SendData(dataPacket(n, uint32(i))); err != nil {
			t.Fatalf("a.SendData(%d): %v", n, err)
		}
		if err := lb.SendData(dataPacket(n, uint32(i))); err != nil {
			t.Fatalf("b.SendData(%d): %v", n, err)
		}
	}
	for i := range 3 {
		if err := la.SendControl(hello(uint16(100 + i))); err != nil {
			t.Fatalf("a.SendControl: %v", err)
		}
		if err := lb.SendControl(hello(uint16(100 + i))); err != nil {
			t.Fatalf("b.SendControl: %v", err)
		}
	}
	for _, side := range []struct {
		name string
		r    *linktest.Recorder
		from link.Link
	}{{"b", rb, lb}, {"a", ra, la}} {
		var data, ctrl [][]byte
		eventually(t, side.name+" receiving everything", func() bool {
			data, ctrl = nil, nil
			for _, e := range side.r.Events() {
				switch e.Kind {
				case linktest.Data:
					data = append(data, e.Pkt)
				case linktest.Control:
					if seq, ok := helloSeq(e.Pkt); ok && seq >= 100 {
						ctrl = append(ctrl, e.Pkt)
					}
				}
			}
			return len(data) >= len(sizes) && len(ctrl) >= 3
		})
		// QUIC datagrams and the stream are not ordered with each other
		for i, n := range sizes {
			want := dataPacket(n, uint32(i))[wire.OuterHeaderSize:]
			if !slices.ContainsFunc(data, func(p []byte) bool { return bytes.Equal(p, want) }) {
				t.Errorf("%s: data packet %d (%d bytes) not received intact", side.name, i, n)
			}
		}
		for i := range 3 {
			if want := hello(uint16(100 + i))[wire.OuterHeaderSize:]; !bytes.Equal(ctrl[i], want) {
				t.Errorf("%s: control %d = %x, want %x", side.name, i, ctrl[i], want)
			}
		}
	}
}

func TestStreamRoundTripInMemory(t *testing.T) {
	var ra, rb linktest.Recorder
	a, _ := startManager(t, testConfig(1), &ra)
	b, _ := startManager(t, testConfig(2), &rb)
	if _, err := linktest.Connect(a, b, addrA, addrB); err != nil {
		t.Fatal(err)
	}
	la, lb := waitUp(t, &ra), waitUp(t, &rb)
	exchange(t, la, lb, &ra, &rb)

	if got := la.Info(); got.Kind != "static" || got.Transport != "tcp" || got.Endpoint != "tcp://[2001:db8::b]:9651" {
		t.Errorf("a's link Info = %+v", got)
	}
	if got, want := la.String(), "TCP [2001:db8::a]:9651 <-> [2001:db8::b]:9651"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if la.StaticCost() != 10 {
		t.Errorf("StaticCost() = %d, want 10 for IPv6 TCP", la.StaticCost())
	}
	if i := la.Info(); i.TxBytes == 0 || i.RxBytes == 0 || i.TxBytes != lb.Info().RxBytes {
		t.Errorf("byte counters: a tx %d rx %d, b rx %d", i.TxBytes, i.RxBytes, lb.Info().RxBytes)
	}
	if time.Since(lb.LastReceive()) > 5*time.Second {
		t.Errorf("LastReceive() = %v, not recent", lb.LastReceive())
	}
}

func TestStreamRoundTripTCP(t *testing.T) {
	var ra, rb linktest.Recorder
	cfgA := testConfig(1)
	cfgA.TCPListen = netip.MustParseAddrPort("[::1]:0")
	a, _ := startManager(t, cfgA, &ra)
	cfgB := testConfig(2)
	cfgB.Peers = []link.Endpoint{{Proto: link.ProtoTCP, Addr: a.TCPAddr()}}
	startManager(t, cfgB, &rb)
	la, lb := waitUp(t, &ra), waitUp(t, &rb)
	exchange(t, la, lb, &ra, &rb)
	if got := la.Info().Kind; got != "inbound" {
		t.Errorf("a's link kind = %q, want inbound", got)
	}
	if got := lb.Info().Kind; got != "static" {
		t.Errorf("b's link kind = %q, want static", got)
	}
}

func TestSendRejectsMalformedPackets(t *testing.T) {
	var ra, rb linktest.Recorder
	a, _ := startManager(t, testConfig(1), &ra)
	b, _ := startManager(t, testConfig(2), &rb)
	if _, err := linktest.Connect(a, b, addrA, addrB); err != nil {
		t.Fatal(err)
	}
	l := waitUp(t, &ra)
	tests := []struct {
		name string
		send func([]byte) error
		pkt  []byte
	}{
		{"control as data", l.SendData, hello(1)},
		{"data as control", l.SendControl, dataPacket(10, 1)},
		{"truncated data", l.SendData, dataPacket(10, 1)[:30]},
		{"trailing bytes", l.SendData, append(dataPacket(10, 1), 0)},
		{"two packets", l.SendControl, append(hello(1), hello(2)...)},
		{"bad version", l.SendData, append([]byte{2}, dataPacket(10, 1)[1:]...)},
		{"empty", l.SendData, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.send(tt.pkt); err == nil {
				t.Errorf("send accepted a malformed packet")
			}
		})
	}
	if err := l.SendControl(hello(7)); err != nil {
		t.Fatalf("SendControl after rejected sends: %v", err)
	}
	if _, err := rb.WaitKind(ctx(t), linktest.Control, nil); err != nil {
		t.Fatal(err)
	}
}

func TestGarbagePeerIsDisconnected(t *testing.T) {
	var r linktest.Recorder
	m, logs := startManager(t, testConfig(1), &r)
	// a healthy link and one whose far end sends garbage
	good := linktest.NewPair(addrA, addrB)
	bad := linktest.NewPair(addrA, netip.MustParseAddrPort("[2001:db8::bad]:1"))
	if err := m.AddConn(good.A, link.Endpoint{Proto: link.ProtoTCP, Addr: addrB}, link.KindInbound); err != nil {
		t.Fatal(err)
	}
	if err := m.AddConn(bad.A, link.Endpoint{Proto: link.ProtoTCP, Addr: netip.MustParseAddrPort("[2001:db8::bad]:1")}, link.KindInbound); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both links up", func() bool { return r.Count(func(e linktest.Event) bool { return e.Kind == linktest.Up }) == 2 })

	// a valid packet, then an unknown outer version
	if _, err := bad.B.Write(append(hello(1), 0x07, 0x00, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef)); err != nil {
		t.Fatal(err)
	}
	e, err := r.WaitKind(ctx(t), linktest.Down, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(e.Err, link.ErrProtocol) || !errors.Is(e.Err, wire.ErrVersion) {
		t.Errorf("LinkDown reason = %v, want ErrProtocol wrapping ErrVersion", e.Err)
	}
	if !strings.Contains(e.Link.Info().Endpoint, "2001:db8::bad") {
		t.Errorf("the wrong link went down: %s", e.Link.Info().Endpoint)
	}
	eventually(t, "a log line about the garbage peer", func() bool {
		return strings.Contains(logs.String(), "peer sent invalid data")
	})
	// the garbage side's socket is closed
	buf := make([]byte, 64)
	for {
		if _, err := bad.B.Read(buf); err != nil {
			break
		}
	}
	// the valid packet before the garbage was still delivered, and the
	// healthy link still works
	if n := r.Count(func(e linktest.Event) bool { return e.Kind == linktest.Control }); n != 1 {
		t.Errorf("%d control packets delivered before the garbage, want 1", n)
	}
	if _, err := good.B.Write(dataPacket(100, 42)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.WaitKind(ctx(t), linktest.Data, nil); err != nil {
		t.Fatal(err)
	}
	if n := r.Count(func(e linktest.Event) bool { return e.Kind == linktest.Down }); n != 1 {
		t.Errorf("%d LinkDown events, want 1", n)
	}
}

// slowHandler delays every data batch to make a backlog build up.
type slowHandler struct {
	linktest.Recorder
	delay         time.Duration
	dataBeforeCtl atomic.Int64 // data packets delivered before the first control
	sawCtl        atomic.Bool
}

func (h *slowHandler) HandleData(l link.Link, pkts [][]byte) {
	time.Sleep(h.delay)
	if !h.sawCtl.Load() {
		h.dataBeforeCtl.Add(int64(len(pkts)))
	}
	h.Recorder.HandleData(l, pkts)
}

func (h *slowHandler) HandleControl(l link.Link, pkt []byte) {
	h.sawCtl.Store(true)
	h.Recorder.HandleControl(l, pkt)
}

func TestControlNotStarvedByData(t *testing.T) {
	const pkt, total = 1472, 600 // ~880 KB of data queued at once
	cfg := testConfig(1)
	cfg.WriteChunk = 16 << 10
	ra := &linktest.Recorder{CountData: true}
	rb := &slowHandler{delay: 2 * time.Millisecond}
	rb.CountData = true
	cfgB := testConfig(2)
	cfgB.ReadBufferSize = 128 << 10
	a, _ := startManager(t, cfg, ra)
	b, _ := startManager(t, cfgB, rb)
	p := linktest.NewPairSize(addrA, addrB, 32<<10)
	if err := a.AddConn(p.A, link.Endpoint{Proto: link.ProtoTCP, Addr: addrB}, link.KindStatic); err != nil {
		t.Fatal(err)
	}
	if err := b.AddConn(p.B, link.Endpoint{Proto: link.ProtoTCP, Addr: addrA}, link.KindInbound); err != nil {
		t.Fatal(err)
	}
	l := waitUp(t, ra)
	for i := range total {
		if err := l.SendData(dataPacket(pkt-40, uint32(i))); err != nil {
			t.Fatalf("SendData %d: %v", i, err)
		}
	}
	time.Sleep(5 * time.Millisecond) // let the writer take the backlog
	already := rb.DataPackets.Load()
	if err := l.SendControl(hello(1)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "control delivered", rb.sawCtl.Load)
	eventually(t, "all data delivered", func() bool { return rb.DataPackets.Load() == total })
	t.Logf("data delivered when control was queued: %d, before control arrived: %d", already, rb.dataBeforeCtl.Load())
	// Ahead of the control packet may be: the writer's current chunk
	// (16 KiB), the pipe (32 KiB) and one read (32 KiB): about 60 packets.
	if got := rb.dataBeforeCtl.Load() - int64(already); got > 120 {
		t.Errorf("%d data packets queued before the control packet were delivered before it; control waited behind the backlog", got)
	}
	t.Logf("control overtook %d of %d queued data packets", total-rb.dataBeforeCtl.Load(), total)
}

func TestQueueFull(t *testing.T) {
	var r linktest.Recorder
	cfg := testConfig(1)
	cfg.SendQueueBytes = 256 << 10
	m, _ := startManager(t, cfg, &r)
	p := linktest.NewPairSize(addrA, addrB, 64<<10)
	if err := m.AddConn(p.A, link.Endpoint{Proto: link.ProtoTCP, Addr: addrB}, link.KindStatic); err != nil {
		t.Fatal(err)
	}
	l := waitUp(t, &r)
	// nobody reads p.B: the pipe fills, the writer blocks, the queue fills
	pkt := dataPacket(1432, 0)
	accepted := 0
	start := time.Now()
	for {
		err := l.SendData(pkt)
		if errors.Is(err, link.ErrQueueFull) {
			break
		}
		if err != nil {
			t.Fatalf("SendData: %v", err)
		}
		accepted++
		if accepted > 10000 {
			t.Fatal("SendData never reported a full queue")
		}
		if accepted%50 == 0 {
			time.Sleep(time.Millisecond) // let the writer move what it can
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("filling the queue took %v; SendData must not block", d)
	}
	// at most the queue, the writer's batch and the pipe buffer
	if max := (2*cfg.SendQueueBytes + 64<<10) / len(pkt); accepted > max+1 || accepted < cfg.SendQueueBytes/len(pkt) {
		t.Errorf("accepted %d packets before ErrQueueFull, want between %d and %d", accepted, cfg.SendQueueBytes/len(pkt), max)
	}
	for range 10 {
		if err := l.SendData(pkt); !errors.Is(err, link.ErrQueueFull) {
			t.Fatalf("SendData on a full queue = %v, want ErrQueueFull", err)
		}
	}
	if err := l.SendControl(hello(1)); err != nil {
		t.Errorf("SendControl with a full data queue = %v, want nil", err)
	}
	// draining the peer unblocks the link
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := p.B.Read(buf); err != nil {
				return
			}
		}
	}()
	eventually(t, "queue drained", func() bool { return l.SendData(pkt) == nil })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := waitDown(t, &r, l); !errors.Is(err, link.ErrClosed) {
		t.Errorf("LinkDown after Close = %v, want ErrClosed", err)
	}
	if err := l.SendData(pkt); !errors.Is(err, link.ErrClosed) {
		t.Errorf("SendData after Close = %v, want ErrClosed", err)
	}
}

func TestCutAndBlackhole(t *testing.T) {
	var ra, rb linktest.Recorder
	a, _ := startManager(t, testConfig(1), &ra)
	b, _ := startManager(t, testConfig(2), &rb)

	// a cut is seen at once on both sides
	p, err := linktest.Connect(a, b, addrA, addrB)
	if err != nil {
		t.Fatal(err)
	}
	la, lb := waitUp(t, &ra), waitUp(t, &rb)
	p.Cut()
	if err := waitDown(t, &ra, la); err == nil {
		t.Error("a: LinkDown with nil reason")
	}
	waitDown(t, &rb, lb)

	// a blackhole is silent: the link stays up, LastReceive stops moving,
	// and Close (the node's liveness decision) ends it
	addrC := netip.MustParseAddrPort("[2001:db8::c]:9651")
	p2, err := linktest.Connect(a, b, addrA, addrC)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ra.Wait(ctx(t), func(e linktest.Event) bool { return e.Kind == linktest.Up && e.Link != la })
	if err != nil {
		t.Fatal(err)
	}
	la2 := e.Link
	p2.Blackhole()
	last := la2.LastReceive()
	for i := range 20 {
		if err := la2.SendControl(hello(uint16(i))); err != nil {
			t.Fatalf("SendControl into a blackhole: %v", err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if got := la2.LastReceive(); !got.Equal(last) {
		t.Errorf("LastReceive moved during a blackhole: %v -> %v", last, got)
	}
	if n := ra.Count(func(e linktest.Event) bool { return e.Kind == linktest.Down && e.Link == la2 }); n != 0 {
		t.Fatal("a blackholed link went down by itself")
	}
	la2.Close()
	if err := waitDown(t, &ra, la2); !errors.Is(err, link.ErrClosed) {
		t.Errorf("LinkDown = %v, want ErrClosed", err)
	}
}

func TestIPv4PeerOnDualStackListener(t *testing.T) {
	var ra, rb linktest.Recorder
	cfgA := testConfig(1)
	cfgA.TCPListen = netip.MustParseAddrPort("[::]:0")
	a, _ := startManager(t, cfgA, &ra)
	cfgB := testConfig(2)
	cfgB.Peers = []link.Endpoint{link.MustParseEndpoint("tcp://127.0.0.1:" + strconv.Itoa(int(a.TCPAddr().Port())))}
	startManager(t, cfgB, &rb)
	la, lb := waitUp(t, &ra), waitUp(t, &rb)
	if r := la.Info().Remote; !r.Addr().Is4() {
		t.Errorf("inbound remote %v, want an unmapped IPv4 address", r)
	}
	if !strings.HasPrefix(la.Info().Endpoint, "tcp://127.0.0.1:") {
		t.Errorf("inbound endpoint %q", la.Info().Endpoint)
	}
	if la.StaticCost() != 15 || lb.StaticCost() != 15 {
		t.Errorf("StaticCost() = %d, %d; want 15 for IPv4 TCP", la.StaticCost(), lb.StaticCost())
	}
}
