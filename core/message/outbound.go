package message

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/mycelium-go/mycelium/core/wire"
)

// txState is where an outgoing transfer is.
type txState uint8

const (
	txInit     txState = iota // INIT sent, waiting for its ACK
	txSending                 // chunks in flight
	txDone                    // every chunk acked; DONE sent, waiting for its ACK
	txReceived                // the receiver has the whole message
	txRead                    // an application read it
	txAborted                 // deadline passed, or refused by the receiver
)

// dupThresh is how many later-sent chunks must be acked before an
// unacked one is declared lost (fast retransmit).
const dupThresh = 3

type opKind uint8

const (
	opInit opKind = iota
	opChunk
	opDone
	opAbort
)

// op is one frame to send, decided under the transfer's lock and built
// after it is released.
type op struct {
	kind opKind
	idx  uint32
}

// chunkTx is the send state of one chunk.
type chunkTx struct {
	sentAt time.Time
	seq    uint32 // sequence number of the latest transmission; 0 = never sent
	acked  bool
	lost   bool // declared lost, queued for retransmission
	retx   bool // sent more than once: no RTT sample (Karn)
	rto    bool // resent by a retransmission timeout
}

type flightEntry struct{ idx, seq uint32 }

// outbound is one outgoing message.
type outbound struct {
	b        *Bus
	id       wire.MessageID
	flags    uint16 // wire.MsgReply for replies; only the INIT carries it
	dst      netip.Addr
	topic    []byte
	length   int
	lay      layout
	sum      [wire.MessageChecksumSize]byte
	created  time.Time
	deadline time.Time
	// wake nudges the transfer's goroutine to recompute its timer.
	wake chan struct{}
	// sendMu is taken under mu and held while frames go out, so frames
	// leave in the order they were decided (sequence order); the loss
	// detection depends on it. Never take mu while holding sendMu.
	sendMu sync.Mutex

	mu       sync.Mutex
	data     []byte // nil once finished
	state    txState
	finished bool
	chunks   []chunkTx
	next     int // first chunk never sent
	acked    int
	inflight int // sent, not acked, not declared lost
	lost     []uint32
	lostHead int
	flight   []flightEntry // transmissions in send order
	head     int
	txSeq    uint32
	win      window
	rtt      rttState
	ctrlAt   time.Time // when INIT or DONE was last sent
	ctrlRetx bool      // INIT or DONE was sent more than once
	blocked  time.Time // the transport refused a frame: pause until then
}

func (o *outbound) nudge() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// run drives the transfer's timers until it finishes or ctx ends.
func (o *outbound) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		o.mu.Lock()
		ops, next, done := o.tickLocked(now, nil)
		o.unlockAndSend(ops)
		if done {
			o.b.finish(o)
			return
		}
		timer.Reset(max(next.Sub(now), time.Millisecond))
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-timer.C:
		}
	}
}

// tickLocked handles due timers. It returns the frames to send, when to
// look again, and whether the transfer is over.
func (o *outbound) tickLocked(now time.Time, ops []op) ([]op, time.Time, bool) {
	if o.state >= txReceived {
		return ops, time.Time{}, true
	}
	if !now.Before(o.deadline) {
		o.state = txAborted
		return append(ops, op{kind: opAbort}), time.Time{}, true
	}
	var next time.Time
	switch o.state {
	case txInit, txDone:
		if o.ctrlAt.IsZero() || !now.Before(o.ctrlAt.Add(o.rtt.rto())) {
			if !o.ctrlAt.IsZero() {
				o.ctrlRetx = true
				o.rtt.backOff()
			}
			kind := opInit
			if o.state == txDone {
				kind = opDone
			}
			ops = append(ops, op{kind: kind})
			o.ctrlAt = now
		}
		next = o.ctrlAt.Add(o.rtt.rto())
	case txSending:
		if e, ok := o.oldestLocked(); ok && !now.Before(o.chunks[e.idx].sentAt.Add(o.rtt.rto())) {
			ops = o.timeoutLocked(now, ops)
		}
		ops = o.fillLocked(now, ops)
		next = now.Add(o.rtt.rto())
		if e, ok := o.oldestLocked(); ok {
			next = o.chunks[e.idx].sentAt.Add(o.rtt.rto())
		}
		if now.Before(o.blocked) {
			next = o.blocked
		}
	}
	if o.deadline.Before(next) {
		next = o.deadline
	}
	return ops, next, false
}

// oldestLocked returns the oldest transmission still in flight.
func (o *outbound) oldestLocked() (flightEntry, bool) {
	for o.head < len(o.flight) {
		e := o.flight[o.head]
		c := &o.chunks[e.idx]
		if !c.acked && !c.lost && c.seq == e.seq {
			return e, true
		}
		o.head++
	}
	o.compactFlightLocked()
	return flightEntry{}, false
}

func (o *outbound) compactFlightLocked() {
	if o.head > 1024 && o.head > len(o.flight)/2 {
		n := copy(o.flight, o.flight[o.head:])
		o.flight = o.flight[:n]
		o.head = 0
	}
}

// timeoutLocked answers a retransmission timeout: the oldest chunk in
// flight is declared lost and the window collapses. The rest stay in
// flight: if the path only slowed down their ACKs still come, and if they
// were lost too, the ACK of the retransmission declares them lost (they
// were sent more than dupThresh transmissions before it). The
// reference-like mode resends everything, as the reference does.
// The oldest chunk is resent at once, whatever the window.
func (o *outbound) timeoutLocked(now time.Time, ops []op) []op {
	o.b.c.timeouts.Add(1)
	o.win.timeout(o.inflight, o.txSeq)
	o.rtt.backOff()
	first, found := uint32(0), false
	for ; o.head < len(o.flight); o.head++ {
		e := o.flight[o.head]
		if c := &o.chunks[e.idx]; !c.acked && !c.lost && c.seq == e.seq {
			o.markLostLocked(e.idx)
			if !found {
				first, found = e.idx, true
			}
			if !o.win.fixed {
				o.head++
				break
			}
		}
	}
	o.compactFlightLocked()
	if found && !o.win.fixed {
		o.chunks[first].rto = true
		ops = o.sendChunkLocked(first, now, ops)
	}
	return ops
}

func (o *outbound) markLostLocked(idx uint32) {
	o.chunks[idx].lost = true
	o.inflight--
	o.lost = append(o.lost, idx)
}

// nextChunkLocked picks the next chunk to transmit: lost ones first.
func (o *outbound) nextChunkLocked() (uint32, bool) {
	for o.lostHead < len(o.lost) {
		idx := o.lost[o.lostHead]
		o.lostHead++
		if c := &o.chunks[idx]; c.lost && !c.acked {
			return idx, true
		}
	}
	o.lost, o.lostHead = o.lost[:0], 0
	if o.next < len(o.chunks) {
		o.next++
		return uint32(o.next - 1), true
	}
	return 0, false
}

// fillLocked sends new and lost chunks while the window has room.
func (o *outbound) fillLocked(now time.Time, ops []op) []op {
	if now.Before(o.blocked) {
		return ops
	}
	for o.state == txSending && o.inflight < o.win.size() {
		idx, ok := o.nextChunkLocked()
		if !ok {
			break
		}
		ops = o.sendChunkLocked(idx, now, ops)
	}
	return ops
}

// sendChunkLocked records a transmission of chunk idx.
func (o *outbound) sendChunkLocked(idx uint32, now time.Time, ops []op) []op {
	c := &o.chunks[idx]
	if c.seq != 0 {
		c.retx = true
		o.b.c.retransmits.Add(1)
	}
	o.txSeq++
	c.seq, c.sentAt, c.lost = o.txSeq, now, false
	o.flight = append(o.flight, flightEntry{idx: idx, seq: o.txSeq})
	o.inflight++
	return append(ops, op{kind: opChunk, idx: idx})
}

// onAckLocked handles an ACK from the receiver. It returns the frames to
// send and whether the transfer's goroutine must look at its timer.
func (o *outbound) onAckLocked(f *wire.MessageFrame, now time.Time, ops []op) ([]op, bool) {
	switch f.Kind {
	case wire.MessageInit:
		if o.state != txInit {
			return ops, false
		}
		if !o.ctrlRetx {
			o.rtt.sample(now.Sub(o.ctrlAt))
		}
		o.state = txSending
		o.chunks = make([]chunkTx, o.lay.count)
		if o.lay.count == 0 {
			return o.allAckedLocked(now, ops), true
		}
		return o.fillLocked(now, ops), true
	case wire.MessageChunk:
		return o.onChunkAckLocked(f, now, ops)
	case wire.MessageDone:
		if o.state != txDone || f.ChunkCount != uint64(o.lay.count) || f.Checksum != o.sum {
			return ops, false
		}
		o.state = txReceived
		return ops, true
	}
	return ops, false
}

func (o *outbound) onChunkAckLocked(f *wire.MessageFrame, now time.Time, ops []op) ([]op, bool) {
	if o.state != txSending || f.ChunkIndex >= uint64(o.lay.count) {
		return ops, false
	}
	idx := uint32(f.ChunkIndex)
	if off, size := o.lay.chunk(int(idx)); f.ChunkOffset != uint64(off) || f.ChunkSize != uint64(size) {
		return ops, false
	}
	c := &o.chunks[idx]
	if c.acked || c.seq == 0 {
		return ops, false
	}
	c.acked = true
	o.acked++
	if !c.lost {
		o.inflight--
	}
	c.lost = false
	switch {
	case !c.retx:
		o.rtt.sample(now.Sub(c.sentAt))
		o.detectLossLocked(c.seq)
	case now.Sub(c.sentAt) >= o.rtt.srtt/2:
		// Probably the ACK of the retransmission: what was sent before it
		// and is still unacked is lost.
		o.detectLossLocked(c.seq)
	case c.rto:
		// Too soon for the retransmission: the original was only late,
		// and so was the timeout. Undo its window collapse.
		o.win.undo()
	}
	o.win.acked()
	if o.acked == o.lay.count {
		return o.allAckedLocked(now, ops), true
	}
	return o.fillLocked(now, ops), false
}

// detectLossLocked declares lost every unacked transmission sent more
// than dupThresh transmissions before the one just acked.
func (o *outbound) detectLossLocked(ackSeq uint32) {
	if o.win.fixed {
		return // the reference only retransmits on its timer
	}
	for o.head < len(o.flight) {
		e := o.flight[o.head]
		c := &o.chunks[e.idx]
		if c.acked || c.lost || c.seq != e.seq {
			o.head++
			continue
		}
		if e.seq+dupThresh >= ackSeq {
			break
		}
		o.head++
		o.markLostLocked(e.idx)
		o.b.c.fastRetransmits.Add(1)
		o.win.lost(e.seq, o.txSeq)
	}
	o.compactFlightLocked()
}

func (o *outbound) allAckedLocked(now time.Time, ops []op) []op {
	o.state = txDone
	o.ctrlAt, o.ctrlRetx = now, false
	o.flight, o.lost = nil, nil
	return append(ops, op{kind: opDone})
}

// sendFailedLocked takes back frames the transport refused: chunks are
// declared lost, and sending pauses briefly.
func (o *outbound) sendFailedLocked(ops []op, now time.Time) {
	if o.state != txSending {
		return
	}
	shrunk := false
	for _, p := range ops {
		if p.kind != opChunk {
			continue
		}
		if c := &o.chunks[p.idx]; !c.acked && !c.lost {
			o.markLostLocked(p.idx)
			if !shrunk {
				shrunk = o.win.lost(c.seq, o.txSeq)
			}
		}
	}
	o.blocked = now.Add(5 * time.Millisecond)
}

// unlockAndSend releases mu and sends ops, in order with every other
// batch of this transfer. A frame the transport refuses, and the frames
// after it, are taken back.
func (o *outbound) unlockAndSend(ops []op) {
	if len(ops) == 0 {
		o.mu.Unlock()
		return
	}
	data := o.data
	o.sendMu.Lock()
	o.mu.Unlock()
	k := o.transmit(ops, data)
	o.sendMu.Unlock()
	if k >= 0 {
		o.mu.Lock()
		o.sendFailedLocked(ops[k:], time.Now())
		o.mu.Unlock()
		o.nudge()
	}
}

// transmit builds and sends ops; data is the message data captured with
// them. It returns the index of the first op the transport refused, or
// -1. The reference-like mode ignores refusals, as the reference does.
func (o *outbound) transmit(ops []op, data []byte) int {
	bp := framePool.Get().(*[]byte)
	defer framePool.Put(bp)
	for k, p := range ops {
		*bp = o.frame((*bp)[:0], p, data)
		if err := o.b.send(o.dst, *bp); err != nil && !o.win.fixed {
			return k
		}
		if p.kind == opChunk {
			o.b.c.chunksSent.Add(1)
		}
	}
	return -1
}

func (o *outbound) frame(buf []byte, p op, data []byte) []byte {
	switch p.kind {
	case opInit:
		return wire.AppendMessageInit(buf, o.id, o.flags, uint64(o.length), o.topic)
	case opChunk:
		off, size := o.lay.chunk(int(p.idx))
		return wire.AppendMessageChunk(buf, o.id, 0, uint64(p.idx), uint64(off), data[off:off+size])
	case opDone:
		return wire.AppendMessageDone(buf, o.id, 0, uint64(o.lay.count), &o.sum)
	default:
		return wire.AppendMessageFlag(buf, o.id, wire.MsgAborted, 0)
	}
}

var framePool = sync.Pool{New: func() any {
	b := make([]byte, 0, wire.MessageHeaderSize+24+wire.MessageChunkSize+wire.MaxTopicSize)
	return &b
}}
