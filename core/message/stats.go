package message

import (
	"sync/atomic"

	"github.com/mycelium-go/mycelium/core/metrics"
)

// dropReason says why a received frame or message was not taken.
type dropReason int

const (
	dropMalformed   dropReason = iota // undecodable frame
	dropACL                           // INIT from a source the topic rules refuse
	dropTooLarge                      // INIT longer than MaxMessageSize (refused)
	dropPendingFull                   // too many incoming transfers (refused)
	dropInboxFull                     // no inbox room for the topic or in total (refused)
	dropDuplicate                     // INIT for a transfer already completed
	dropUnknown                       // frame or ACK for no known transfer
	dropBadChunk                      // CHUNK out of bounds or inconsistent
	dropIncomplete                    // DONE before every chunk arrived
	dropChecksum                      // DONE whose BLAKE3 does not match the data
	dropNoKey                         // no public key known for the sender
	dropExpired                       // incoming transfer idle too long
	dropAborted                       // incoming transfer aborted by its sender
	numDrops
)

var dropNames = [numDrops]string{
	"malformed", "acl", "too_large", "pending_full", "inbox_full", "duplicate",
	"unknown", "bad_chunk", "incomplete", "checksum", "no_key", "expired", "aborted",
}

// counters are the bus's statistics; all fields are atomics.
type counters struct {
	framesIn, framesOut, sendErrors atomic.Uint64
	drops                           [numDrops]atomic.Uint64

	pushed, delivered, aborted, refused     atomic.Uint64
	chunksSent, retransmits                 atomic.Uint64
	timeouts, fastRetransmits               atomic.Uint64
	toInbox, toWaiter, forwarded, fwdFailed atomic.Uint64
}

func (c *counters) drop(r dropReason) { c.drops[r].Add(1) }

// Samples returns the bus's metrics (names in docs/metrics.md).
func (b *Bus) Samples() []metrics.Sample {
	const p = "mycelium_message_"
	c := &b.c
	stored, total := b.inbox.stats()
	b.in.mu.Lock()
	npending := len(b.in.m)
	b.in.mu.Unlock()
	b.out.mu.Lock()
	active, activeBytes := b.out.active, b.out.activeBytes
	b.out.mu.Unlock()

	plain := func(name, help string, v uint64) metrics.Sample {
		return metrics.Sample{Name: p + name, Help: help, Value: v}
	}
	labelled := func(name, label, value, help string, v uint64) metrics.Sample {
		return metrics.Sample{Name: p + name, LabelName: label, LabelValue: value, Help: help, Value: v}
	}
	out := []metrics.Sample{
		plain("inbox_messages", "Received messages waiting to be read", uint64(stored.n)),
		plain("inbox_bytes", "Bytes of received messages waiting to be read", uint64(stored.bytes)),
		plain("pending_transfers", "Incoming transfers not complete yet", uint64(npending)),
		plain("reserved_bytes", "Inbox bytes reserved by incoming transfers and queued messages", uint64(total.bytes)),
		plain("outbound_transfers", "Outgoing transfers not finished yet", uint64(active)),
		plain("outbound_bytes", "Bytes of outgoing transfers not finished yet", uint64(activeBytes)),
		labelled("frames", "direction", "in", "Message frames received and sent", c.framesIn.Load()),
		labelled("frames", "direction", "out", "Message frames received and sent", c.framesOut.Load()),
		plain("send_errors", "Frames the transport refused (counted as losses)", c.sendErrors.Load()),
		plain("pushed", "Messages and replies pushed", c.pushed.Load()),
		labelled("sent", "result", "delivered", "Outgoing transfers finished", c.delivered.Load()),
		labelled("sent", "result", "aborted", "Outgoing transfers finished", c.aborted.Load()),
		plain("refused", "Outgoing transfers refused by the receiver (ABORTED answer to INIT)", c.refused.Load()),
		plain("chunks_sent", "Chunk frames sent, retransmissions included", c.chunksSent.Load()),
		plain("retransmits", "Chunk retransmissions", c.retransmits.Load()),
		plain("fast_retransmits", "Chunks declared lost because three later chunks were acked", c.fastRetransmits.Load()),
		plain("timeouts", "Retransmission timeouts while sending chunks", c.timeouts.Load()),
		labelled("received", "to", "inbox", "Completed incoming messages by destination", c.toInbox.Load()),
		labelled("received", "to", "reply_waiter", "Completed incoming messages by destination", c.toWaiter.Load()),
		labelled("received", "to", "forward_socket", "Completed incoming messages by destination", c.forwarded.Load()),
		plain("forward_failures", "Socket forwards that failed (message went to the inbox)", c.fwdFailed.Load()),
	}
	for r := range numDrops {
		out = append(out, labelled("dropped", "reason", dropNames[r], "Received frames or transfers dropped, by reason", c.drops[r].Load()))
	}
	return out
}
