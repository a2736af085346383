package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/socks5"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Overlay is the node's data plane as the gateway uses it: listening on
// and dialing from the node's overlay address. core/netstack (userspace
// stack) and KernelOverlay (kernel TUN) implement it.
type Overlay interface {
	// Listen listens for TCP connections on the node's overlay address at
	// port. admit is called for every connection attempt with the
	// remote's overlay address and port, before the attempt reaches
	// Accept: a userspace stack answers a refused SYN with RST; kernel
	// sockets close a refused connection before reading a byte. admit
	// must be fast and is called concurrently. The caller closes the
	// listener.
	Listen(ctx context.Context, port uint16, admit func(remote netip.AddrPort) bool) (net.Listener, error)
	// Dial connects to address ("[overlay address]:port") from the node's
	// overlay address. network is "tcp".
	Dial(ctx context.Context, network, address string) (net.Conn, error)
}

// Identity answers who owns an overlay address, from the node's routing
// state (core/node). Both methods are safe for concurrent use.
type Identity interface {
	// PublicKeyOf returns the key that owns addr: the node's own key for
	// its /64, else the key bound to the route. It must not block: it is
	// called for every connection attempt.
	PublicKeyOf(addr netip.Addr) (identity.PublicKey, bool)
	// RouteMetric returns the metric of the selected route to addr, or an
	// error wrapping sdk.ErrNotFound when there is none.
	RouteMetric(ctx context.Context, addr netip.Addr) (uint16, error)
}

// Bus is the node's message bus (core/message) as plugins use it. Both
// methods are safe for concurrent use and honour ctx.
type Bus interface {
	// Send pushes m and returns its id once the bus accepted it.
	Send(ctx context.Context, m sdk.OutboundMessage) (id string, err error)
	// Receive waits for the next message whose topic is exactly topic.
	Receive(ctx context.Context, topic []byte) (sdk.InboundMessage, error)
}

// DialOutServer serves SOCKS5 CONNECT requests on a listener until ctx
// ends, then closes it and returns once its connections ended.
// *socks5.Server (core/socks5) implements it.
type DialOutServer interface {
	Serve(ctx context.Context, ln net.Listener) error
}

// DialFunc dials over the overlay.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Deps are the gateway's collaborators, given to New.
type Deps struct {
	// DataDir is the node's data directory: plugin data goes to
	// <DataDir>/plugins/<name>, the CA to <DataDir>/ca. Required.
	DataDir string
	// Key is the node's public key. Required.
	Key identity.PublicKey
	// Overlay serves and dials overlay connections. Required.
	Overlay Overlay
	// Identity maps overlay addresses to keys. Required.
	Identity Identity
	// Bus is the message bus; nil makes the plugins' message calls fail
	// with errors.ErrUnsupported.
	Bus Bus
	// NewDialOut builds the SOCKS5 server behind the plugins' Host.Dial
	// (dialing through Overlay). Nil means core/socks5 with mail-domain
	// names (<32 hex>.mycelium.internal) resolved to their addresses.
	NewDialOut func(dial DialFunc) DialOutServer
	// Logger receives the gateway's logs and the plugins'. Required.
	Logger *slog.Logger
	// LogLevel is the plugins' log level.
	LogLevel slog.Level
}

func (d *Deps) validate() error {
	switch {
	case d.DataDir == "":
		return errors.New("no data directory")
	case d.Key.IsZero():
		return errors.New("no node key")
	case d.Overlay == nil:
		return errors.New("no overlay")
	case d.Identity == nil:
		return errors.New("no identity lookup")
	case d.Logger == nil:
		return errors.New("no logger")
	}
	return nil
}

// newDialOut returns the dial-out server: Deps.NewDialOut's, or a
// core/socks5 server.
func (d *Deps) newDialOut(dial DialFunc, log *slog.Logger) DialOutServer {
	if d.NewDialOut != nil {
		return d.NewDialOut(dial)
	}
	return &socks5.Server{Dial: dial, Resolve: socks5.ResolveHex, Logger: log.With("component", "dial-out")}
}

// nodeInfo describes the node for plugins.
func (d *Deps) nodeInfo(names []string) sdk.NodeInfo {
	return sdk.NodeInfo{
		PublicKey: sdk.PublicKey(d.Key),
		Address:   identity.AddressOf(d.Key),
		Subnet:    identity.SubnetOf(d.Key),
		Names:     append([]string(nil), names...),
	}
}
