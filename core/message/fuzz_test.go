package message

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/mycelium-go/mycelium/core/wire"
)

// fuzzFrames encodes frames for FuzzHandle: per frame a source selector
// byte, a big-endian u16 length and the frame.
func fuzzFrames(src byte, frames ...[]byte) []byte {
	var out []byte
	for _, f := range frames {
		out = append(out, src)
		out = binary.BigEndian.AppendUint16(out, uint16(len(f)))
		out = append(out, f...)
	}
	return out
}

// FuzzHandle feeds arbitrary frame sequences from two sources, one of
// which is the destination of a message being sent, into a bus, and
// checks the inbox books afterwards.
func FuzzHandle(f *testing.F) {
	data := make([]byte, 3000)
	for i := range data {
		data[i] = byte(i)
	}
	sum := blake3.Sum256(data)
	id := wire.MessageID{1, 2, 3}
	f.Add(fuzzFrames(0,
		wire.AppendMessageInit(nil, id, 0, 3000, []byte("t")),
		wire.AppendMessageChunk(nil, id, 0, 0, 0, data[:1300]),
		wire.AppendMessageChunk(nil, id, 0, 1, 1300, data[1300:2600]),
		wire.AppendMessageChunk(nil, id, 0, 2, 2600, data[2600:]),
		wire.AppendMessageDone(nil, id, 0, 3, &sum),
	))
	f.Add(fuzzFrames(1,
		wire.AppendMessageInit(nil, id, wire.MsgReply, 10, nil),
		wire.AppendMessageChunk(nil, id, 0, 5, 9, data[:1]),
		wire.AppendMessageFlag(nil, id, wire.MsgAborted, 0),
	))
	f.Add(fuzzFrames(1,
		wire.AppendMessageInit(nil, wire.MessageID{}, wire.MsgAck, 5, nil),
		wire.AppendMessageChunkAck(nil, wire.MessageID{}, 0, 0, 0, 5),
		wire.AppendMessageFlag(nil, wire.MessageID{}, wire.MsgRead, 0),
	))
	f.Fuzz(func(t *testing.T, in []byte) {
		b, _ := newCaptureBus(t, func(c *Config) {
			c.MaxPending = 4
			c.MaxInboxMessages = 8
			c.MaxMessageSize = 1 << 16
			c.MaxInboxBytes = 1 << 17
			c.MaxTopicBytes = 1 << 16
		})
		srcs := [2]netip.Addr{identityAddr(t), identityAddr(t)}
		// An outgoing message to srcs[1], so ACKs have a target. Its id is
		// the zero id, which the seeds use.
		o := &outbound{b: b, dst: srcs[1], length: 5, data: make([]byte, 5), lay: newLayout(5),
			created: time.Now(), deadline: time.Now().Add(time.Hour), wake: make(chan struct{}, 1),
			win: newWindow(&b.cfg), rtt: newRTT(&b.cfg, rttSeed{}, false)}
		o.sum = blake3.Sum256(o.data)
		if err := b.register(o); err != nil {
			t.Fatal(err)
		}
		o.ctrlAt = time.Now()
		for len(in) >= 3 {
			src := srcs[in[0]&1]
			n := int(binary.BigEndian.Uint16(in[1:3]))
			in = in[3:]
			n = min(n, len(in))
			b.Handle(src, b.addr, in[:n])
			in = in[n:]
		}
		stored, total := b.inbox.stats()
		if stored.n > total.n || stored.bytes > total.bytes || total.n > b.cfg.MaxInboxMessages || total.bytes > b.cfg.MaxInboxBytes {
			t.Fatalf("inbox books: stored %+v total %+v", stored, total)
		}
		b.expirePending(time.Now().Add(time.Hour))
		if _, total := b.inbox.stats(); total != stored {
			t.Fatalf("reservations leaked: stored %+v total %+v", stored, total)
		}
		for range stored.n {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, ok := b.Pop(ctx, nil, false, false); !ok {
				t.Fatal("stored message cannot be popped")
			}
		}
		if _, total := b.inbox.stats(); total != (usage{}) {
			t.Fatalf("after popping everything: %+v", total)
		}
	})
}
