package link_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/link"
	"github.com/mycelium-go/mycelium/core/link/linktest"
)

func TestNewRejectsBadConfig(t *testing.T) {
	log, _ := testLogger(t)
	tests := []struct {
		name string
		mod  func(*link.Config)
	}{
		{"no router id with quic", func(c *link.Config) { c.RouterID = routerID(0); c.DisableQUIC = false }},
		{"tls peer", func(c *link.Config) { c.Peers = []link.Endpoint{link.MustParseEndpoint("tls://[::1]:1")} }},
		{"min above max", func(c *link.Config) { c.ReconnectMin = time.Minute }},
		{"tiny send queue", func(c *link.Config) { c.SendQueueBytes = 1000 }},
		{"body bound too big", func(c *link.Config) { c.MaxDataBody = 70000 }},
		{"tiny read buffer", func(c *link.Config) { c.ReadBufferSize = 4096 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(1)
			tt.mod(&cfg)
			if _, err := link.New(cfg, &linktest.Recorder{}, log); err == nil {
				t.Error("New accepted the config")
			}
		})
	}
	if _, err := link.New(testConfig(1), nil, log); err == nil {
		t.Error("New accepted a nil handler")
	}
}

func TestAddRemovePeer(t *testing.T) {
	var ra, rb linktest.Recorder
	cfgA := testConfig(1)
	cfgA.TCPListen = netip.MustParseAddrPort("[::1]:0")
	a, _ := startManager(t, cfgA, &ra)
	b, _ := startManager(t, testConfig(2), &rb)

	ep := link.Endpoint{Proto: link.ProtoTCP, Addr: a.TCPAddr()}
	if err := b.AddPeer(ep); err != nil {
		t.Fatal(err)
	}
	if err := b.AddPeer(ep); !errors.Is(err, link.ErrPeerExists) {
		t.Errorf("second AddPeer = %v, want ErrPeerExists", err)
	}
	for _, s := range []string{"tls://[::1]:9651", "vsock://3:9651", "quic://[::1]:9651"} {
		if err := b.AddPeer(link.MustParseEndpoint(s)); !errors.Is(err, link.ErrUnsupported) {
			t.Errorf("AddPeer(%s) = %v, want ErrUnsupported", s, err)
		}
	}
	if err := b.AddPeer(link.Endpoint{Proto: link.ProtoTCP}); !errors.Is(err, link.ErrEndpoint) {
		t.Errorf("AddPeer(no address) = %v, want ErrEndpoint", err)
	}
	lb, la := waitUp(t, &rb), waitUp(t, &ra)

	eventually(t, "b's peer alive with traffic", func() bool {
		_ = lb.SendControl(hello(1))
		ps := b.Peers()
		return len(ps) == 1 && ps[0].State == link.StateAlive && ps[0].TxBytes > 0
	})
	ps := b.Peers()[0]
	if ps.Endpoint != ep || ps.Kind != link.KindStatic || ps.LastConnected.IsZero() || ps.Link != lb.String() {
		t.Errorf("b.Peers()[0] = %+v", ps)
	}
	if pa := a.Peers(); len(pa) != 1 || pa[0].Kind != link.KindInbound || pa[0].State != link.StateAlive {
		t.Errorf("a.Peers() = %+v, want one alive inbound peer", pa)
	}

	if err := b.RemovePeer(ep); err != nil {
		t.Fatal(err)
	}
	if err := waitDown(t, &rb, lb); err == nil {
		t.Error("LinkDown after RemovePeer with nil reason")
	}
	waitDown(t, &ra, la) // the remote sees the connection end
	if err := b.RemovePeer(ep); !errors.Is(err, link.ErrPeerNotFound) {
		t.Errorf("second RemovePeer = %v, want ErrPeerNotFound", err)
	}
	time.Sleep(3 * testConfig(0).ReconnectMax / 2)
	if n := rb.Count(func(e linktest.Event) bool { return e.Kind == linktest.Up }); n != 1 {
		t.Errorf("%d links came up for b; a removed peer was redialled", n)
	}
	if len(b.Peers()) != 0 {
		t.Errorf("b.Peers() = %+v after RemovePeer", b.Peers())
	}
	eventually(t, "a forgets the inbound peer", func() bool { return len(a.Peers()) == 0 })
}

func TestReconnectAfterRemoteRestart(t *testing.T) {
	// reserve a port, then free it for manager a
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()

	startA := func(r *linktest.Recorder) *link.Manager {
		cfg := testConfig(1)
		cfg.TCPListen = addr
		log, _ := testLogger(t)
		m, err := link.New(cfg, r, log)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return m
	}
	var ra1, ra2, rb linktest.Recorder
	a1 := startA(&ra1)
	cfgB := testConfig(2)
	cfgB.Peers = []link.Endpoint{{Proto: link.ProtoTCP, Addr: addr}}
	b, _ := startManager(t, cfgB, &rb)
	l1 := waitUp(t, &rb)

	// the remote goes away: the link drops at once, redials fail and
	// back off, and the peer shows up as connecting or dead
	a1.Close()
	waitDown(t, &rb, l1)
	time.Sleep(300 * time.Millisecond)
	if ps := b.Peers(); len(ps) != 1 || ps[0].State == link.StateAlive {
		t.Errorf("b.Peers() while a is down = %+v", ps)
	}

	// the remote restarts: b reconnects promptly
	restarted := time.Now()
	a2 := startA(&ra2)
	defer a2.Close()
	e, err := rb.Wait(ctx(t), func(e linktest.Event) bool { return e.Kind == linktest.Up && e.Link != l1 })
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(restarted); d > 2*testConfig(0).ReconnectMax {
		t.Errorf("reconnected %v after the restart, want within the backoff cap", d)
	}
	waitUp(t, &ra2)
	if err := e.Link.SendControl(hello(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := ra2.WaitKind(ctx(t), linktest.Control, nil); err != nil {
		t.Fatal(err)
	}
	if ps := b.Peers(); len(ps) != 1 || ps[0].State != link.StateAlive {
		t.Errorf("b.Peers() after reconnect = %+v", ps)
	}
}

func TestDiscoveredPeerForgottenAfterFailures(t *testing.T) {
	net := linktest.NewNetwork()
	cfg := testConfig(1)
	if err := net.Attach(&cfg, addrA); err != nil {
		t.Fatal(err)
	}
	m, logs := startManager(t, cfg, &linktest.Recorder{})
	ep := link.MustParseEndpoint("tcp://[2001:db8::dead]:9651") // nobody listens
	link.AddDiscoveredForTest(m, ep)
	link.AddDiscoveredForTest(m, ep) // known already: ignored
	if ps := m.Peers(); len(ps) != 1 || ps[0].Kind != link.KindDiscovered {
		t.Fatalf("Peers() = %+v, want one discovered peer", ps)
	}
	eventually(t, "the discovered peer forgotten", func() bool { return len(m.Peers()) == 0 })
	if got := logs.String(); !strings.Contains(got, "forgetting discovered peer") || !strings.Contains(got, "failures=3") {
		t.Errorf("logs do not report forgetting after 3 failures:\n%s", got)
	}
	// a static peer is never forgotten
	if err := m.AddPeer(ep); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if ps := m.Peers(); len(ps) != 1 || ps[0].State == link.StateAlive {
		t.Errorf("Peers() = %+v, want the static peer still there, not alive", ps)
	}
}

func TestInboundDuplicateReplaced(t *testing.T) {
	var r linktest.Recorder
	m, _ := startManager(t, testConfig(1), &r)
	ep := link.Endpoint{Proto: link.ProtoTCP, Addr: addrB}
	p1 := linktest.NewPair(addrA, addrB)
	if err := m.AddConn(p1.A, ep, link.KindInbound); err != nil {
		t.Fatal(err)
	}
	l1 := waitUp(t, &r)
	p2 := linktest.NewPair(addrA, addrB)
	if err := m.AddConn(p2.A, ep, link.KindInbound); err != nil {
		t.Fatal(err)
	}
	if err := waitDown(t, &r, l1); err == nil {
		t.Error("replaced link went down with nil reason")
	}
	eventually(t, "one alive inbound peer", func() bool {
		ps := m.Peers()
		return len(ps) == 1 && ps[0].State == link.StateAlive
	})
	// a static AddConn for a known endpoint is refused
	if err := m.AddConn(linktest.NewPair(addrA, addrB).A, ep, link.KindStatic); err != nil {
		t.Fatalf("first static AddConn: %v", err)
	}
	if err := m.AddConn(linktest.NewPair(addrA, addrB).A, ep, link.KindStatic); !errors.Is(err, link.ErrPeerExists) {
		t.Errorf("second static AddConn = %v, want ErrPeerExists", err)
	}
}

func TestInMemoryNetworkRedial(t *testing.T) {
	net := linktest.NewNetwork()
	var ra, rb linktest.Recorder
	cfgA, cfgB := testConfig(1), testConfig(2)
	if err := net.Attach(&cfgA, addrA); err != nil {
		t.Fatal(err)
	}
	if err := net.Attach(&cfgB, addrB); err != nil {
		t.Fatal(err)
	}
	cfgB.Peers = []link.Endpoint{{Proto: link.ProtoTCP, Addr: addrA}}
	startManager(t, cfgA, &ra)
	startManager(t, cfgB, &rb)
	l1 := waitUp(t, &rb)
	for _, p := range net.Pairs(addrA.Addr(), addrB.Addr()) {
		p.Cut()
	}
	waitDown(t, &rb, l1)
	if _, err := rb.Wait(ctx(t), func(e linktest.Event) bool { return e.Kind == linktest.Up && e.Link != l1 }); err != nil {
		t.Fatal(err)
	}
}

func TestCloseBeforeAndAfterStart(t *testing.T) {
	log, _ := testLogger(t)
	m, err := link.New(testConfig(1), &linktest.Recorder{}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.AddPeer(link.MustParseEndpoint("tcp://[::1]:1")); !errors.Is(err, link.ErrNotRunning) {
		t.Errorf("AddPeer before Start = %v, want ErrNotRunning", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err == nil {
		t.Error("Start after Close succeeded")
	}

	// cancelling the Start context stops the manager
	var r linktest.Recorder
	c, cancel := context.WithCancel(context.Background())
	m2, err := link.New(testConfig(1), &r, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Start(c); err != nil {
		t.Fatal(err)
	}
	p := linktest.NewPair(addrA, addrB)
	if err := m2.AddConn(p.A, link.Endpoint{Proto: link.ProtoTCP, Addr: addrB}, link.KindInbound); err != nil {
		t.Fatal(err)
	}
	l := waitUp(t, &r)
	cancel()
	if err := waitDown(t, &r, l); !errors.Is(err, link.ErrClosed) {
		t.Errorf("LinkDown after cancel = %v, want ErrClosed", err)
	}
	m2.Close()
	m2.Close()
}
