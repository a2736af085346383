package apitest

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/api"
	"github.com/mycelium-go/mycelium/core/api/nodeapi"
	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/link"
	"github.com/mycelium-go/mycelium/core/message"
	"github.com/mycelium-go/mycelium/core/message/messagetest"
	"github.com/mycelium-go/mycelium/core/node"
)

// LiveNode is a real node with its peer manager and message bus.
type LiveNode struct {
	Key   *identity.KeyPair
	Ctx   context.Context // ends with the test
	Node  *node.Node
	Links *link.Manager
	Bus   *message.Bus
}

// StartLiveNode runs a node without a device, TCP links on a loopback
// port (no QUIC, no discovery) and a message bus, wired as the daemon
// wires them. Everything stops when the test ends.
func StartLiveNode(t testing.TB) *LiveNode {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	kp, err := identity.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	ncfg := node.Default()
	ncfg.Key = kp
	n, err := node.New(ncfg, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	lc := link.Default()
	lc.RouterID = n.Router().ID()
	lc.DisableQUIC, lc.DisableDiscovery = true, true
	lc.TCPListen = netip.MustParseAddrPort("127.0.0.1:0")
	m, err := link.New(lc, n, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	bcfg := message.Default()
	bcfg.Key = kp.Public()
	bus, err := message.New(bcfg, n, n, log)
	if err != nil {
		t.Fatal(err)
	}
	n.SetMessageHandler(bus.Handle)
	if err := bus.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.SetMessageHandler(nil); bus.Close() })
	return &LiveNode{Key: kp, Ctx: ctx, Node: n, Links: m, Bus: bus}
}

// StartLive runs the API of a real node A peered over loopback TCP with a
// real node B; A has already sent B a message, so each knows the other's
// route and key.
func StartLive(t testing.TB, mod func(*api.Config)) *Harness {
	t.Helper()
	a, b := StartLiveNode(t), StartLiveNode(t)
	ep, err := link.ParseEndpoint("tcp://" + b.Links.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Links.AddPeer(ep); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := a.Bus.Push(message.Outgoing{Dst: b.Node.Address(), Payload: []byte("warm up")}); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Bus.Pop(ctx, nil, false, false); !ok {
		t.Fatal("apitest: live nodes never connected")
	}
	cfg := api.Default()
	cfg.Addr, cfg.RPCAddr = "127.0.0.1:0", "127.0.0.1:0"
	if mod != nil {
		mod(&cfg)
	}
	adapter := nodeapi.New(a.Ctx, a.Node, a.Links, time.Now())
	srv, err := api.New(cfg, api.Deps{Node: adapter, Bus: a.Bus}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(a.Ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	addrs := srv.Addrs()
	return &Harness{
		A:      &messagetest.Node{Key: a.Key, Bus: a.Bus},
		B:      &messagetest.Node{Key: b.Key, Bus: b.Bus},
		Server: srv, Addr: addrs[0].String(), RPCAddr: addrs[1].String(),
	}
}
