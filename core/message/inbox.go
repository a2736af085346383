package message

import (
	"bytes"
	"context"
	"net/netip"
	"sync"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/wire"
)

// Message is a received message.
type Message struct {
	ID wire.MessageID
	// Reply is set when the message answers one this node sent.
	Reply bool
	// SrcIP is the sender's overlay address (the outer source of its
	// INIT), SrcPK its key; DstIP the address it was sent to, DstPK ours.
	SrcIP netip.Addr
	SrcPK identity.PublicKey
	DstIP netip.Addr
	DstPK identity.PublicKey
	Topic []byte
	// Payload is the message data.
	Payload []byte
}

// usage counts messages and bytes, stored or reserved.
type usage struct {
	n     int
	bytes int64
}

// ticket is a reservation of inbox space for one message.
type ticket struct {
	topic string
	bytes int64
}

// inbox holds received messages until an application pops them. Space is
// reserved when a transfer starts, so a completed message always fits.
type inbox struct {
	maxN, maxTopicN         int
	maxBytes, maxTopicBytes int64

	mu     sync.Mutex
	msgs   []*Message // FIFO
	stored usage      // messages in msgs
	total  usage      // stored + reserved
	topics map[string]*usage
	// wake is closed and replaced whenever a message is added.
	wake chan struct{}
}

func newInbox(c *Config) *inbox {
	return &inbox{
		maxN: c.MaxInboxMessages, maxTopicN: c.MaxTopicMessages,
		maxBytes: c.MaxInboxBytes, maxTopicBytes: c.MaxTopicBytes,
		topics: make(map[string]*usage),
		wake:   make(chan struct{}),
	}
}

// reserve books room for a message of n bytes on topic; it reports
// whether there was room.
func (q *inbox) reserve(topic []byte, n int64) (ticket, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	u := q.topics[string(topic)]
	if u == nil {
		u = &usage{}
	}
	if q.total.n+1 > q.maxN || q.total.bytes+n > q.maxBytes ||
		u.n+1 > q.maxTopicN || u.bytes+n > q.maxTopicBytes {
		return ticket{}, false
	}
	if u.n == 0 {
		q.topics[string(topic)] = u
	}
	u.n++
	u.bytes += n
	q.total.n++
	q.total.bytes += n
	return ticket{topic: string(topic), bytes: n}, true
}

// release gives a reservation back.
func (q *inbox) release(t ticket) {
	q.mu.Lock()
	q.releaseLocked(t)
	q.mu.Unlock()
}

func (q *inbox) releaseLocked(t ticket) {
	q.total.n--
	q.total.bytes -= t.bytes
	if u := q.topics[t.topic]; u != nil {
		u.n--
		u.bytes -= t.bytes
		if u.n <= 0 {
			delete(q.topics, t.topic)
		}
	}
}

// commit queues m under the reservation t (made for len(m.Payload)).
func (q *inbox) commit(m *Message, t ticket) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if extra := int64(len(m.Payload)) - t.bytes; extra != 0 {
		// Cannot happen for transfers (length is checked); keep the books
		// exact anyway.
		q.total.bytes += extra
		if u := q.topics[t.topic]; u != nil {
			u.bytes += extra
		}
	}
	q.msgs = append(q.msgs, m)
	q.stored.n++
	q.stored.bytes += int64(len(m.Payload))
	close(q.wake)
	q.wake = make(chan struct{})
}

// take returns the first message matching topic (any when match is
// false), removing it unless peek.
func (q *inbox) take(topic []byte, match, peek bool) (*Message, <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, m := range q.msgs {
		if match && !bytes.Equal(m.Topic, topic) {
			continue
		}
		if !peek {
			q.msgs = append(q.msgs[:i], q.msgs[i+1:]...)
			q.stored.n--
			q.stored.bytes -= int64(len(m.Payload))
			q.releaseLocked(ticket{topic: string(m.Topic), bytes: int64(len(m.Payload))})
		}
		return m, nil
	}
	return nil, q.wake
}

// wait returns the first matching message, waiting until ctx ends or
// done is closed.
func (q *inbox) wait(ctx context.Context, done <-chan struct{}, topic []byte, match, peek bool) (*Message, bool) {
	for {
		m, wake := q.take(topic, match, peek)
		if m != nil {
			return m, true
		}
		select {
		case <-ctx.Done():
			return nil, false
		case <-done:
			return nil, false
		case <-wake:
		}
	}
}

func (q *inbox) stats() (stored, total usage) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stored, q.total
}
