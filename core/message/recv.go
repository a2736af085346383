package message

import (
	"bytes"
	"net/netip"
	"time"

	"github.com/zeebo/blake3"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/wire"
)

// inKey names an incoming transfer: the reference keys by id alone; the
// sender's address is added so nobody else can write into a transfer.
type inKey struct {
	src netip.Addr
	id  wire.MessageID
}

// pending is an incoming transfer. Data is kept as a contiguous prefix
// plus chunks that arrived ahead of it, so memory follows what arrived,
// never the announced length.
type pending struct {
	dst    netip.Addr
	reply  bool
	topic  []byte
	length uint64
	t      ticket
	last   time.Time

	data     []byte            // bytes [0, len(data)) of the message
	ahead    map[uint64][]byte // chunks past the prefix, by offset
	aheadLen uint64
	seen     []uint64 // bitset of chunk indices received
	distinct uint64
	maxIdx   uint64
}

// maxChunkIndex is the largest chunk index accepted for a message of n
// bytes: enough for 250-byte chunks, as the reference allows.
func maxChunkIndex(n uint64) uint64 { return (n + minChunk - 1) / minChunk }

// Handle processes one received message frame (the payload of a kind-1
// data packet): src and dst are the packet's outer addresses. It never
// blocks for long and never keeps frame. Safe for concurrent use.
func (b *Bus) Handle(src, dst netip.Addr, frame []byte) {
	b.c.framesIn.Add(1)
	f, err := wire.DecodeMessage(frame)
	if err != nil {
		b.c.drop(dropMalformed)
		return
	}
	if f.Ack() {
		b.handleAck(src, &f)
		return
	}
	switch f.Kind {
	case wire.MessageInit:
		b.handleInit(src, dst, &f)
	case wire.MessageChunk:
		b.handleChunk(src, &f)
	case wire.MessageDone:
		b.handleDone(src, &f)
	case wire.MessageRead:
		b.handleRead(src, &f)
	case wire.MessageAborted:
		b.handleAborted(src, &f)
	}
}

// ack sends the echo of f with the ACK flag: INIT-ACK without the topic
// bytes, CHUNK-ACK without data, DONE-ACK with its body (spec §7.1).
func (b *Bus) ack(to netip.Addr, f *wire.MessageFrame) {
	bp := framePool.Get().(*[]byte)
	defer framePool.Put(bp)
	buf, flags := (*bp)[:0], f.Flags|wire.MsgAck
	switch f.Kind {
	case wire.MessageInit:
		buf = wire.AppendMessageInit(buf, f.ID, flags, f.Length, f.Topic)
	case wire.MessageChunk:
		buf = wire.AppendMessageChunkAck(buf, f.ID, flags, f.ChunkIndex, f.ChunkOffset, f.ChunkSize)
	case wire.MessageDone:
		buf = wire.AppendMessageDone(buf, f.ID, flags, f.ChunkCount, &f.Checksum)
	default:
		return
	}
	*bp = buf
	_ = b.send(to, buf)
}

// refuse answers an INIT the bus will not take with ABORTED, so our own
// senders fail fast (reference senders ignore it).
func (b *Bus) refuse(to netip.Addr, id wire.MessageID) {
	bp := framePool.Get().(*[]byte)
	defer framePool.Put(bp)
	*bp = wire.AppendMessageFlag((*bp)[:0], id, wire.MsgAborted, 0)
	_ = b.send(to, *bp)
}

func (b *Bus) handleInit(src, dst netip.Addr, f *wire.MessageFrame) {
	if f.Length > uint64(b.cfg.MaxMessageSize) {
		b.c.drop(dropTooLarge)
		b.refuse(src, f.ID)
		return
	}
	reply := f.Reply()
	if !(reply && b.sentTo(f.ID, src)) && !b.topics.allowed(f.Topic, src) {
		b.c.drop(dropACL)
		return
	}
	key, now := inKey{src: src, id: f.ID}, time.Now()
	b.in.mu.Lock()
	if p := b.in.m[key]; p != nil {
		if p.length == f.Length && p.reply == reply && bytes.Equal(p.topic, f.Topic) {
			p.last = now // a retransmitted INIT: keep what arrived
			b.in.mu.Unlock()
			b.ack(src, f)
			return
		}
		b.dropPendingLocked(key, p)
	}
	if b.in.recent.has(key, now, b.cfg.StatusRetention) {
		b.in.mu.Unlock()
		b.c.drop(dropDuplicate)
		return
	}
	if len(b.in.m) >= b.cfg.MaxPending {
		b.in.mu.Unlock()
		b.c.drop(dropPendingFull)
		b.refuse(src, f.ID)
		return
	}
	t, ok := b.inbox.reserve(f.Topic, int64(f.Length))
	if !ok {
		b.in.mu.Unlock()
		b.c.drop(dropInboxFull)
		b.refuse(src, f.ID)
		return
	}
	b.in.m[key] = &pending{
		dst: dst, reply: reply, topic: append([]byte(nil), f.Topic...),
		length: f.Length, t: t, last: now,
	}
	b.in.mu.Unlock()
	b.ack(src, f)
}

func (b *Bus) dropPendingLocked(key inKey, p *pending) {
	delete(b.in.m, key)
	b.inbox.release(p.t)
}

func (b *Bus) handleChunk(src netip.Addr, f *wire.MessageFrame) {
	key := inKey{src: src, id: f.ID}
	b.in.mu.Lock()
	p := b.in.m[key]
	if p == nil {
		known := b.in.recent.has(key, time.Now(), b.cfg.StatusRetention)
		b.in.mu.Unlock()
		if known {
			b.ack(src, f) // a retransmission after we completed: re-ACK
		} else {
			b.c.drop(dropUnknown)
		}
		return
	}
	if !p.store(f) {
		b.in.mu.Unlock()
		b.c.drop(dropBadChunk)
		return
	}
	p.last = time.Now()
	b.in.mu.Unlock()
	b.ack(src, f)
}

// store validates and keeps a chunk. It reports whether the chunk was
// acceptable (duplicates are).
func (p *pending) store(f *wire.MessageFrame) bool {
	size, off := uint64(len(f.Data)), f.ChunkOffset
	if size == 0 || f.ChunkSize != size || size > p.length || off > p.length-size ||
		f.ChunkIndex > maxChunkIndex(p.length) {
		return false
	}
	end, have := off+size, uint64(len(p.data))
	switch {
	case end <= have:
		// already in the prefix
	case off <= have:
		p.appendData(f.Data[have-off:])
		p.merge()
	default:
		old := uint64(len(p.ahead[off]))
		if old >= size {
			break
		}
		if have+p.aheadLen-old+size > p.length {
			return false // more data held than the message can have
		}
		if p.ahead == nil {
			p.ahead = make(map[uint64][]byte)
		}
		p.ahead[off] = append([]byte(nil), f.Data...)
		p.aheadLen += size - old
	}
	p.mark(f.ChunkIndex)
	return true
}

// appendData grows the prefix, doubling capacity but never past length.
func (p *pending) appendData(d []byte) {
	need := len(p.data) + len(d)
	if need > cap(p.data) {
		c := min(max(2*cap(p.data), need, 16<<10), int(p.length))
		nd := make([]byte, len(p.data), c)
		copy(nd, p.data)
		p.data = nd
	}
	p.data = append(p.data, d...)
}

// merge moves chunks that now continue the prefix into it.
func (p *pending) merge() {
	for len(p.ahead) > 0 {
		d, ok := p.ahead[uint64(len(p.data))]
		if !ok {
			return
		}
		delete(p.ahead, uint64(len(p.data)))
		p.aheadLen -= uint64(len(d))
		p.appendData(d)
	}
}

func (p *pending) mark(idx uint64) {
	w := int(idx / 64)
	for len(p.seen) <= w {
		p.seen = append(p.seen, 0)
	}
	if p.seen[w]&(1<<(idx%64)) != 0 {
		return
	}
	p.seen[w] |= 1 << (idx % 64)
	if p.distinct == 0 || idx > p.maxIdx {
		p.maxIdx = idx
	}
	p.distinct++
}

// complete reports whether every chunk 0..count-1 and every byte arrived.
func (p *pending) complete(count uint64) bool {
	if count != p.distinct || uint64(len(p.data)) != p.length {
		return false
	}
	return count == 0 || p.maxIdx == count-1
}

func (b *Bus) handleDone(src netip.Addr, f *wire.MessageFrame) {
	key, now := inKey{src: src, id: f.ID}, time.Now()
	b.in.mu.Lock()
	p := b.in.m[key]
	if p == nil {
		known := b.in.recent.has(key, now, b.cfg.StatusRetention)
		b.in.mu.Unlock()
		if known {
			b.ack(src, f)
		} else {
			b.c.drop(dropUnknown)
		}
		return
	}
	if !p.complete(f.ChunkCount) {
		b.in.mu.Unlock()
		b.c.drop(dropIncomplete)
		return
	}
	delete(b.in.m, key)
	b.in.mu.Unlock()

	if blake3.Sum256(p.data) != f.Checksum {
		b.inbox.release(p.t)
		b.c.drop(dropChecksum)
		return
	}
	pk, ok := b.keys.PublicKeyOf(src)
	if !ok {
		b.inbox.release(p.t)
		b.c.drop(dropNoKey)
		return
	}
	b.in.mu.Lock()
	b.in.recent.add(key, now)
	b.in.mu.Unlock()
	b.ack(src, f)
	b.deliver(&Message{
		ID: f.ID, Reply: p.reply,
		SrcIP: src, SrcPK: pk, DstIP: p.dst, DstPK: b.cfg.Key,
		Topic: p.topic, Payload: p.data,
	}, p.t)
}

// deliver hands a completed message to a waiting PushWait, a forward
// socket or the inbox, in that order.
func (b *Bus) deliver(m *Message, t ticket) {
	if m.Reply {
		if w := b.takeWaiter(m.ID, m.SrcIP); w != nil {
			w.ch <- m
			b.inbox.release(t)
			b.c.toWaiter.Add(1)
			return
		}
	} else if path := b.topics.forward(m.Topic); path != "" && b.forwardAsync(m, t, path) {
		return
	}
	b.inbox.commit(m, t)
	b.c.toInbox.Add(1)
}

func (b *Bus) handleAck(src netip.Addr, f *wire.MessageFrame) {
	b.out.mu.Lock()
	o := b.out.m[f.ID]
	b.out.mu.Unlock()
	if o == nil || !identity.SameSubnet(src, o.dst) {
		b.c.drop(dropUnknown)
		return
	}
	var buf [16]op
	o.mu.Lock()
	ops, wake := o.onAckLocked(f, time.Now(), buf[:0])
	o.unlockAndSend(ops)
	if wake {
		o.nudge()
	}
}

func (b *Bus) handleRead(src netip.Addr, f *wire.MessageFrame) {
	b.out.mu.Lock()
	o := b.out.m[f.ID]
	b.out.mu.Unlock()
	if o == nil || !identity.SameSubnet(src, o.dst) {
		return
	}
	o.mu.Lock()
	wake := o.state == txDone
	if o.state == txDone || o.state == txReceived {
		o.state = txRead
	}
	o.mu.Unlock()
	if wake {
		o.nudge()
	}
}

func (b *Bus) handleAborted(src netip.Addr, f *wire.MessageFrame) {
	key := inKey{src: src, id: f.ID}
	b.in.mu.Lock()
	if p := b.in.m[key]; p != nil {
		b.dropPendingLocked(key, p)
		b.c.drop(dropAborted)
	}
	b.in.mu.Unlock()

	b.out.mu.Lock()
	o := b.out.m[f.ID]
	b.out.mu.Unlock()
	if o == nil || !identity.SameSubnet(src, o.dst) {
		return
	}
	o.mu.Lock()
	refused := o.state == txInit
	if refused {
		o.state = txAborted
	}
	o.mu.Unlock()
	if refused {
		b.c.refused.Add(1)
		o.nudge()
	}
}

// recentSet remembers completed incoming transfers for a while, so
// retransmitted CHUNK and DONE frames are acknowledged again and a
// replayed INIT is ignored. It holds at most its capacity.
type recentSet struct {
	m    map[inKey]time.Time
	ring []inKey
	next int
}

func newRecentSet(n int) recentSet {
	return recentSet{m: make(map[inKey]time.Time, n), ring: make([]inKey, 0, n)}
}

func (r *recentSet) add(k inKey, now time.Time) {
	if _, ok := r.m[k]; ok {
		r.m[k] = now
		return
	}
	if len(r.ring) < cap(r.ring) {
		r.ring = append(r.ring, k)
	} else {
		delete(r.m, r.ring[r.next])
		r.ring[r.next] = k
		r.next = (r.next + 1) % len(r.ring)
	}
	r.m[k] = now
}

func (r *recentSet) has(k inKey, now time.Time, ttl time.Duration) bool {
	t, ok := r.m[k]
	return ok && now.Sub(t) < ttl
}
