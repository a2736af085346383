package gateway

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/mycelium-go/mycelium/core/netstack"
)

// NetstackOverlay is the Overlay of a node on the userspace stack
// (core/netstack, no root, no TUN). Admission runs at SYN time: a refused
// peer gets a RST and never reaches Accept. Accepted connections are
// userspace connections, which the gateway splices to plugins.
type NetstackOverlay struct {
	Stack *netstack.Stack
}

// Listen listens on the stack's address at port with admit as the
// SYN-time filter.
func (o NetstackOverlay) Listen(_ context.Context, port uint16, admit func(netip.AddrPort) bool) (net.Listener, error) {
	ln, err := o.Stack.ListenFiltered("tcp", netip.AddrPortFrom(o.Stack.Addr(), port).String(), admit)
	if err != nil {
		return nil, fmt.Errorf("gateway: listen on overlay port %d: %w", port, err)
	}
	return ln, nil
}

// Dial connects through the stack.
func (o NetstackOverlay) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	return o.Stack.Dial(ctx, network, address)
}

var _ Overlay = NetstackOverlay{}
