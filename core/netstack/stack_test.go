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
	"sync/atomic"
	"syscall"
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

func TestSYNRefusal(t *testing.T) {
	p := newPair(t, Config{}, true)
	var admit atomic.Bool
	var asked atomic.Int32
	ln, err := p.a.ListenFiltered("tcp", "[::]:25", func(remote netip.AddrPort) bool {
		asked.Add(1)
		if remote.Addr() != addrB {
			t.Errorf("allow() got remote %v, want %v", remote, addrB)
		}
		return admit.Load()
	})
	if err != nil {
		t.Fatalf("ListenFiltered() = %v", err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dst := netip.AddrPortFrom(addrA, 25).String()
	_, err = p.b.Dial(testCtx(t), "tcp", dst)
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Dial(refused peer) = %v, want connection refused", err)
	}
	if asked.Load() != 1 {
		t.Fatalf("allow() called %d times, want 1", asked.Load())
	}
	admit.Store(true)
	c, err := p.b.Dial(testCtx(t), "tcp", dst)
	if err != nil {
		t.Fatalf("Dial(admitted peer) = %v", err)
	}
	defer c.Close()
	select {
	case ac := <-accepted:
		defer ac.Close()
		if ra := ac.RemoteAddr().(*net.TCPAddr); ra.Port != c.LocalAddr().(*net.TCPAddr).Port {
			t.Fatalf("accepted %v, want the admitted connection from %v", ra, c.LocalAddr())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("admitted connection never accepted")
	}
	select {
	case ac := <-accepted:
		t.Fatalf("refused connection reached Accept: %v", ac.RemoteAddr())
	default:
	}
}

func TestHalfClose(t *testing.T) {
	p := newPair(t, Config{}, true)
	ln, err := p.a.Listen("tcp", "[::]:80")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	defer ln.Close()
	serverDone := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			serverDone <- err
			return
		}
		defer c.Close()
		req, err := io.ReadAll(c) // returns at the client's FIN
		if err != nil {
			serverDone <- err
			return
		}
		_, err = c.Write(append([]byte("got "), req...))
		serverDone <- err
	}()
	c, err := p.b.Dial(testCtx(t), "tcp", netip.AddrPortFrom(addrA, 80).String())
	if err != nil {
		t.Fatalf("Dial() = %v", err)
	}
	defer c.Close()
	c.Write([]byte("request"))
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatalf("CloseWrite() = %v", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := io.ReadAll(c)
	if err != nil || string(resp) != "got request" {
		t.Fatalf("response %q, %v, want %q then EOF", resp, err, "got request")
	}
	if err := <-serverDone; err != nil {
		t.Fatalf("server: %v", err)
	}
}

func TestDialErrors(t *testing.T) {
	p := newPair(t, Config{}, true)
	ctx := testCtx(t)
	_, err := p.b.Dial(ctx, "tcp", netip.AddrPortFrom(addrA, 4444).String())
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Dial(no listener) = %v, want ECONNREFUSED", err)
	}
	for _, tc := range []struct{ network, addr string }{
		{"tcp", "10.0.0.1:80"},
		{"tcp", "not an address"},
		{"sctp", "[" + addrA.String() + "]:80"},
		{"udp", "[::ffff:10.0.0.1]:53"},
	} {
		if c, err := p.b.Dial(ctx, tc.network, tc.addr); err == nil {
			c.Close()
			t.Errorf("Dial(%q, %q) succeeded, want error", tc.network, tc.addr)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.b.Dial(cancelled, "tcp", netip.AddrPortFrom(addrA, 4444).String()); !errors.Is(err, context.Canceled) {
		t.Errorf("Dial(cancelled ctx) = %v, want context.Canceled", err)
	}
	// A SYN into the void (dropped by the pump) waits until ctx ends.
	p.dropIf(func(pkt []byte) bool { return pkt[6] == 6 })
	short, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	if _, err := p.b.Dial(short, "tcp", netip.AddrPortFrom(addrA, 4444).String()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dial(black hole) = %v, want context.DeadlineExceeded", err)
	}
}

func TestListenAddresses(t *testing.T) {
	s, err := New(Config{Addr: addrA})
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	defer s.Close()
	ln, err := s.Listen("tcp", "[::]:0")
	if err != nil {
		t.Fatalf("Listen(port 0) = %v", err)
	}
	if port := ln.Addr().(*net.TCPAddr).Port; port == 0 {
		t.Errorf("Listen(port 0) bound port 0")
	}
	ln.Close()
	ln1, err := s.Listen("tcp6", "["+addrA.String()+"]:443")
	if err != nil {
		t.Fatalf("Listen(node address) = %v", err)
	}
	defer ln1.Close()
	if _, err := s.Listen("tcp", "["+addrA.String()+"]:443"); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("second Listen(same address) = %v, want EADDRINUSE", err)
	}
	for _, tc := range []struct{ network, addr string }{
		{"tcp", "[" + addrB.String() + "]:80"}, // not ours
		{"tcp", "127.0.0.1:80"},
		{"udp", "[::]:80"},
		{"tcp", "no port"},
	} {
		if l, err := s.Listen(tc.network, tc.addr); err == nil {
			l.Close()
			t.Errorf("Listen(%q, %q) succeeded, want error", tc.network, tc.addr)
		}
	}
	if _, err := s.ListenPacket("tcp", "[::]:53"); err == nil {
		t.Error("ListenPacket(tcp) succeeded, want error")
	}
	// Closing the listener frees the port and makes Accept return.
	done := make(chan error, 1)
	go func() { _, err := ln1.Accept(); done <- err }()
	ln1.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept() after Close = %v, want net.ErrClosed", err)
	}
	ln2, err := s.Listen("tcp", "["+addrA.String()+"]:443")
	if err != nil {
		t.Fatalf("Listen() after Close = %v", err)
	}
	ln2.Close()
}

func TestDialOwnAddress(t *testing.T) {
	s, err := New(Config{Addr: addrA})
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	defer s.Close()
	ln, err := s.Listen("tcp", ":8080")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	echoServer(t, ln)
	c, err := s.Dial(testCtx(t), "tcp", netip.AddrPortFrom(addrA, 8080).String())
	if err != nil {
		t.Fatalf("Dial(own address) = %v", err)
	}
	defer c.Close()
	c.Write([]byte("loop"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "loop" {
		t.Fatalf("echo = %q, %v", buf, err)
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
	goleak.VerifyNone(t, goleak.IgnoreCurrent())
}

func TestDialUnreachable(t *testing.T) {
	d := newDeviceIO(t, addrB)
	dst := netip.MustParseAddr("4ff:dead::1")
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		_, err := d.s.Dial(testCtx(t), "tcp", netip.AddrPortFrom(dst, 80).String())
		errc <- err
	}()
	// Answer the SYN as the node does when it has no route: ICMPv6
	// destination unreachable, code 0, quoting the packet.
	for pkt := range d.out {
		if pkt[6] == 6 && netip.AddrFrom16([16]byte(pkt[24:40])) == dst {
			icmp := append([]byte{1, 0, 0, 0, 0, 0, 0, 0}, pkt...)
			d.write(t, buildPacket(netip.MustParseAddr("4ff:dead::"), addrB, 58, icmp, 2))
			break
		}
	}
	if err := <-errc; !errors.Is(err, syscall.ENETUNREACH) {
		t.Fatalf("Dial(no route) = %v, want ENETUNREACH", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("Dial(no route) took %v, want an immediate failure", time.Since(start))
	}
}
