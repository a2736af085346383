package message

import (
	"net/netip"
	"time"

	"github.com/mycelium-go/mycelium/core/wire"
)

// State is an outgoing message's state, as the API spells it.
type State string

// States of an outgoing message.
const (
	StatePending  State = "pending"  // INIT not acknowledged yet
	StateSending  State = "sending"  // chunks being sent (also while DONE waits for its ACK)
	StateReceived State = "received" // the receiver has the whole message
	StateRead     State = "read"     // an application read it
	StateAborted  State = "aborted"  // the deadline passed, or the receiver refused it
)

// Status describes an outgoing message.
type Status struct {
	Dst   netip.Addr
	State State
	// Chunk counts while sending: never sent, sent but not acked, acked.
	Pending, Sent, Acked int
	// Created is when the message was pushed; Deadline is Created plus
	// the try duration.
	Created, Deadline time.Time
	Len               int
}

// Status reports the state of the outgoing message id.
func (b *Bus) Status(id wire.MessageID) (Status, bool) {
	b.out.mu.Lock()
	o := b.out.m[id]
	b.out.mu.Unlock()
	if o == nil {
		return Status{}, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	s := Status{Dst: o.dst, Created: o.created, Deadline: o.deadline, Len: o.length}
	switch o.state {
	case txInit:
		s.State = StatePending
	case txSending, txDone:
		s.State = StateSending
		s.Acked = o.acked
		s.Pending = o.lay.count - o.next
		s.Sent = o.next - o.acked
	case txReceived:
		s.State = StateReceived
	case txRead:
		s.State = StateRead
	default:
		s.State = StateAborted
	}
	return s, true
}
