package netstack

import (
	"context"
	"io"
	"net/netip"
	"testing"
)

// BenchmarkTCPBulk measures one TCP stream between two stacks joined back to
// back by the pump (no router, no crypto): the netstack's own ceiling. Bytes
// per op are the chunk size written, so MB/s is the stream's goodput.
func BenchmarkTCPBulk(b *testing.B) {
	for _, bc := range []struct {
		name  string
		cfg   Config
		batch int
	}{
		{"offload", Config{}, batchSize},
		{"offload-batch1", Config{}, 1},
		{"gso-only", Config{noGRO: true}, batchSize},
		{"gro-only", Config{noGSO: true}, batchSize},
		{"no-offload", Config{noOffload: true}, batchSize},
	} {
		b.Run(bc.name, func(b *testing.B) { benchBulk(b, bc.cfg, bc.batch) })
	}
}

func benchBulk(b *testing.B, cfg Config, batch int) {
	p := newPairBatch(b, cfg, false, batch)
	ln, err := p.a.Listen("tcp", ":5001")
	if err != nil {
		b.Fatalf("Listen() = %v", err)
	}
	defer ln.Close()
	done := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- 0
			return
		}
		defer c.Close()
		n, _ := io.Copy(io.Discard, c)
		done <- n
	}()
	c, err := p.b.Dial(context.Background(), "tcp", netip.AddrPortFrom(addrA, 5001).String())
	if err != nil {
		b.Fatalf("Dial() = %v", err)
	}
	chunk := make([]byte, 64<<10)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(chunk); err != nil {
			b.Fatalf("Write() = %v", err)
		}
	}
	c.Close()
	n := <-done
	b.StopTimer()
	if n != int64(b.N)*int64(len(chunk)) {
		b.Fatalf("received %d bytes, want %d", n, int64(b.N)*int64(len(chunk)))
	}
	b.ReportMetric(float64(p.pkts.Load())/float64(b.N), "pkts/op")
	b.ReportMetric(float64(p.a.Stats().QueueDrops+p.b.Stats().QueueDrops), "qdrops")
	tcp := p.b.st.Stats().TCP
	b.ReportMetric(float64(tcp.Retransmits.Value()), "retrans")
}

// BenchmarkTCPRoundTrip measures the latency of a 64-byte request and
// response over an established connection between two stacks.
func BenchmarkTCPRoundTrip(b *testing.B) {
	p := newPair(b, Config{}, false)
	ln, err := p.a.Listen("tcp", ":5002")
	if err != nil {
		b.Fatalf("Listen() = %v", err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	c, err := p.b.Dial(context.Background(), "tcp", netip.AddrPortFrom(addrA, 5002).String())
	if err != nil {
		b.Fatalf("Dial() = %v", err)
	}
	defer c.Close()
	msg := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTCPConnect measures connection setup and teardown: SYN through
// the admission hook, handshake, Accept, close. The client closes first, so
// TIME_WAIT stays on the dialing side, whose port picker avoids it.
func BenchmarkTCPConnect(b *testing.B) {
	p := newPair(b, Config{}, false)
	ln, err := p.a.ListenFiltered("tcp", ":5003", func(netip.AddrPort) bool { return true })
	if err != nil {
		b.Fatalf("Listen() = %v", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	dst := netip.AddrPortFrom(addrA, 5003).String()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c, err := p.b.Dial(context.Background(), "tcp", dst)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
