package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/message"
	"github.com/mycelium-go/mycelium/core/wire"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// MessageBus adapts the node's message bus (core/message) to Bus.
type MessageBus struct {
	Bus *message.Bus
}

// Send pushes m, or replies to the message m.ReplyTo names.
func (b MessageBus) Send(ctx context.Context, m sdk.OutboundMessage) (string, error) {
	dst := identity.AddressOf(identity.PublicKey(m.Dst))
	if m.ReplyTo != "" {
		id, err := wire.ParseMessageID(m.ReplyTo)
		if err != nil {
			return "", fmt.Errorf("gateway: reply: %w", err)
		}
		if err := b.Bus.Reply(id, dst, m.Payload); err != nil {
			return "", err
		}
		return m.ReplyTo, nil
	}
	out := message.Outgoing{Dst: dst, Topic: m.Topic, Payload: m.Payload}
	if !m.Deadline.IsZero() {
		out.Timeout = time.Until(m.Deadline)
		if out.Timeout <= 0 {
			return "", context.DeadlineExceeded
		}
	}
	id, err := b.Bus.Push(out)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// Receive waits for the next message whose topic is exactly topic.
func (b MessageBus) Receive(ctx context.Context, topic []byte) (sdk.InboundMessage, error) {
	msg, ok := b.Bus.Pop(ctx, topic, true, false)
	if !ok {
		if err := ctx.Err(); err != nil {
			return sdk.InboundMessage{}, err
		}
		return sdk.InboundMessage{}, message.ErrClosed
	}
	return sdk.InboundMessage{
		ID:      msg.ID.String(),
		Src:     sdk.PublicKey(msg.SrcPK),
		SrcAddr: msg.SrcIP,
		Topic:   msg.Topic,
		Payload: msg.Payload,
	}, nil
}

var _ Bus = MessageBus{}
