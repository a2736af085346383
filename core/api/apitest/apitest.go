// Package apitest runs the API over a fake node and real message buses,
// for tests of the API and of its clients (the command line).
package apitest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/api"
	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/message/messagetest"
)

// FakeNode implements api.Node with an in-memory peer table and fixed
// routes and statistics.
type FakeNode struct {
	Key     *identity.KeyPair
	Started time.Time
	Lookup  func(netip.Addr) (identity.PublicKey, bool)

	mu       sync.Mutex
	peers    []api.PeerStats
	Selected []api.Route
	Fallback []api.Route
	Queried  []api.QueriedSubnet
	Stats    api.PacketStatistics
}

// NewFakeNode returns a node for kp whose key lookup is lookup, with
// one static peer, a selected and a fallback route, a queried subnet and
// some packet statistics.
func NewFakeNode(kp *identity.KeyPair, lookup func(netip.Addr) (identity.PublicKey, bool)) *FakeNode {
	last := uint64(12)
	return &FakeNode{
		Key: kp, Started: time.Unix(1716100000, 0), Lookup: lookup,
		peers: []api.PeerStats{{
			Endpoint: api.Endpoint{Proto: "tcp", Addr: api.EndpointAddr{Socket: "192.0.2.6:9651"}},
			Type:     "static", ConnectionState: "alive", TxBytes: 464531564, RxBytes: 64645089,
			Discovered: 3600, LastConnected: &last,
		}},
		Selected: []api.Route{{Subnet: "469:1348:ab0c:a1d8::/64", NextHop: "TCP 203.0.113.2:60128 <-> 192.0.2.6:9651", Metric: 13, Seqno: 1}},
		Fallback: []api.Route{{Subnet: "469:1348:ab0c:a1d8::/64", NextHop: "QUIC -> 198.51.100.27:9651", Metric: api.MetricInfinite, Seqno: 0}},
		Queried:  []api.QueriedSubnet{{Subnet: "503:5478:df06:d79a::/64", Expiration: "37"}},
		Stats: api.PacketStatistics{
			BySource:      []api.PacketStatEntry{{IP: "469:1348:ab0c:a1d8::1", PacketCount: 1234, ByteCount: 567890}},
			ByDestination: []api.PacketStatEntry{{IP: kp.Address().String(), PacketCount: 1234, ByteCount: 567890}},
		},
	}
}

// Info implements api.Node.
func (n *FakeNode) Info() api.Info {
	return api.Info{
		NodeSubnet: n.Key.Subnet().String(), NodeIP: n.Key.Address().String(),
		NodePubkey: n.Key.Public().String(), NodeStartTime: n.Started.Unix(),
	}
}

// Peers implements api.Node.
func (n *FakeNode) Peers() []api.PeerStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.peers)
}

// ParseEndpoint parses a peer URI as the reference accepts it:
// tcp://, quic://, tls:// with an ip:port.
func ParseEndpoint(s string) (api.Endpoint, error) {
	proto, rest, ok := strings.Cut(s, "://")
	if !ok {
		return api.Endpoint{}, errors.New("missing the protocol (tcp://, quic:// or tls://)")
	}
	switch proto {
	case "tcp", "quic", "tls":
	default:
		return api.Endpoint{}, fmt.Errorf("unknown protocol %q", proto)
	}
	ap, err := netip.ParseAddrPort(rest)
	if err != nil {
		return api.Endpoint{}, fmt.Errorf("%q is not an ip:port socket address", rest)
	}
	return api.Endpoint{Proto: proto, Addr: api.EndpointAddr{Socket: ap.String()}}, nil
}

// AddPeer implements api.Node.
func (n *FakeNode) AddPeer(endpoint string) error {
	ep, err := ParseEndpoint(endpoint)
	if err != nil {
		return api.PeerError(api.ErrBadEndpoint, endpoint, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.peers {
		if p.Endpoint == ep {
			return api.PeerError(api.ErrPeerExists, ep.String(), nil)
		}
	}
	n.peers = append(n.peers, api.PeerStats{Endpoint: ep, Type: "static", ConnectionState: "connecting"})
	return nil
}

// RemovePeer implements api.Node.
func (n *FakeNode) RemovePeer(endpoint string) error {
	ep, err := ParseEndpoint(endpoint)
	if err != nil {
		return api.PeerError(api.ErrBadEndpoint, endpoint, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	i := slices.IndexFunc(n.peers, func(p api.PeerStats) bool { return p.Endpoint == ep })
	if i < 0 {
		return api.PeerError(api.ErrPeerNotFound, ep.String(), nil)
	}
	n.peers = slices.Delete(n.peers, i, i+1)
	return nil
}

// SelectedRoutes implements api.Node.
func (n *FakeNode) SelectedRoutes(context.Context) ([]api.Route, error) { return n.Selected, nil }

// FallbackRoutes implements api.Node.
func (n *FakeNode) FallbackRoutes(context.Context) ([]api.Route, error) { return n.Fallback, nil }

// QueriedSubnets implements api.Node.
func (n *FakeNode) QueriedSubnets(context.Context) ([]api.QueriedSubnet, error) {
	return n.Queried, nil
}

// PacketStatistics implements api.Node.
func (n *FakeNode) PacketStatistics() api.PacketStatistics { return n.Stats }

// PublicKeyOf implements api.Node.
func (n *FakeNode) PublicKeyOf(ip netip.Addr) (identity.PublicKey, bool) { return n.Lookup(ip) }

// Harness is a running API for node A, whose bus reaches node B's.
type Harness struct {
	Net    *messagetest.Network
	A, B   *messagetest.Node
	Node   *FakeNode
	Server *api.Server
	// Addr and RPCAddr are the bound REST and JSON-RPC host:port.
	Addr, RPCAddr string
}

// Start runs the API of a fake node A on loopback ports; mod, if not
// nil, adjusts the API configuration.
func Start(t testing.TB, mod func(*api.Config)) *Harness {
	t.Helper()
	h := &Harness{Net: messagetest.New()}
	h.A, h.B = h.Net.Add(t, nil), h.Net.Add(t, nil)
	h.Node = NewFakeNode(h.A.Key, h.Net.PublicKeyOf)
	cfg := api.Default()
	cfg.Addr, cfg.RPCAddr = "127.0.0.1:0", "127.0.0.1:0"
	if mod != nil {
		mod(&cfg)
	}
	srv, err := api.New(cfg, api.Deps{Node: h.Node, Bus: h.A.Bus}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	h.Server = srv
	addrs := srv.Addrs()
	h.Addr, h.RPCAddr = addrs[0].String(), addrs[1].String()
	return h
}

var _ api.Node = (*FakeNode)(nil)
