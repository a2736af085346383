package api

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/message"
	"github.com/mycelium-go/mycelium/core/wire"
)

// Errors a Node returns for peer changes; the API maps them to statuses
// (400, 409, 404) and JSON-RPC codes. Wrap them with the details, e.g.
// fmt.Errorf("%w: tcp://1.2.3.4:9651", api.ErrPeerExists).
var (
	ErrBadEndpoint  = errors.New("bad peer endpoint")
	ErrPeerExists   = errors.New("peer already exists")
	ErrPeerNotFound = errors.New("peer not found")
)

// Node is what the API needs from the node. The daemon adapts the router
// and the peer manager to it. Methods are called from request goroutines,
// concurrently.
type Node interface {
	Info() Info
	Peers() []PeerStats
	// AddPeer adds a static peer given as a URI ("tcp://1.2.3.4:9651").
	// Errors wrap ErrBadEndpoint or ErrPeerExists.
	AddPeer(endpoint string) error
	// RemovePeer removes a peer. Errors wrap ErrBadEndpoint or
	// ErrPeerNotFound.
	RemovePeer(endpoint string) error
	// SelectedRoutes, FallbackRoutes and QueriedSubnets read the routing
	// table; they may wait for the router, until ctx ends.
	SelectedRoutes(ctx context.Context) ([]Route, error)
	FallbackRoutes(ctx context.Context) ([]Route, error)
	QueriedSubnets(ctx context.Context) ([]QueriedSubnet, error)
	PacketStatistics() PacketStatistics
	// PublicKeyOf returns the key of the node owning ip, if known.
	PublicKeyOf(ip netip.Addr) (identity.PublicKey, bool)
}

// MessageBus is what the API needs from the message bus; *message.Bus
// implements it.
type MessageBus interface {
	Push(m message.Outgoing) (wire.MessageID, error)
	PushWait(ctx context.Context, m message.Outgoing) (wire.MessageID, *message.Message, error)
	Reply(id wire.MessageID, dst netip.Addr, payload []byte) error
	Pop(ctx context.Context, topic []byte, match, peek bool) (*message.Message, bool)
	Status(id wire.MessageID) (message.Status, bool)

	DefaultAccept() bool
	SetDefaultAccept(accept bool)
	Topics() [][]byte
	AddTopic(topic []byte) error
	RemoveTopic(topic []byte) error
	TopicSources(topic []byte) ([]netip.Prefix, error)
	AddTopicSource(topic []byte, subnet netip.Prefix) error
	RemoveTopicSource(topic []byte, subnet netip.Prefix) error
	ForwardSocket(topic []byte) (string, bool, error)
	SetForwardSocket(topic []byte, path string) error
	RemoveForwardSocket(topic []byte) error
}

// ErrNoProxy is what Proxy.Connect returns when no proxy is usable.
var ErrNoProxy = errors.New("no valid proxy available or connection failed")

// Proxy is the optional SOCKS proxy feature (spec §8.8). Without one the
// API answers as the reference does when it knows no proxy: an empty
// list, 404 on connect, 204 on the rest.
type Proxy interface {
	Proxies() []netip.Addr
	// Connect connects to remote, or to the best known proxy when remote
	// is nil, and returns the proxy's address. Errors wrap ErrNoProxy.
	Connect(ctx context.Context, remote *netip.AddrPort) (netip.AddrPort, error)
	Disconnect()
	StartProbe()
	StopProbe()
}

// noProxy is the Proxy of a node without the feature.
type noProxy struct{}

func (noProxy) Proxies() []netip.Addr { return []netip.Addr{} }
func (noProxy) Connect(context.Context, *netip.AddrPort) (netip.AddrPort, error) {
	return netip.AddrPort{}, ErrNoProxy
}
func (noProxy) Disconnect() {}
func (noProxy) StartProbe() {}
func (noProxy) StopProbe()  {}

var (
	_ MessageBus = (*message.Bus)(nil)
	_ Proxy      = noProxy{}
)

// PeerError builds the error a Node returns for a peer change: kind is
// ErrBadEndpoint, ErrPeerExists or ErrPeerNotFound, detail (optional) says
// why an endpoint is bad. Its message is a sentence for the user, e.g.
// "peer tcp://1.2.3.4:9651 already exists".
func PeerError(kind error, endpoint string, detail error) error {
	return &peerError{kind: kind, endpoint: endpoint, detail: detail}
}

type peerError struct {
	kind     error
	endpoint string
	detail   error
}

func (e *peerError) Error() string {
	switch e.kind {
	case ErrPeerExists:
		return fmt.Sprintf("peer %s already exists", e.endpoint)
	case ErrPeerNotFound:
		return fmt.Sprintf("peer %s is not known", e.endpoint)
	default:
		msg := fmt.Sprintf("%q is not a valid peer endpoint", e.endpoint)
		if e.detail != nil {
			return msg + ": " + e.detail.Error()
		}
		return msg + " (want e.g. tcp://192.0.2.1:9651 or quic://[2001:db8::1]:9651)"
	}
}

func (e *peerError) Unwrap() []error {
	if e.detail != nil {
		return []error{e.kind, e.detail}
	}
	return []error{e.kind}
}
