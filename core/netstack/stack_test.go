package netstack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"defaults", Config{Addr: addrA}, ""},
		{"zero address", Config{}, "not an overlay address"},
		{"outside overlay", Config{Addr: netip.MustParseAddr("2001:db8::1")}, "not an overlay address"},
		{"ipv4", Config{Addr: netip.MustParseAddr("10.1.2.3")}, "not an overlay address"},
		{"prefix too short", Config{Addr: addrA, PrefixLen: 6}, "prefix length 6"},
		{"mtu too small", Config{Addr: addrA, MTU: 576}, "mtu 576"},
		{"negative queue", Config{Addr: addrA, QueueLen: -1}, "queue length -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDeviceBasics(t *testing.T) {
	s, err := New(Config{Addr: addrA})
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	if mtu, _ := s.MTU(); mtu != DefaultMTU {
		t.Errorf("MTU() = %d, want %d", mtu, DefaultMTU)
	}
	if s.BatchSize() < 1 || s.File() != nil || s.Addr() != addrA {
		t.Errorf("BatchSize() = %d, File() = %v, Addr() = %v", s.BatchSize(), s.File(), s.Addr())
	}
	if ev := <-s.Events(); ev != 1 { // tun.EventUp
		t.Errorf("first event = %v, want EventUp", ev)
	}
	small := [][]byte{make([]byte, 100)}
	if _, err := s.Read(small, []int{0}, offset); !errors.Is(err, io.ErrShortBuffer) {
		t.Errorf("Read(short buffer) = %v, want io.ErrShortBuffer", err)
	}
	s.Close()
	s.Close()
	if _, ok := <-s.Events(); ok {
		t.Error("Events() still open after Close")
	}
	buf := [][]byte{make([]byte, 65535)}
	if _, err := s.Read(buf, []int{0}, offset); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read() after Close = %v, want os.ErrClosed", err)
	}
	if _, err := s.Write(buf, offset); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write() after Close = %v, want os.ErrClosed", err)
	}
	if _, err := s.Listen("tcp", "[::]:80"); err == nil {
		t.Error("Listen() after Close succeeded")
	}
}

// echoServer accepts on ln and echoes every connection until ln closes.
func echoServer(t *testing.T, ln net.Listener) <-chan net.Addr {
	remotes := make(chan net.Addr, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			remotes <- c.RemoteAddr()
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return remotes
}

func TestTCPEchoBothWays(t *testing.T) {
	p := newPair(t, Config{}, true)
	for _, dir := range []struct {
		name             string
		server, client   *Stack
		listen, clientIP string
	}{
		{"a to b on node address", p.b, p.a, "[" + addrB.String() + "]:7", addrA.String()},
		{"b to a on unspecified address", p.a, p.b, "[::]:7", addrB.String()},
	} {
		t.Run(dir.name, func(t *testing.T) {
			ln, err := dir.server.Listen("tcp", dir.listen)
			if err != nil {
				t.Fatalf("Listen(%q) = %v", dir.listen, err)
			}
			remotes := echoServer(t, ln)
			dst := netip.AddrPortFrom(dir.server.Addr(), 7).String()
			c, err := dir.client.Dial(testCtx(t), "tcp", dst)
			if err != nil {
				t.Fatalf("Dial(%s) = %v", dst, err)
			}
			defer c.Close()
			msg := []byte("hello across the overlay")
			if _, err := c.Write(msg); err != nil {
				t.Fatalf("Write() = %v", err)
			}
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("echo = %q, %v, want %q", got, err, msg)
			}
			ra := (<-remotes).(*net.TCPAddr)
			if ra.AddrPort().Addr().String() != dir.clientIP {
				t.Errorf("server saw remote %v, want %s", ra, dir.clientIP)
			}
			if la := c.LocalAddr().(*net.TCPAddr); la.AddrPort().Addr().String() != dir.clientIP {
				t.Errorf("client local address %v, want %s", la, dir.clientIP)
			}
		})
	}
}

func TestTCPBulkIntegrity(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{{"offload", Config{}}, {"no offload", Config{noOffload: true}}} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, tc.cfg, true)
			ln, err := p.a.Listen("tcp", ":9000")
			if err != nil {
				t.Fatalf("Listen() = %v", err)
			}
			defer ln.Close()
			const size = 4 << 20
			data := make([]byte, size)
			rand.NewChaCha8([32]byte{1}).Read(data)
			want := sha256.Sum256(data)
			got := make(chan [32]byte, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					close(got)
					return
				}
				defer c.Close()
				h := sha256.New()
				io.Copy(h, c)
				got <- [32]byte(h.Sum(nil))
			}()
			c, err := p.b.Dial(testCtx(t), "tcp", netip.AddrPortFrom(addrA, 9000).String())
			if err != nil {
				t.Fatalf("Dial() = %v", err)
			}
			if _, err := c.Write(data); err != nil {
				t.Fatalf("Write() = %v", err)
			}
			c.Close()
			if h := <-got; h != want {
				t.Fatalf("received data hash %x, want %x", h, want)
			}
			if err := p.firstErr(); err != nil {
				t.Fatalf("packet check: %v", err)
			}
		})
	}
}

func TestUDPBothWays(t *testing.T) {
	p := newPair(t, Config{}, true)
	srv, err := p.a.ListenPacket("udp", "[::]:5353")
	if err != nil {
		t.Fatalf("ListenPacket() = %v", err)
	}
	defer srv.Close()
	c, err := p.b.Dial(testCtx(t), "udp", netip.AddrPortFrom(addrA, 5353).String())
	if err != nil {
		t.Fatalf("Dial(udp) = %v", err)
	}
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	srv.SetDeadline(deadline)
	c.SetDeadline(deadline)

	big := bytes.Repeat([]byte("x"), 3000) // fragmented at MTU 1400 and reassembled
	for _, msg := range [][]byte{[]byte("query"), big} {
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("Write() = %v", err)
		}
		buf := make([]byte, 4096)
		n, from, err := srv.ReadFrom(buf)
		if err != nil || !bytes.Equal(buf[:n], msg) {
			t.Fatalf("ReadFrom() = %d bytes, %v, want %d bytes", n, err, len(msg))
		}
		if ua := from.(*net.UDPAddr); ua.AddrPort().Addr() != addrB {
			t.Fatalf("datagram from %v, want %v", from, addrB)
		}
		if _, err := srv.WriteTo(append([]byte("re:"), msg...), from); err != nil {
			t.Fatalf("WriteTo() = %v", err)
		}
		n, err = c.Read(buf)
		if err != nil || !bytes.Equal(buf[:n], append([]byte("re:"), msg...)) {
			t.Fatalf("reply = %d bytes, %v", n, err)
		}
	}
	if _, err := srv.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(1, 2, 3, 4), Port: 1}); err == nil {
		t.Error("WriteTo(ipv4) succeeded, want error")
	}
	if _, err := srv.WriteTo([]byte("x"), &net.TCPAddr{IP: addrB.AsSlice(), Port: 1}); err == nil {
		t.Error("WriteTo(*net.TCPAddr) succeeded, want error")
	}
}

func TestPing(t *testing.T) {
	d := newDeviceIO(t, addrA)
	req := make([]byte, 8+32)
	req[0] = 128 // echo request
	binary.BigEndian.PutUint16(req[4:], 0xbeef)
	binary.BigEndian.PutUint16(req[6:], 3)
	copy(req[8:], "abcdefghijklmnopqrstuvwxyz012345")
	d.write(t, buildPacket(addrB, addrA, 58, req, 2))
	select {
	case pkt := <-d.out:
		if err := checkPacket(pkt, DefaultMTU); err != nil {
			t.Fatalf("reply: %v", err)
		}
		src := netip.AddrFrom16([16]byte(pkt[8:24]))
		dst := netip.AddrFrom16([16]byte(pkt[24:40]))
		icmp := pkt[40:]
		if src != addrA || dst != addrB || pkt[6] != 58 || icmp[0] != 129 ||
			!bytes.Equal(icmp[4:], req[4:]) {
			t.Fatalf("reply %v -> %v next %d type %d body %q, want echo reply %v -> %v with request body",
				src, dst, pkt[6], icmp[0], icmp[4:], addrA, addrB)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no echo reply")
	}
}

func TestCloseWithLiveConnections(t *testing.T) {
	p := newPair(t, Config{}, false)
	ln, err := p.a.Listen("tcp", ":1")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	echoServer(t, ln)
	c, err := p.b.Dial(testCtx(t), "tcp", netip.AddrPortFrom(addrA, 1).String())
	if err != nil {
		t.Fatalf("Dial() = %v", err)
	}
	go io.Copy(io.Discard, c)
	go c.Write(make([]byte, 1<<20))
	// A handshake in flight: the pump drops B's final ACK.
	p.dropIf(func(pkt []byte) bool { return pkt[6] == 6 && pkt[40+13] == 0x10 })
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if c, err := p.b.Dial(ctx, "tcp", netip.AddrPortFrom(addrA, 1).String()); err == nil {
			c.Close()
		}
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	p.close()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v", d)
	}
	c.Close()
	goleak.VerifyNone(t)
}
