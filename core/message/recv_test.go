package message

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/wire"
)

// capture is a Transport that records frames.
type capture struct {
	mu     sync.Mutex
	frames []sent
}

type sent struct {
	dst   netip.Addr
	frame []byte
}

func (c *capture) SendMessage(dst netip.Addr, frame []byte) error {
	c.mu.Lock()
	c.frames = append(c.frames, sent{dst, append([]byte(nil), frame...)})
	c.mu.Unlock()
	return nil
}

func (c *capture) take() []wire.MessageFrame {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []wire.MessageFrame
	for _, s := range c.frames {
		f, err := wire.DecodeMessage(s.frame)
		if err != nil {
			panic(err)
		}
		out = append(out, f)
	}
	c.frames = nil
	return out
}

// anyKey answers every key lookup with one key.
type anyKey identity.PublicKey

func (k anyKey) PublicKeyOf(netip.Addr) (identity.PublicKey, bool) {
	return identity.PublicKey(k), true
}

func identityAddr(t testing.TB) netip.Addr {
	t.Helper()
	kp, err := identity.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return kp.Address()
}

// newCaptureBus returns a started bus whose sends are recorded.
func newCaptureBus(t testing.TB, mod func(*Config)) (*Bus, *capture) {
	t.Helper()
	kp, err := identity.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Default()
	cfg.Key = kp.Public()
	if mod != nil {
		mod(&cfg)
	}
	c := &capture{}
	b, err := New(cfg, c, anyKey(kp.Public()), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); b.Close() })
	return b, c
}

// sendAs feeds a message to b as a sender using the given chunk sizes
// (nil: the reference's 1300-byte cut) and returns the frames b sent.
func sendAs(b *Bus, src netip.Addr, id wire.MessageID, data []byte, sizes []int) {
	b.Handle(src, b.addr, wire.AppendMessageInit(nil, id, 0, uint64(len(data)), nil))
	if sizes == nil {
		for off := 0; off < len(data); off += wire.MessageChunkSize {
			sizes = append(sizes, min(wire.MessageChunkSize, len(data)-off))
		}
	}
	off := 0
	for i, s := range sizes {
		b.Handle(src, b.addr, wire.AppendMessageChunk(nil, id, 0, uint64(i), uint64(off), data[off:off+s]))
		off += s
	}
	sum := blake3.Sum256(data)
	b.Handle(src, b.addr, wire.AppendMessageDone(nil, id, 0, uint64(len(sizes)), &sum))
}

func popNow(b *Bus) (*Message, bool) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return b.Pop(ctx, nil, false, false)
}

func TestReceiverAcceptsBothLayouts(t *testing.T) {
	data := make([]byte, 1400)
	rand.Read(data)
	tests := []struct {
		name  string
		sizes []int
	}{
		{"reference 1300+100", []int{1300, 100}},
		{"rebalanced 700+700", []int{700, 700}},
		{"our layout", layoutSizes(len(data))},
		{"small chunks", []int{250, 250, 250, 250, 250, 150}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, c := newCaptureBus(t, nil)
			src := identityAddr(t)
			sendAs(b, src, wire.MessageID{7}, data, tt.sizes)
			m, ok := popNow(b)
			if !ok || !bytes.Equal(m.Payload, data) {
				t.Fatalf("message not delivered (%v)", ok)
			}
			frames := c.take()
			// INIT-ACK, one CHUNK-ACK per chunk, DONE-ACK, then READ.
			if want := 1 + len(tt.sizes) + 1 + 1; len(frames) != want {
				t.Fatalf("sent %d frames, want %d", len(frames), want)
			}
			for _, f := range frames[:len(frames)-1] {
				if !f.Ack() {
					t.Errorf("frame %+v is not an ACK", f)
				}
			}
			if frames[len(frames)-1].Kind != wire.MessageRead {
				t.Errorf("last frame kind %d, want READ", frames[len(frames)-1].Kind)
			}
		})
	}
}

func layoutSizes(n int) []int {
	l := newLayout(n)
	var out []int
	for i := range l.count {
		_, s := l.chunk(i)
		out = append(out, s)
	}
	return out
}

func TestReceiverRejects(t *testing.T) {
	data := make([]byte, 3000)
	rand.Read(data)
	id := wire.MessageID{9}
	tests := []struct {
		name  string
		frame func() []byte
	}{
		{"out of bounds", func() []byte { return wire.AppendMessageChunk(nil, id, 0, 2, 2900, data[:200]) }},
		{"index too high", func() []byte { return wire.AppendMessageChunk(nil, id, 0, 13, 0, data[:10]) }},
		{"empty chunk", func() []byte { return wire.AppendMessageChunk(nil, id, 0, 0, 0, nil) }},
		{"size field lies", func() []byte {
			f := wire.AppendMessageChunk(nil, id, 0, 0, 0, data[:100])
			return f[:len(f)-10]
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, c := newCaptureBus(t, nil)
			src := identityAddr(t)
			b.Handle(src, b.addr, wire.AppendMessageInit(nil, id, 0, uint64(len(data)), nil))
			c.take()
			b.Handle(src, b.addr, tt.frame())
			if got := c.take(); len(got) != 0 {
				t.Errorf("bad chunk acknowledged: %+v", got)
			}
		})
	}
}

func TestReceiverDoneChecks(t *testing.T) {
	data := make([]byte, 2000)
	rand.Read(data)
	id := wire.MessageID{3}
	b, c := newCaptureBus(t, nil)
	src := identityAddr(t)
	b.Handle(src, b.addr, wire.AppendMessageInit(nil, id, 0, 2000, nil))
	b.Handle(src, b.addr, wire.AppendMessageChunk(nil, id, 0, 0, 0, data[:1300]))
	sum := blake3.Sum256(data)
	// DONE before the last chunk: ignored, transfer kept.
	b.Handle(src, b.addr, wire.AppendMessageDone(nil, id, 0, 2, &sum))
	b.Handle(src, b.addr, wire.AppendMessageChunk(nil, id, 0, 1, 1300, data[1300:]))
	// Wrong count: ignored.
	b.Handle(src, b.addr, wire.AppendMessageDone(nil, id, 0, 3, &sum))
	if _, ok := popNow(b); ok {
		t.Fatal("incomplete message delivered")
	}
	// A retransmitted INIT keeps the chunks.
	b.Handle(src, b.addr, wire.AppendMessageInit(nil, id, 0, 2000, nil))
	c.take()
	b.Handle(src, b.addr, wire.AppendMessageDone(nil, id, 0, 2, &sum))
	frames := c.take()
	if len(frames) != 1 || frames[0].Kind != wire.MessageDone || !frames[0].Ack() || frames[0].Checksum != sum {
		t.Fatalf("DONE answered with %+v", frames)
	}
	// The DONE-ACK got lost: a retransmitted DONE is acknowledged again.
	b.Handle(src, b.addr, wire.AppendMessageDone(nil, id, 0, 2, &sum))
	if frames := c.take(); len(frames) != 1 || !frames[0].Ack() {
		t.Fatalf("retransmitted DONE answered with %+v", frames)
	}
	// A replayed INIT is ignored.
	b.Handle(src, b.addr, wire.AppendMessageInit(nil, id, 0, 2000, nil))
	if frames := c.take(); len(frames) != 0 {
		t.Fatalf("replayed INIT answered with %+v", frames)
	}
	m, ok := popNow(b)
	if !ok || !bytes.Equal(m.Payload, data) {
		t.Fatal("message not delivered")
	}
}

func TestReceiverChecksumMismatch(t *testing.T) {
	b, c := newCaptureBus(t, nil)
	src := identityAddr(t)
	id := wire.MessageID{4}
	b.Handle(src, b.addr, wire.AppendMessageInit(nil, id, 0, 3, nil))
	b.Handle(src, b.addr, wire.AppendMessageChunk(nil, id, 0, 0, 0, []byte("abc")))
	c.take()
	bad := blake3.Sum256([]byte("abd"))
	b.Handle(src, b.addr, wire.AppendMessageDone(nil, id, 0, 1, &bad))
	if frames := c.take(); len(frames) != 0 {
		t.Fatalf("bad checksum acknowledged: %+v", frames)
	}
	if _, total := b.inbox.stats(); total != (usage{}) {
		t.Errorf("reservation leaked: %+v", total)
	}
}

func TestReceiverNoPreallocation(t *testing.T) {
	b, _ := newCaptureBus(t, nil)
	src := identityAddr(t)
	id := wire.MessageID{5}
	b.Handle(src, b.addr, wire.AppendMessageInit(nil, id, 0, 16<<20, nil))
	// One chunk far into the message.
	b.Handle(src, b.addr, wire.AppendMessageChunk(nil, id, 0, 12000, 12000*1300, make([]byte, 1300)))
	b.in.mu.Lock()
	p := b.in.m[inKey{src, id}]
	held := cap(p.data) + int(p.aheadLen) + 8*cap(p.seen)
	b.in.mu.Unlock()
	if held > 4096 {
		t.Errorf("a 16 MiB INIT and one chunk hold %d bytes", held)
	}
}

func TestReceiverPendingLimit(t *testing.T) {
	b, c := newCaptureBus(t, func(c *Config) { c.MaxPending = 2 })
	src := identityAddr(t)
	for i := range 3 {
		b.Handle(src, b.addr, wire.AppendMessageInit(nil, wire.MessageID{byte(i)}, 0, 10, nil))
	}
	frames := c.take()
	if len(frames) != 3 || !frames[0].Ack() || !frames[1].Ack() || frames[2].Kind != wire.MessageAborted {
		t.Fatalf("frames = %+v; want two INIT-ACKs and an ABORTED", frames)
	}
	// The sender aborts one: room for another.
	b.Handle(src, b.addr, wire.AppendMessageFlag(nil, wire.MessageID{0}, wire.MsgAborted, 0))
	b.Handle(src, b.addr, wire.AppendMessageInit(nil, wire.MessageID{9}, 0, 10, nil))
	if frames := c.take(); len(frames) != 1 || !frames[0].Ack() {
		t.Fatalf("after ABORTED: %+v", frames)
	}
}

func TestAckEchoesFlags(t *testing.T) {
	b, c := newCaptureBus(t, nil)
	src := identityAddr(t)
	id := wire.MessageID{6}
	// A reply INIT (allowed by the default accept action) keeps REPLY in
	// its ACK; the reserved bytes of the request are ignored.
	init := wire.AppendMessageInit(nil, id, wire.MsgReply, 1, nil)
	init[10], init[11] = 0xAB, 0xCD
	b.Handle(src, b.addr, init)
	frames := c.take()
	if len(frames) != 1 || frames[0].Flags != wire.MsgInit|wire.MsgReply|wire.MsgAck || frames[0].Length != 1 {
		t.Fatalf("INIT-ACK = %+v", frames)
	}
}

func TestSenderIgnoresForeignAck(t *testing.T) {
	b, c := newCaptureBus(t, nil)
	dst, other := identityAddr(t), identityAddr(t)
	id, err := b.Push(Outgoing{Dst: dst, Payload: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	b.Handle(other, b.addr, wire.AppendMessageInit(nil, id, wire.MsgAck, 1, nil))
	if s, _ := b.Status(id); s.State != StatePending {
		t.Fatalf("ACK from another node moved the state to %q", s.State)
	}
	b.Handle(dst, b.addr, wire.AppendMessageInit(nil, id, wire.MsgAck, 1, nil))
	if s, _ := b.Status(id); s.State != StateSending {
		t.Fatalf("state %q after INIT-ACK", s.State)
	}
	_ = c
}
