package node_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/node"
	"github.com/mycelium-go/mycelium/core/nodetest"
	"github.com/mycelium-go/mycelium/core/router"
	"github.com/mycelium-go/mycelium/core/wire"
)

// line starts n linked nodes in a line and waits for the links.
func line(t *testing.T, n int, opts nodetest.Options) (*nodetest.Net, context.Context) {
	t.Helper()
	nt := nodetest.New(t, n, opts)
	nt.Line()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	if err := nt.WaitLinks(ctx); err != nil {
		t.Fatal(err)
	}
	return nt, ctx
}

// collect returns a function that waits for the next device packet of m
// matching keep.
func collect(m *nodetest.Member, keep func(nodetest.Packet) bool) func(ctx context.Context) (nodetest.Packet, []byte, bool) {
	ch := make(chan []byte, 64)
	m.Tap(func(pkt []byte) {
		if p, ok := nodetest.Parse(pkt); ok && keep(p) {
			ch <- pkt
		}
	})
	return func(ctx context.Context) (nodetest.Packet, []byte, bool) {
		select {
		case raw := <-ch:
			p, _ := nodetest.Parse(raw)
			return p, raw, true
		case <-ctx.Done():
			return nodetest.Packet{}, nil, false
		}
	}
}

func isICMPError(p nodetest.Packet) bool { return p.Next == nodetest.ProtoICMPv6 && p.ICMPType < 128 }

func TestLocalICMPErrors(t *testing.T) {
	nt, ctx := line(t, 2, nodetest.Options{})
	a, b := nt.Members[0], nt.Members[1]
	next := collect(a, isICMPError)
	own := a.Address()
	neighbourInOwn := netip.AddrFrom16(func() [16]byte { x := own.As16(); x[15] ^= 1; return x }())
	big := make([]byte, node.OverlayMTU)
	tests := []struct {
		name       string
		pkt        []byte
		typ, code  uint8
		mtu        uint32
		quotedSize int
	}{
		{"destination in own /64", nodetest.UDP(own, neighbourInOwn, 1, 2, 64, []byte("x")), 1, 3, 0, 49},
		{"source outside own /64", nodetest.UDP(b.Address(), b.Address(), 1, 2, 64, []byte("x")), 1, 5, 0, 49},
		{"bigger than the overlay MTU", nodetest.UDP(own, b.Address(), 1, 2, 64, big), 2, 0, node.OverlayMTU, 1232},
		{"hop limit 1", nodetest.UDP(own, b.Address(), 1, 2, 1, []byte("x")), 3, 0, 0, 49},
	}
	for _, tt := range tests {
		if err := a.Inject(ctx, tt.pkt); err != nil {
			t.Fatal(err)
		}
		p, raw, ok := next(ctx)
		if !ok {
			t.Fatalf("%s: no ICMP error", tt.name)
		}
		if p.ICMPType != tt.typ || p.ICMPCode != tt.code || !p.ChecksumOK {
			t.Errorf("%s: ICMP %d/%d checksum ok %v, want %d/%d", tt.name, p.ICMPType, p.ICMPCode, p.ChecksumOK, tt.typ, tt.code)
		}
		if p.Src != own || p.Dst != netip.AddrFrom16([16]byte(tt.pkt[8:24])) || p.HopLimit != 64 {
			t.Errorf("%s: ICMP %s -> %s hop %d", tt.name, p.Src, p.Dst, p.HopLimit)
		}
		if got := binary.BigEndian.Uint32(p.Payload[4:8]); got != tt.mtu {
			t.Errorf("%s: MTU field %d, want %d", tt.name, got, tt.mtu)
		}
		quote := p.Payload[8:]
		if len(quote) != tt.quotedSize || !bytes.Equal(quote, tt.pkt[:len(quote)]) {
			t.Errorf("%s: quote of %d bytes, want the first %d of the packet", tt.name, len(quote), tt.quotedSize)
		}
		if len(raw) > 1280 {
			t.Errorf("%s: ICMP packet of %d bytes exceeds 1280", tt.name, len(raw))
		}
	}
}

func TestHopLimitAlongTheWay(t *testing.T) {
	nt, ctx := line(t, 5, nodetest.Options{})
	next := collect(nt.Members[4], func(p nodetest.Packet) bool { return string(p.UDPPayload) == "hops" })
	if err := nt.Members[0].SendUDP(ctx, nt.Members[4].Address(), []byte("hops")); err != nil {
		t.Fatal(err)
	}
	p, _, ok := next(ctx)
	if !ok {
		t.Fatal("not delivered")
	}
	// 64, minus one at the origin, three forwarders and the receiver.
	if p.HopLimit != 59 || !p.ChecksumOK || p.Src != nt.Members[0].Address() {
		t.Errorf("delivered hop limit %d checksum %v src %s, want 59", p.HopLimit, p.ChecksumOK, p.Src)
	}
}

func TestOOBTimeExceeded(t *testing.T) {
	nt, ctx := line(t, 3, nodetest.Options{})
	a, c := nt.Members[0], nt.Members[2]
	if err := nt.Exchange(ctx, 0, 2, "warm up"); err != nil {
		t.Fatal(err)
	}
	if err := nt.Exchange(ctx, 2, 0, "warm up back"); err != nil {
		t.Fatal(err)
	}
	next := collect(a, isICMPError)
	// Hop limit 2: 1 on the wire after our own step, so node 1 gives up.
	orig := nodetest.UDP(a.Address(), c.Address(), 7, 8, 2, []byte("too far"))
	if err := a.Inject(ctx, orig); err != nil {
		t.Fatal(err)
	}
	p, _, ok := next(ctx)
	if !ok {
		t.Fatal("no time exceeded")
	}
	if p.ICMPType != 3 || p.ICMPCode != 0 || !p.ChecksumOK {
		t.Errorf("got ICMP %d/%d checksum %v, want time exceeded", p.ICMPType, p.ICMPCode, p.ChecksumOK)
	}
	if want := nt.Members[1].Key.Subnet().Addr(); p.Src != want || p.Dst != a.Address() {
		t.Errorf("ICMP %s -> %s, want from node 1's /64 (%s) to us", p.Src, p.Dst, want)
	}
	quote := p.Payload[8:]
	if !bytes.Equal(quote, orig) {
		t.Errorf("quote does not hold our packet as we sent it")
	}
	m1 := nt.Members[1].Node.Metrics()
	for deadline := time.Now().Add(5 * time.Second); m1.OOBSent.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // counted after the report left
	}
	if m1.RoutedTTL.Load() != 1 || m1.OOBSent.Load() != 1 {
		t.Error("node 1 did not count the expired packet and its report")
	}
}

func TestOOBNoRoute(t *testing.T) {
	nt, ctx := line(t, 3, nodetest.Options{})
	a, b, c := nt.Members[0], nt.Members[1], nt.Members[2]
	_ = a
	if err := nt.Exchange(ctx, 0, 2, "warm up"); err != nil {
		t.Fatal(err)
	}
	// Node 1 loses its route to 2; a packet already on its way from 0 to 2
	// comes back as "no route".
	nt.Pair(1, 2).Cut()
	for b.Node.Router().Lookup(c.Address()).Selected() {
		time.Sleep(5 * time.Millisecond)
	}
	next := collect(a, isICMPError)
	orig := nodetest.UDP(a.Address(), c.Address(), 7, 8, 64, []byte("gone"))
	s, err := a.Key.SharedSecret(c.Key.Public())
	if err != nil {
		t.Fatal(err)
	}
	plain := append([]byte{1, 0, 0, 0}, orig...)
	body := s.Seal(nil, plain)
	pkt := wire.AppendOuterHeader(nil, wire.TypeData)
	pkt = wire.AppendDataHeader(pkt, wire.DataHeader{Length: uint16(len(body)), HopLimit: 63, Src: a.Address(), Dst: c.Address()})
	if err := nt.Pair(0, 1).A.SendData(append(pkt, body...)); err != nil {
		t.Fatal(err)
	}
	p, _, ok := next(ctx)
	if !ok {
		t.Fatal("no destination unreachable")
	}
	if p.ICMPType != 1 || p.ICMPCode != 0 || p.Src != b.Key.Subnet().Addr() || !bytes.Equal(p.Payload[8:], orig) {
		t.Errorf("got ICMP %d/%d from %s, want no route from node 1 quoting our packet", p.ICMPType, p.ICMPCode, p.Src)
	}
}

func TestQueryTimeoutAnswersNoRoute(t *testing.T) {
	cfg := router.Default()
	cfg.QueryTimeout = 300 * time.Millisecond
	nt, ctx := line(t, 2, nodetest.Options{Router: &cfg})
	a := nt.Members[0]
	next := collect(a, isICMPError)
	nobody, _ := identity.GenerateKeyPair()
	start := time.Now()
	for i := range 3 {
		if err := a.SendUDP(ctx, nobody.Address(), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		p, _, ok := next(ctx)
		if !ok {
			t.Fatalf("ICMP %d missing", i)
		}
		if p.ICMPType != 1 || p.ICMPCode != 0 || p.Src != a.Address() {
			t.Errorf("got ICMP %d/%d from %s, want no route from us", p.ICMPType, p.ICMPCode, p.Src)
		}
	}
	if took := time.Since(start); took < cfg.QueryTimeout {
		t.Errorf("no route reported after %v, before the query timed out", took)
	}
	if m := a.Node.Metrics(); m.Outbound.Enqueued.Load() != 3 || m.Outbound.DroppedTimeout.Load() != 3 {
		t.Errorf("queue counters enqueued %d dropped %d", m.Outbound.Enqueued.Load(), m.Outbound.DroppedTimeout.Load())
	}
}

func TestMessagesAndKeys(t *testing.T) {
	nt, ctx := line(t, 3, nodetest.Options{NoTun: func(i int) bool { return i == 1 }})
	a, c := nt.Members[0], nt.Members[2]
	type msg struct {
		src, dst netip.Addr
		payload  string
	}
	got := make(chan msg, 4)
	c.Node.SetMessageHandler(func(src, dst netip.Addr, payload []byte) {
		got <- msg{src, dst, string(payload)}
	})
	// c is two hops away through a node without a device; the first
	// message waits for the route request.
	if err := a.Node.SendMessage(c.Address(), []byte("frame one")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m.src != a.Address() || m.dst != c.Address() || m.payload != "frame one" {
			t.Errorf("message = %+v", m)
		}
	case <-ctx.Done():
		t.Fatal("message not delivered")
	}
	if pk, ok := a.Node.PublicKeyOf(c.Address()); !ok || pk != c.Key.Public() {
		t.Errorf("PublicKeyOf(c) = %v %v", pk, ok)
	}
	if pk, ok := a.Node.PublicKeyOf(a.Address()); !ok || pk != a.Key.Public() {
		t.Errorf("PublicKeyOf(own) = %v %v", pk, ok)
	}
	unknown, _ := identity.GenerateKeyPair()
	if _, ok := a.Node.PublicKeyOf(unknown.Address()); ok {
		t.Error("PublicKeyOf an unknown address succeeded")
	}
	// The device-less forwarder carried it; its packet statistics saw it.
	stats := nt.Members[1].Node.PacketStats()
	if !slices.ContainsFunc(stats.BySource, func(s node.IPStat) bool { return s.IP == a.Address() && s.Packets > 0 }) {
		t.Errorf("forwarder stats by source = %+v", stats.BySource)
	}
	if err := a.Node.SendMessage(c.Address(), make([]byte, node.OverlayMTU+1)); err == nil {
		t.Error("oversized message accepted")
	}
	names := map[string]bool{}
	for _, s := range a.Node.Samples() {
		names[s.Name] = true
	}
	for _, want := range []string{"mycelium_router_processed_tlvs", "mycelium_router_packets_routed", "mycelium_router_outbound_packet_queue", "mycelium_node_forged_source_dropped", "mycelium_node_route_table_size"} {
		if !names[want] {
			t.Errorf("metric %s missing", want)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	kp, _ := identity.GenerateKeyPair()
	tests := []struct {
		name string
		mod  func(*node.Config)
	}{
		{"no key", func(c *node.Config) { c.Key = nil }},
		{"small MTU", func(c *node.Config) { c.MTU = 1000 }},
		{"no queue", func(c *node.Config) { c.QueueTotal = 0 }},
		{"bad router", func(c *node.Config) { c.Router.HelloInterval = 0 }},
	}
	for _, tt := range tests {
		cfg := node.Default()
		cfg.Key = kp
		tt.mod(&cfg)
		if _, err := node.New(cfg, nil, discard()); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestParkedUntilSenderKeyKnown(t *testing.T) {
	// A short CostInterval: the re-advertisement that follows the first
	// RTT sample of link 0-1 (wire note 11) happens at once, not up to a
	// second later when link 1-2 may already be up and would carry 0's
	// subnet to 2.
	cfg := router.Default()
	cfg.CostInterval = 10 * time.Millisecond
	nt := nodetest.New(t, 3, nodetest.Options{Router: &cfg})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, b, c := nt.Members[0], nt.Members[1], nt.Members[2]
	// Link 1-2 only after 1 learned 0 and its link cost settled: 1 floods
	// 0's subnet before 2 is there, so 2 does not know 0's key when 0's
	// first packet arrives.
	nt.Link(0, 1)
	for {
		f := b.Node.Router().Lookup(a.Address())
		if f.Selected() && f.NextHop.Cost() < 1000 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * cfg.CostInterval)
	nt.Link(1, 2)
	if err := nt.WaitLinks(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Node.Router().Lookup(a.Address()) != nil {
		t.Skip("node 2 learned node 0 early; the parking path was not exercised")
	}
	if err := nt.Exchange(ctx, 0, 2, "parked"); err != nil {
		t.Fatal(err)
	}
	if m := c.Node.Metrics(); m.Incoming.Enqueued.Load() == 0 || m.Incoming.Dequeued.Load() == 0 {
		t.Errorf("incoming queue enqueued %d dequeued %d, want the packet parked then released",
			m.Incoming.Enqueued.Load(), m.Incoming.Dequeued.Load())
	}
}

func TestQueueOverflowAnswersNoRoute(t *testing.T) {
	cfg := router.Default()
	nt, ctx := line(t, 2, nodetest.Options{Router: &cfg, Node: func(c *node.Config) { c.QueuePerSubnet = 2 }})
	a := nt.Members[0]
	next := collect(a, isICMPError)
	nobody, _ := identity.GenerateKeyPair()
	for i := range 3 {
		if err := a.SendUDP(ctx, nobody.Address(), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	p, _, ok := next(short)
	if !ok || p.ICMPType != 1 || p.ICMPCode != 0 || p.Payload[8+40+8] != 2 {
		t.Fatalf("no immediate no-route for the third packet: %+v", p)
	}
	if f := a.Node.Metrics().Outbound.FullSubnet.Load(); f != 1 {
		t.Errorf("queue_full_subnet = %d", f)
	}
}
