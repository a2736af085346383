package netstack

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

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

// TestReconnectSamePortAfterServerClose: the server closed first, so its
// side of the old connection is in TIME_WAIT when the client comes back
// from the same port. gVisor drops that SYN while TIME_WAIT lasts; the
// short timeWait bounds the delay to about one SYN retransmission.
func TestReconnectSamePortAfterServerClose(t *testing.T) {
	p := newPair(t, Config{}, true)
	ln, err := p.a.Listen("tcp", ":110")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("+OK bye"))
			c.Close() // server closes first: TIME_WAIT on A
		}
	}()
	local := tcpip.FullAddress{Addr: tcpip.AddrFrom16(addrB.As16()), Port: 40110}
	remote := tcpip.FullAddress{Addr: tcpip.AddrFrom16(addrA.As16()), Port: 110}
	for i := range 2 {
		waitPortFree(t, p.b, local)
		start := time.Now()
		c, err := gonet.DialTCPWithBind(testCtx(t), p.b.st, local, remote, ipv6.ProtocolNumber)
		if err != nil {
			t.Fatalf("dial %d from port %d = %v", i, local.Port, err)
		}
		if b, err := io.ReadAll(c); err != nil || string(b) != "+OK bye" {
			t.Fatalf("dial %d read %q, %v", i, b, err)
		}
		c.Close()
		if d := time.Since(start); d > timeWait+2*time.Second {
			t.Fatalf("dial %d took %v, want at most about %v", i, d, timeWait+time.Second)
		}
	}
}

// waitPortFree waits until the client's previous connection on addr is
// fully closed (its LAST_ACK got acknowledged) so the port can be bound.
func waitPortFree(t *testing.T, s *Stack, addr tcpip.FullAddress) {
	t.Helper()
	for range 100 {
		var wq waiter.Queue
		ep, err := s.st.NewEndpoint(tcp.ProtocolNumber, ipv6.ProtocolNumber, &wq)
		if err != nil {
			t.Fatalf("NewEndpoint() = %v", err)
		}
		err = ep.Bind(addr)
		ep.Close()
		if err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("port %d still in use", addr.Port)
}

// TestBacklogFull: while a listener's accept queue is full, new SYNs are
// dropped, not refused, so the dialer retries and gets in once Accept runs.
func TestBacklogFull(t *testing.T) {
	p := newPair(t, Config{}, true)
	p.a.backlog = 1
	ln, err := p.a.Listen("tcp", ":143")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	defer ln.Close()
	dst := netip.AddrPortFrom(addrA, 143).String()
	first, err := p.b.Dial(testCtx(t), "tcp", dst)
	if err != nil {
		t.Fatalf("first Dial() = %v", err)
	}
	defer first.Close()
	time.Sleep(50 * time.Millisecond) // let the handshake land in the queue
	short, cancel := context.WithTimeout(testCtx(t), 300*time.Millisecond)
	defer cancel()
	if _, err := p.b.Dial(short, "tcp", dst); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial() with full backlog = %v, want a dropped SYN (deadline exceeded)", err)
	}
	errc := make(chan error, 1)
	go func() {
		c, err := p.b.Dial(testCtx(t), "tcp", dst)
		if err == nil {
			c.Close()
		}
		errc <- err
	}()
	for range 2 {
		c, err := ln.Accept()
		if err != nil {
			t.Fatalf("Accept() = %v", err)
		}
		c.Close()
	}
	if err := <-errc; err != nil {
		t.Fatalf("Dial() after the queue drained = %v", err)
	}
}
