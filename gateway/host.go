package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// ErrTopicTaken is returned to a plugin that receives on a message topic
// another plugin already receives on: each topic's messages go to one
// plugin only.
var ErrTopicTaken = errors.New("gateway: message topic taken by another plugin")

// hostServer answers one plugin's host callbacks.
type hostServer struct {
	g      *Gateway
	plugin string
}

// LookupKey returns the key owning addr, from the routing state.
func (h *hostServer) LookupKey(_ context.Context, addr netip.Addr) (sdk.PublicKey, error) {
	k, ok := h.g.deps.Identity.PublicKeyOf(addr)
	if !ok {
		return sdk.PublicKey{}, fmt.Errorf("lookup key of %s: %w", addr, sdk.ErrNotFound)
	}
	return sdk.PublicKey(k), nil
}

// AddressOf derives the overlay address of key.
func (h *hostServer) AddressOf(_ context.Context, key sdk.PublicKey) (netip.Addr, error) {
	return identity.AddressOf(identity.PublicKey(key)), nil
}

// RouteMetric returns the metric of the selected route to addr.
func (h *hostServer) RouteMetric(ctx context.Context, addr netip.Addr) (uint16, error) {
	return h.g.deps.Identity.RouteMetric(ctx, addr)
}

// SendMessage sends m on the message bus.
func (h *hostServer) SendMessage(ctx context.Context, m sdk.OutboundMessage) (string, error) {
	if h.g.deps.Bus == nil {
		return "", fmt.Errorf("send message: no message bus: %w", errors.ErrUnsupported)
	}
	return h.g.deps.Bus.Send(ctx, m)
}

// ReceiveMessage waits for a message with topic. A plugin must name a
// topic, and the first plugin to receive on a topic keeps it: another
// plugin asking for it gets ErrTopicTaken, so plugins never take each
// other's messages.
func (h *hostServer) ReceiveMessage(ctx context.Context, topic []byte) (sdk.InboundMessage, error) {
	if h.g.deps.Bus == nil {
		return sdk.InboundMessage{}, fmt.Errorf("receive message: no message bus: %w", errors.ErrUnsupported)
	}
	if len(topic) == 0 {
		return sdk.InboundMessage{}, errors.New("receive message: plugins must receive on a topic")
	}
	if err := h.g.claimTopic(string(topic), h.plugin); err != nil {
		return sdk.InboundMessage{}, err
	}
	return h.g.deps.Bus.Receive(ctx, topic)
}

// claimTopic reserves topic for plugin.
func (g *Gateway) claimTopic(topic, plugin string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if owner, ok := g.mu.topics[topic]; ok && owner != plugin {
		return fmt.Errorf("receive message on %q: %w %q", topic, ErrTopicTaken, owner)
	}
	g.mu.topics[topic] = plugin
	return nil
}

var _ sdk.HostServer = (*hostServer)(nil)
