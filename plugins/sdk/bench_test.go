//go:build unix

package sdk

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// handOff hands host to the plugin by the named path.
func handOff(tp *testPlane, path string, host net.Conn, p Peer) {
	ctx := context.Background()
	if path == "fd" {
		_ = tp.handoff.PassFD(ctx, host, p)
		return
	}
	go func() { _, _ = tp.handoff.Splice(ctx, host, p) }()
}

// BenchmarkHandoffStream measures one client stream through each
// hand-off path into a plugin-side reader: TCP client -> host -> (fd
// passing | unix-socket splice) -> service listener -> reader.
func BenchmarkHandoffStream(b *testing.B) {
	for _, path := range []string{"fd", "splice"} {
		b.Run(path, func(b *testing.B) {
			tp := newTestPlane(b, 0)
			l := listen(b, tp.demux, "smtp")
			client, host := tcpPair(b)
			handOff(tp, path, host, overlayPeer())
			c := acceptConn(b, l)
			done := make(chan int64, 1)
			go func() {
				buf := make([]byte, 256<<10)
				var n int64
				for {
					m, err := c.Read(buf)
					n += int64(m)
					if err != nil {
						done <- n
						return
					}
				}
			}()
			buf := make([]byte, 256<<10)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := client.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			_ = client.CloseWrite()
			if n := <-done; n != int64(b.N)*int64(len(buf)) {
				b.Fatalf("plugin read %d bytes, want %d", n, int64(b.N)*int64(len(buf)))
			}
			b.StopTimer()
			_ = c.Close()
		})
	}
}

// BenchmarkHandoffConnections measures new connections per second: the
// client connects, the host accepts and hands off, the plugin accepts,
// answers one byte and closes, the client reads it.
func BenchmarkHandoffConnections(b *testing.B) {
	for _, path := range []string{"fd", "splice"} {
		b.Run(path, func(b *testing.B) {
			tp := newTestPlane(b, 0)
			l := listen(b, tp.demux, "smtp")
			front, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer front.Close()
			p := overlayPeer()
			go func() {
				for {
					host, err := front.Accept()
					if err != nil {
						return
					}
					handOff(tp, path, host, p)
				}
			}()
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					_, _ = c.Write([]byte{1})
					_ = c.Close()
				}
			}()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				c, err := net.Dial("tcp", front.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.ReadAll(c); err != nil || len(n) != 1 {
					b.Fatalf("read %d bytes, %v", len(n), err)
				}
				_ = c.Close()
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "conns/s")
		})
	}
}
