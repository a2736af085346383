package message

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/zeebo/blake3"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/wire"
)

// Outgoing is a message to send.
type Outgoing struct {
	// Dst is the destination: any address in the receiver's /64.
	Dst netip.Addr
	// Topic is at most 255 bytes; empty means no topic.
	Topic []byte
	// Payload is the data. The bus keeps it until the transfer ends; the
	// caller must not modify it.
	Payload []byte
	// Timeout is how long to try; zero means Config.SendTimeout.
	Timeout time.Duration
}

// waiter is a PushWait call waiting for the reply to its message.
type waiter struct {
	dst netip.Addr
	ch  chan *Message // capacity 1
}

// Push starts sending m and returns its id at once.
func (b *Bus) Push(m Outgoing) (wire.MessageID, error) {
	id := newID()
	return id, b.start(id, 0, m)
}

// PushWait sends m and waits until a reply arrives or ctx ends. On
// timeout it returns the id and ctx's error; the message keeps going.
func (b *Bus) PushWait(ctx context.Context, m Outgoing) (wire.MessageID, *Message, error) {
	id := newID()
	w := &waiter{dst: m.Dst, ch: make(chan *Message, 1)}
	b.waiters.mu.Lock()
	b.waiters.m[id] = w
	b.waiters.mu.Unlock()
	defer b.dropWaiter(id, w)
	if err := b.start(id, 0, m); err != nil {
		return id, nil, err
	}
	select {
	case msg := <-w.ch:
		return id, msg, nil
	case <-ctx.Done():
		return id, nil, ctx.Err()
	case <-b.done:
		return id, nil, ErrClosed
	}
}

// dropWaiter unregisters w. A reply that reached it after its caller
// gave up goes to the inbox.
func (b *Bus) dropWaiter(id wire.MessageID, w *waiter) {
	b.waiters.mu.Lock()
	if b.waiters.m[id] == w {
		delete(b.waiters.m, id)
	}
	b.waiters.mu.Unlock()
	select {
	case m := <-w.ch:
		if t, ok := b.inbox.reserve(m.Topic, int64(len(m.Payload))); ok {
			b.inbox.commit(m, t)
		} else {
			b.c.drop(dropInboxFull)
		}
	default:
	}
}

// takeWaiter removes and returns the waiter for a reply from src.
func (b *Bus) takeWaiter(id wire.MessageID, src netip.Addr) *waiter {
	b.waiters.mu.Lock()
	defer b.waiters.mu.Unlock()
	w := b.waiters.m[id]
	if w == nil || !identity.SameSubnet(w.dst, src) {
		return nil
	}
	delete(b.waiters.m, id)
	return w
}

// Reply sends payload to dst as the reply to message id (same id, REPLY
// flag, no topic).
func (b *Bus) Reply(id wire.MessageID, dst netip.Addr, payload []byte) error {
	return b.start(id, wire.MsgReply, Outgoing{Dst: dst, Payload: payload})
}

// start registers and launches an outgoing transfer.
func (b *Bus) start(id wire.MessageID, flags uint16, m Outgoing) error {
	if err := checkTopic(m.Topic); err != nil {
		return err
	}
	if len(m.Payload) > b.cfg.MaxMessageSize {
		return fmt.Errorf("%w: %d bytes (max %d)", ErrTooLarge, len(m.Payload), b.cfg.MaxMessageSize)
	}
	if !identity.InOverlay(m.Dst) {
		return fmt.Errorf("%w: %s", ErrDestination, m.Dst)
	}
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = b.cfg.SendTimeout
	}
	now := time.Now()
	seed, seeded := b.paths.get(m.Dst)
	o := &outbound{
		b: b, id: id, flags: flags, dst: m.Dst,
		topic: append([]byte(nil), m.Topic...), data: m.Payload, length: len(m.Payload),
		lay: newLayout(len(m.Payload)), sum: blake3.Sum256(m.Payload),
		created: now, deadline: now.Add(timeout),
		wake: make(chan struct{}, 1),
		win:  newWindow(&b.cfg), rtt: newRTT(&b.cfg, seed, seeded),
	}
	if err := b.register(o); err != nil {
		return err
	}
	if err := b.spawn(o.run); err != nil {
		b.unregister(o)
		return err
	}
	b.c.pushed.Add(1)
	return nil
}

func (b *Bus) register(o *outbound) error {
	b.out.mu.Lock()
	defer b.out.mu.Unlock()
	if b.out.active >= b.cfg.MaxOutbound || b.out.activeBytes+int64(o.length) > b.cfg.MaxOutboundBytes {
		return ErrBusy
	}
	if old := b.out.m[o.id]; old != nil {
		// The receiver ignores a second transfer with the id of one it
		// completed (as the reference does), so a second reply would
		// never arrive.
		if old.flags&o.flags&wire.MsgReply != 0 {
			return ErrReplied
		}
		if !old.isFinished() {
			return ErrInFlight
		}
	}
	b.out.m[o.id] = o
	b.out.active++
	b.out.activeBytes += int64(o.length)
	return nil
}

func (b *Bus) unregister(o *outbound) {
	b.out.mu.Lock()
	defer b.out.mu.Unlock()
	if b.out.m[o.id] == o {
		delete(b.out.m, o.id)
	}
	b.out.active--
	b.out.activeBytes -= int64(o.length)
}

func (o *outbound) isFinished() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.finished
}

// finish is called once by the transfer's goroutine when it ends.
func (b *Bus) finish(o *outbound) {
	o.mu.Lock()
	o.finished = true
	o.data, o.chunks, o.flight, o.lost = nil, nil, nil, nil
	state, rtt := o.state, o.rtt
	o.mu.Unlock()
	if state == txAborted {
		b.c.aborted.Add(1)
	} else {
		b.c.delivered.Add(1)
		if rtt.has {
			b.paths.put(o.dst, rttSeed{srtt: rtt.srtt, rttvar: rtt.rttvar})
		}
	}
	b.out.mu.Lock()
	b.out.active--
	b.out.activeBytes -= int64(o.length)
	b.out.mu.Unlock()
}

// sentTo reports whether this node sent a (non-reply) message with id to
// a node in src's /64 and still remembers it.
func (b *Bus) sentTo(id wire.MessageID, src netip.Addr) bool {
	b.out.mu.Lock()
	o := b.out.m[id]
	b.out.mu.Unlock()
	return o != nil && o.flags&wire.MsgReply == 0 && identity.SameSubnet(o.dst, src)
}

// Pop returns the oldest received message (with exactly topic when
// match is set), waiting until ctx ends; with peek it stays queued.
// Every read sends READ to the message's sender, as the reference does.
func (b *Bus) Pop(ctx context.Context, topic []byte, match, peek bool) (*Message, bool) {
	m, ok := b.inbox.wait(ctx, b.done, topic, match, peek)
	if ok {
		b.sendRead(m)
	}
	return m, ok
}

func (b *Bus) sendRead(m *Message) {
	bp := framePool.Get().(*[]byte)
	defer framePool.Put(bp)
	*bp = wire.AppendMessageFlag((*bp)[:0], m.ID, wire.MsgRead, 0)
	_ = b.send(m.SrcIP, *bp)
}
