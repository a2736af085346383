package message_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/link"
	"github.com/mycelium-go/mycelium/core/message"
	"github.com/mycelium-go/mycelium/core/node"
	"github.com/mycelium-go/mycelium/core/nodetest"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// attach starts a bus on a node, as the daemon wires it.
func attach(tb testing.TB, n *node.Node, mod func(*message.Config)) *message.Bus {
	tb.Helper()
	cfg := message.Default()
	cfg.Key = n.PublicKey()
	if mod != nil {
		mod(&cfg)
	}
	b, err := message.New(cfg, n, n, discard())
	if err != nil {
		tb.Fatal(err)
	}
	n.SetMessageHandler(b.Handle)
	ctx, cancel := context.WithCancel(context.Background())
	if err := b.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		n.SetMessageHandler(nil)
		cancel()
		b.Close()
	})
	return b
}

func popWithin(t *testing.T, b *message.Bus, topic []byte, d time.Duration) *message.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	m, ok := b.Pop(ctx, topic, topic != nil, false)
	if !ok {
		t.Fatalf("no message within %v", d)
	}
	return m
}

// TestNodesMessages runs the bus over real in-memory nodes: A - B - C in
// a line, so messages from A to C are routed through B.
func TestNodesMessages(t *testing.T) {
	net := nodetest.New(t, 3, nodetest.Options{NoTun: func(int) bool { return true }})
	net.Line()
	a := attach(t, net.Members[0].Node, nil)
	attach(t, net.Members[1].Node, nil)
	c := attach(t, net.Members[2].Node, nil)
	cAddr := net.Members[2].Address()

	// Push with a topic, pop, reply, and the reply reaches the waiter.
	topic := []byte("chat")
	type result struct {
		m   *message.Message
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		_, m, err := a.PushWait(ctx, message.Outgoing{Dst: cAddr, Topic: topic, Payload: []byte("hello")})
		done <- result{m, err}
	}()
	m := popWithin(t, c, topic, 30*time.Second)
	if string(m.Payload) != "hello" || m.SrcPK != net.Members[0].Key.Public() {
		t.Fatalf("C popped %+v", m)
	}
	if err := c.Reply(m.ID, m.SrcIP, []byte("world")); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || string(r.m.Payload) != "world" || r.m.SrcPK != net.Members[2].Key.Public() {
		t.Fatalf("reply = %+v, %v", r.m, r.err)
	}

	// 1 MiB arrives intact, over two hops.
	data := make([]byte, 1<<20)
	rand.Read(data)
	if _, err := a.Push(message.Outgoing{Dst: cAddr, Payload: data}); err != nil {
		t.Fatal(err)
	}
	if m := popWithin(t, c, nil, 60*time.Second); !bytes.Equal(m.Payload, data) {
		t.Fatal("1 MiB message corrupted")
	}
}

func TestNodesWhitelistAndDeadline(t *testing.T) {
	net := nodetest.New(t, 3, nodetest.Options{NoTun: func(int) bool { return true }})
	net.Line()
	a := attach(t, net.Members[0].Node, nil)
	b := attach(t, net.Members[1].Node, nil)
	c := attach(t, net.Members[2].Node, nil)
	topic := []byte("private")
	if err := c.AddTopicSource(topic, net.Members[1].Node.Subnet()); err != nil {
		t.Fatal(err)
	}
	cAddr := net.Members[2].Address()
	idA, _ := a.Push(message.Outgoing{Dst: cAddr, Topic: topic, Payload: []byte("outsider"), Timeout: time.Second})
	b.Push(message.Outgoing{Dst: cAddr, Topic: topic, Payload: []byte("insider")})
	if m := popWithin(t, c, topic, 30*time.Second); string(m.Payload) != "insider" {
		t.Fatalf("C popped %q", m.Payload)
	}
	// The outsider's message never arrives; its status ends aborted.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, _ := a.Status(idA)
		if s.State == message.StateAborted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outsider's status = %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if m, ok := c.Pop(ctx, nil, false, false); ok {
		t.Fatalf("C got %q from outside the whitelist", m.Payload)
	}
}

// tcpNodes starts two nodes joined by a real TCP link on loopback (the
// link package's stream transport and framing) with a bus each.
func tcpNodes(tb testing.TB) (a, b *message.Bus, bAddr netip.Addr) {
	return tcpNodesWith(tb, nil)
}

// tcpNodesWith is tcpNodes with the sender's bus config adjusted by mod.
func tcpNodesWith(tb testing.TB, mod func(*message.Config)) (a, b *message.Bus, bAddr netip.Addr) {
	tb.Helper()
	var buses [2]*message.Bus
	var mgrs [2]*link.Manager
	var nodes [2]*node.Node
	for i := range 2 {
		kp, err := identity.GenerateKeyPair()
		if err != nil {
			tb.Fatal(err)
		}
		cfg := node.Default()
		cfg.Key = kp
		n, err := node.New(cfg, nil, discard())
		if err != nil {
			tb.Fatal(err)
		}
		if err := n.Start(context.Background()); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { n.Close() })
		lc := link.Default()
		lc.RouterID = n.Router().ID()
		lc.DisableQUIC, lc.DisableDiscovery = true, true
		lc.TCPListen = netip.MustParseAddrPort("127.0.0.1:0")
		m, err := link.New(lc, n, discard())
		if err != nil {
			tb.Fatal(err)
		}
		if err := m.Start(context.Background()); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { m.Close() })
		nodes[i], mgrs[i] = n, m
		buses[i] = attach(tb, n, func(c *message.Config) {
			c.MaxInboxMessages, c.MaxTopicMessages = 1<<16, 1<<16
			if i == 0 && mod != nil {
				mod(c)
			}
		})
	}
	ep, err := link.ParseEndpoint("tcp://" + mgrs[1].TCPAddr().String())
	if err != nil {
		tb.Fatal(err)
	}
	if err := mgrs[0].AddPeer(ep); err != nil {
		tb.Fatal(err)
	}
	// Wait until A can send to B: a first message goes through.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := buses[0].Push(message.Outgoing{Dst: nodes[1].Address(), Payload: []byte("warm up")}); err != nil {
		tb.Fatal(err)
	}
	if _, ok := buses[1].Pop(ctx, nil, false, false); !ok {
		tb.Fatal("nodes never connected")
	}
	return buses[0], buses[1], nodes[1].Address()
}

func TestNodesTCP(t *testing.T) {
	a, b, bAddr := tcpNodes(t)
	data := make([]byte, 1<<20)
	rand.Read(data)
	if _, err := a.Push(message.Outgoing{Dst: bAddr, Payload: data}); err != nil {
		t.Fatal(err)
	}
	if m := popWithin(t, b, nil, 30*time.Second); !bytes.Equal(m.Payload, data) {
		t.Fatal("1 MiB over TCP corrupted")
	}
}

// BenchmarkNodesTCPLarge: 4 MiB messages between two real nodes over a
// loopback TCP link, push to pop.
func BenchmarkNodesTCPLarge(b *testing.B) { benchNodesLarge(b, nil) }

// BenchmarkNodesTCPLargeReferenceLike is the same with the reference's
// sending discipline (everything at once, fixed 100 ms retransmission).
func BenchmarkNodesTCPLargeReferenceLike(b *testing.B) { benchNodesLarge(b, message.ReferenceLike) }

func benchNodesLarge(b *testing.B, mod func(*message.Config)) {
	a, c, dst := tcpNodesWith(b, mod)
	data := make([]byte, 4<<20)
	rand.Read(data)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Push(message.Outgoing{Dst: dst, Payload: data}); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(b.Context(), time.Minute)
		m, ok := c.Pop(ctx, nil, false, false)
		cancel()
		if !ok || len(m.Payload) != len(data) {
			b.Fatal("message lost")
		}
	}
}

// BenchmarkNodesTCPSmall: 100-byte messages between two real nodes over
// a loopback TCP link; ns/op is per message.
func BenchmarkNodesTCPSmall(b *testing.B) {
	a, c, dst := tcpNodes(b)
	payload := make([]byte, 100)
	ctx, cancel := context.WithTimeout(b.Context(), 5*time.Minute)
	defer cancel()
	b.ReportAllocs()
	start := time.Now()
	pushed, popped := 0, 0
	for popped < b.N {
		for pushed < b.N && pushed-popped < 256 {
			if _, err := a.Push(message.Outgoing{Dst: dst, Payload: payload}); err != nil {
				b.Fatal(err)
			}
			pushed++
		}
		if _, ok := c.Pop(ctx, nil, false, false); !ok {
			b.Fatal("message lost")
		}
		popped++
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
}
