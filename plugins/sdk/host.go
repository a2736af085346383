package sdk

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"
)

// ErrNotFound is returned by Host lookups that find nothing.
var ErrNotFound = errors.New("sdk: not found")

// Host is what the node offers a plugin: identity lookups, the message bus
// and dialing out over the overlay. All methods are safe for concurrent use
// and honour ctx. Inside a plugin, the SDK implements Host: the HostServer
// methods are calls back into the node, and Dial goes through the node's
// SOCKS5 socket.
type Host interface {
	HostServer
	// Dial connects to address (an "[overlay address]:port") over the mesh,
	// through the node's SOCKS5 dial-out. network must be "tcp".
	Dial(ctx context.Context, network, address string) (net.Conn, error)
}

// HostServer is the part of Host that the node serves as RPCs: the
// gateway implements it, and the SDK carries each call from the plugin to
// it. All methods are safe for concurrent use and honour ctx.
type HostServer interface {
	// LookupKey returns the public key of the node owning overlay address
	// addr, from the node's routing state, or ErrNotFound.
	LookupKey(ctx context.Context, addr netip.Addr) (PublicKey, error)
	// AddressOf returns the overlay address derived from key.
	AddressOf(ctx context.Context, key PublicKey) (netip.Addr, error)
	// RouteMetric returns the metric of the node's selected route to addr
	// (lower is better), or ErrNotFound if there is no route.
	RouteMetric(ctx context.Context, addr netip.Addr) (uint16, error)
	// SendMessage pushes a message-bus message to dst. It returns once the
	// node accepted the message for delivery, with its 16-hex-digit id.
	SendMessage(ctx context.Context, m OutboundMessage) (id string, err error)
	// ReceiveMessage waits until a message with the given topic arrives, or
	// ctx ends.
	ReceiveMessage(ctx context.Context, topic []byte) (InboundMessage, error)
}

// OutboundMessage is a message-bus message to send.
type OutboundMessage struct {
	Dst     PublicKey
	Topic   []byte
	Payload []byte
	// ReplyTo, if set, sends the message as a reply to the message with
	// this id instead of as a new message.
	ReplyTo string
	// Deadline bounds delivery; zero means the node's default.
	Deadline time.Time
}

// InboundMessage is a message-bus message received by the node.
type InboundMessage struct {
	ID      string
	Src     PublicKey
	SrcAddr netip.Addr
	Topic   []byte
	Payload []byte
}
