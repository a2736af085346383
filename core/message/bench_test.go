package message

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"
)

// referenceLike makes the sender behave like the reference's: every chunk
// sent at once, a fixed 100 ms retransmission timer, no congestion
// response.
func referenceLike(c *Config) {
	c.InitialWindow, c.MaxWindow = 1<<20, 1<<20
	c.InitialRTO, c.MinRTO, c.MaxRTO = 100*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond
	c.fixedWindow = true
}

func TestTCPTransfer(t *testing.T) {
	a, b := tcpPair(t, nil)
	data := make([]byte, 1<<20)
	rand.Read(data)
	if _, err := a.bus.Push(Outgoing{Dst: b.kp.Address(), Payload: data}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	m, ok := b.bus.Pop(ctx, nil, false, false)
	if !ok || !bytes.Equal(m.Payload, data) {
		t.Fatal("1 MiB message over TCP not delivered intact")
	}
}

func benchLarge(b *testing.B, size int, mod func(*Config), rate float64) {
	a, c := tcpPairRate(b, mod, rate)
	data := make([]byte, size)
	rand.Read(data)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := a.bus.Push(Outgoing{Dst: c.kp.Address(), Payload: data}); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(b.Context(), time.Minute)
		m, ok := c.bus.Pop(ctx, nil, false, false)
		cancel()
		if !ok || len(m.Payload) != size {
			b.Fatal("message lost")
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(a.bus.c.retransmits.Load())/n, "retx/op")
	b.ReportMetric(float64(a.bus.c.timeouts.Load())/n, "rto/op")
	b.ReportMetric(float64(a.bus.c.sendErrors.Load())/n, "qfull/op")
	b.ReportMetric(float64(a.bus.c.fastRetransmits.Load())/n, "fast/op")
}

// BenchmarkLargeMessageTCP moves 4 MiB messages over a loopback TCP link
// with the reference framing and AES-GCM, push to pop.
func BenchmarkLargeMessageTCP(b *testing.B) { benchLarge(b, 4<<20, nil, 0) }

// BenchmarkLargeMessageTCPReferenceLike is the same with the reference's
// sending discipline, for comparison.
func BenchmarkLargeMessageTCPReferenceLike(b *testing.B) { benchLarge(b, 4<<20, referenceLike, 0) }

// BenchmarkLargeMessageSlowLink is the same over a link paced to 25 MB/s,
// where the link queue (1 MiB) fills.
func BenchmarkLargeMessageSlowLink(b *testing.B) { benchLarge(b, 4<<20, nil, 25e6) }

// BenchmarkLargeMessageSlowLinkReferenceLike: the reference's discipline
// over the paced link.
func BenchmarkLargeMessageSlowLinkReferenceLike(b *testing.B) {
	benchLarge(b, 4<<20, referenceLike, 25e6)
}

// BenchmarkSmallMessagesTCP pushes 100-byte messages and pops them on the
// other node; ns/op is per message.
func BenchmarkSmallMessagesTCP(b *testing.B) {
	a, c := tcpPair(b, nil)
	payload := make([]byte, 100)
	const window = 512 // messages pushed ahead of the pops
	ctx, cancel := context.WithTimeout(b.Context(), 5*time.Minute)
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	pushed, popped := 0, 0
	for popped < b.N {
		for pushed < b.N && pushed-popped < window {
			if _, err := a.bus.Push(Outgoing{Dst: c.kp.Address(), Payload: payload}); err != nil {
				b.Fatal(err)
			}
			pushed++
		}
		pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
		_, ok := c.bus.Pop(pctx, nil, false, false)
		pcancel()
		if !ok {
			sa, _ := c.bus.inbox.stats()
			b.Fatalf("message lost after %d pops (%d pushed): A %+v drops %v; B inbox %+v drops %v pending %d",
				popped, pushed, statsOf(a.bus), dropsOf(a.bus), sa, dropsOf(c.bus), pendingCount(c.bus))
		}
		popped++
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
}

func statsOf(b *Bus) map[string]uint64 {
	out := map[string]uint64{}
	for _, s := range b.Samples() {
		out[s.Name[len("mycelium_message_"):]+"/"+s.LabelValue] = s.Value
	}
	return out
}

func dropsOf(b *Bus) []uint64 {
	var out []uint64
	for i := range b.c.drops {
		out = append(out, b.c.drops[i].Load())
	}
	return out
}
