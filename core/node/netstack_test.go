package node_test

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/link"
	"github.com/mycelium-go/mycelium/core/netstack"
	"github.com/mycelium-go/mycelium/core/node"
)

// stackNode is a node whose device is a userspace netstack, with a link
// manager on loopback TCP: the whole data plane, no root needed.
type stackNode struct {
	key   *identity.KeyPair
	st    *netstack.Stack
	n     *node.Node
	links *link.Manager
}

// newStackNode starts a node that listens on 127.0.0.1 (peer nil) or
// dials peer's listener.
func newStackNode(tb testing.TB, peer *stackNode) *stackNode {
	tb.Helper()
	log := slog.New(slog.DiscardHandler)
	key, err := identity.GenerateKeyPair()
	if err != nil {
		tb.Fatal(err)
	}
	st, err := netstack.New(netstack.Config{Addr: key.Address(), Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	cfg := node.Default()
	cfg.Key = key
	n, err := node.New(cfg, st, log)
	if err != nil {
		st.Close()
		tb.Fatal(err)
	}
	lcfg := link.Default()
	lcfg.DisableQUIC, lcfg.DisableDiscovery = true, true
	lcfg.TCPListen = netip.AddrPort{}
	if peer == nil {
		lcfg.TCPListen = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 0)
	} else {
		lcfg.Peers = []link.Endpoint{{Proto: link.ProtoTCP, Addr: peer.links.TCPAddr()}}
	}
	m, err := link.New(lcfg, n, log)
	if err != nil {
		n.Close()
		tb.Fatal(err)
	}
	sn := &stackNode{key: key, st: st, n: n, links: m}
	if err := n.Start(context.Background()); err != nil {
		n.Close()
		tb.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		n.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		m.Close()
		n.Close()
	})
	return sn
}

// stackPair returns two stack nodes linked over loopback TCP, each with a
// route and the key of the other.
func stackPair(tb testing.TB) (a, b *stackNode) {
	a = newStackNode(tb, nil)
	b = newStackNode(tb, a)
	deadline := time.Now().Add(20 * time.Second)
	for !a.n.Router().Lookup(b.key.Address()).Keyed() || !b.n.Router().Lookup(a.key.Address()).Keyed() ||
		!a.n.Router().Lookup(b.key.Address()).Selected() || !b.n.Router().Lookup(a.key.Address()).Selected() {
		if time.Now().After(deadline) {
			tb.Fatal("stack nodes did not learn each other's routes in 20 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return a, b
}

// bulkConn dials from b's stack to a listener on a's stack. The receiver
// hashes everything it reads and reports the count and SHA-256 on the
// channel once the connection ends.
func bulkConn(tb testing.TB, a, b *stackNode, port uint16) (net.Conn, <-chan sum) {
	tb.Helper()
	ln, err := a.st.Listen("tcp", netip.AddrPortFrom(netip.IPv6Unspecified(), port).String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	done := make(chan sum, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- sum{}
			return
		}
		defer c.Close()
		h := sha256.New()
		n, _ := io.Copy(h, c)
		done <- sum{n: n, hash: [32]byte(h.Sum(nil))}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := b.st.Dial(ctx, "tcp", netip.AddrPortFrom(a.key.Address(), port).String())
	if err != nil {
		tb.Fatal(err)
	}
	return c, done
}

type sum struct {
	n    int64
	hash [32]byte
}

// TestNetstackNodesBulk sends 8 MiB of patterned data through two nodes
// with netstack devices joined by a TCP link, and checks every byte.
func TestNetstackNodesBulk(t *testing.T) {
	a, b := stackPair(t)
	c, done := bulkConn(t, a, b, 5001)
	chunk := make([]byte, 64<<10)
	h := sha256.New()
	for i := range 128 {
		for j := range chunk {
			chunk[j] = byte(i*31 + j*7)
		}
		h.Write(chunk)
		if _, err := c.Write(chunk); err != nil {
			t.Fatalf("write chunk %d: %v", i, err)
		}
	}
	c.Close()
	select {
	case got := <-done:
		if want := [32]byte(h.Sum(nil)); got.n != 128*int64(len(chunk)) || got.hash != want {
			t.Errorf("received %d bytes (hash match %v), want %d", got.n, got.hash == want, 128*len(chunk))
		}
	case <-time.After(60 * time.Second):
		t.Fatal("transfer did not finish in 60 s")
	}
}

// BenchmarkNetstackNodesBulk measures one TCP stream between two netstack
// devices through the real data plane: both nodes' routers, sealing and
// opening, and a TCP link on loopback. MB/s is the stream's goodput.
func BenchmarkNetstackNodesBulk(b *testing.B) {
	x, y := stackPair(b)
	c, done := bulkConn(b, x, y, 5002)
	chunk := make([]byte, 64<<10)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if _, err := c.Write(chunk); err != nil {
			b.Fatalf("write: %v", err)
		}
	}
	c.Close()
	got := <-done
	elapsed := time.Since(start)
	if want := int64(b.N) * int64(len(chunk)); got.n != want {
		b.Fatalf("received %d bytes, want %d", got.n, want)
	}
	b.ReportMetric(float64(got.n)*8/elapsed.Seconds()/1e9, "Gbit/s")
}
