package socks5

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/netstack"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startServer serves s on a fresh loopback listener and stops it at cleanup,
// checking that Serve ends cleanly.
func startServer(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	serveOn(t, s, ln)
	return ln.Addr().String()
}

func serveOn(t *testing.T, s *Server, ln net.Listener) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-errc; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve() = %v, want ErrServerClosed", err)
		}
	})
}

// socksClient is a minimal SOCKS5 client for tests.
type socksClient struct {
	t *testing.T
	c net.Conn
}

func dialServer(t *testing.T, network, addr string) *socksClient {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatalf("Dial(%s) = %v", addr, err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &socksClient{t: t, c: c}
}

// greet offers methods and returns the server's choice.
func (sc *socksClient) greet(methods ...byte) byte {
	sc.t.Helper()
	sc.c.Write(append([]byte{5, byte(len(methods))}, methods...))
	var resp [2]byte
	if _, err := io.ReadFull(sc.c, resp[:]); err != nil || resp[0] != 5 {
		sc.t.Fatalf("method selection = % x, %v", resp, err)
	}
	return resp[1]
}

// request sends raw request bytes and returns the reply code and bound
// address.
func (sc *socksClient) request(req []byte) (byte, netip.AddrPort) {
	sc.t.Helper()
	sc.c.Write(req)
	var hdr [4]byte
	if _, err := io.ReadFull(sc.c, hdr[:]); err != nil || hdr[0] != 5 {
		sc.t.Fatalf("reply header = % x, %v", hdr, err)
	}
	var addr netip.Addr
	switch hdr[3] {
	case atypIPv4:
		var a [4]byte
		io.ReadFull(sc.c, a[:])
		addr = netip.AddrFrom4(a)
	case atypIPv6:
		var a [16]byte
		io.ReadFull(sc.c, a[:])
		addr = netip.AddrFrom16(a)
	default:
		sc.t.Fatalf("reply address type %d", hdr[3])
	}
	var port [2]byte
	if _, err := io.ReadFull(sc.c, port[:]); err != nil {
		sc.t.Fatalf("reply port: %v", err)
	}
	return hdr[1], netip.AddrPortFrom(addr, binary.BigEndian.Uint16(port[:]))
}

// connect runs a no-auth CONNECT to target (an "[ipv6]:port").
func (sc *socksClient) connect(target netip.AddrPort) (byte, netip.AddrPort) {
	sc.t.Helper()
	if m := sc.greet(methodNoAuth); m != methodNoAuth {
		sc.t.Fatalf("server chose method %#02x, want no-auth", m)
	}
	return sc.request(request{cmd: cmdConnect, addr: target.Addr(), port: target.Port()}.marshal())
}

// expectClosed checks that the server closed the connection without
// sending anything more.
func (sc *socksClient) expectClosed() {
	sc.t.Helper()
	sc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(sc.c)
	if len(b) != 0 || err != nil {
		sc.t.Fatalf("after failure read %q, %v; want EOF", b, err)
	}
}

// stackPair is two netstack Stacks joined by pumps, as the node would join
// them over the mesh.
func stackPair(t *testing.T) (a, b *netstack.Stack) {
	t.Helper()
	var err error
	a, err = netstack.New(netstack.Config{Addr: netip.MustParseAddr("4a0:1111:2222:3333::a")})
	if err != nil {
		t.Fatal(err)
	}
	b, err = netstack.New(netstack.Config{Addr: netip.MustParseAddr("5b0:4444:5555:6666::b")})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go pump(&wg, a, b)
	go pump(&wg, b, a)
	t.Cleanup(func() {
		a.Close()
		b.Close()
		wg.Wait()
	})
	return a, b
}

func pump(wg *sync.WaitGroup, from, to *netstack.Stack) {
	defer wg.Done()
	const off = 16
	bufs := make([][]byte, from.BatchSize())
	for i := range bufs {
		bufs[i] = make([]byte, 65535+off)
	}
	sizes := make([]int, len(bufs))
	out := make([][]byte, len(bufs))
	for {
		n, err := from.Read(bufs, sizes, off)
		if err != nil {
			return
		}
		for i := range n {
			out[i] = bufs[i][:off+sizes[i]]
		}
		if _, err := to.Write(out[:n], off); err != nil {
			return
		}
	}
}

// echoOn serves a line-oriented echo on ln: it reads until EOF, then
// answers "echo: <everything>" and closes.
func echoOn(t *testing.T, ln net.Listener) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				in, _ := io.ReadAll(c)
				c.Write(append([]byte("echo: "), in...))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
}

func TestConnectThroughNetstack(t *testing.T) {
	a, b := stackPair(t)
	ln, err := a.Listen("tcp", "[::]:7")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	echoOn(t, ln)
	s := &Server{Dial: b.Dial, Resolve: ResolveHex}
	tcpAddr := startServer(t, s)
	sock := filepath.Join(t.TempDir(), "socks.sock")
	uln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatalf("Listen(unix) = %v", err)
	}
	serveOn(t, &Server{Dial: b.Dial}, uln)
	target := netip.AddrPortFrom(a.Addr(), 7)
	hexName := fmt.Sprintf("%x.mycelium", a.Addr().AsSlice())

	for _, tc := range []struct {
		name, network, addr string
		req                 []byte
	}{
		{"ipv6 over tcp", "tcp", tcpAddr, request{cmd: cmdConnect, addr: target.Addr(), port: 7}.marshal()},
		{"ipv6 over unix socket", "unix", sock, request{cmd: cmdConnect, addr: target.Addr(), port: 7}.marshal()},
		{"bracketed literal", "tcp", tcpAddr, request{cmd: cmdConnect, host: "[" + a.Addr().String() + "]", port: 7}.marshal()},
		{"hex name", "tcp", tcpAddr, request{cmd: cmdConnect, host: hexName, port: 7}.marshal()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := dialServer(t, tc.network, tc.addr)
			if m := sc.greet(methodNoAuth, methodUserPass); m != methodNoAuth {
				t.Fatalf("method %#02x, want no-auth", m)
			}
			code, bnd := sc.request(tc.req)
			if code != ReplySucceeded || bnd.Addr() != b.Addr() || bnd.Port() == 0 {
				t.Fatalf("reply %#02x bound %v, want success bound to [%v]:<port>", code, bnd, b.Addr())
			}
			sc.c.Write([]byte("hello mesh"))
			sc.c.(interface{ CloseWrite() error }).CloseWrite() // half-close reaches the server as EOF
			got, err := io.ReadAll(sc.c)
			if err != nil || string(got) != "echo: hello mesh" {
				t.Fatalf("response %q, %v, want %q then EOF", got, err, "echo: hello mesh")
			}
		})
	}
}

// fakeDial returns err for every dial, or a pipe end if err is nil.
func fakeDial(err error) func(context.Context, string, string) (net.Conn, error) {
	return func(context.Context, string, string) (net.Conn, error) {
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: err}
		}
		c1, c2 := net.Pipe()
		go func() { io.Copy(io.Discard, c2); c2.Close() }()
		return c1, nil
	}
}

func TestReplyCodes(t *testing.T) {
	v6 := request{cmd: cmdConnect, addr: overlayAddr, port: 80}.marshal()
	tests := []struct {
		name    string
		server  func() *Server
		req     []byte
		want    byte
		dialled bool
	}{
		{"refused", func() *Server { return &Server{Dial: fakeDial(syscall.ECONNREFUSED)} }, v6, ReplyConnectionRefused, true},
		{"host unreachable", func() *Server { return &Server{Dial: fakeDial(syscall.EHOSTUNREACH)} }, v6, ReplyHostUnreachable, true},
		{"network unreachable", func() *Server { return &Server{Dial: fakeDial(syscall.ENETUNREACH)} }, v6, ReplyNetworkUnreachable, true},
		{"timeout", func() *Server { return &Server{Dial: fakeDial(context.DeadlineExceeded)} }, v6, ReplyHostUnreachable, true},
		{"not allowed", func() *Server { return &Server{Dial: fakeDial(ErrNotAllowed)} }, v6, ReplyNotAllowed, true},
		{"other error", func() *Server { return &Server{Dial: fakeDial(errors.New("boom"))} }, v6, ReplyGeneralFailure, true},
		{"bind", func() *Server { return &Server{Dial: fakeDial(nil)} }, request{cmd: cmdBind, addr: overlayAddr, port: 80}.marshal(), ReplyCommandNotSupported, false},
		{"udp associate", func() *Server { return &Server{Dial: fakeDial(nil)} }, []byte{5, cmdUDPAssociate, 0, 1, 0, 0, 0, 0, 0, 0}, ReplyCommandNotSupported, false},
		{"unknown atyp", func() *Server { return &Server{Dial: fakeDial(nil)} }, []byte{5, 1, 0, 7, 0, 0}, ReplyAddrNotSupported, false},
		{"ipv4 refused", func() *Server { return &Server{Dial: fakeDial(nil)} }, []byte{5, 1, 0, 1, 10, 0, 0, 1, 0, 80}, ReplyAddrNotSupported, false},
		{"ipv4-mapped refused", func() *Server { return &Server{Dial: fakeDial(nil)} }, request{cmd: cmdConnect, addr: netip.MustParseAddr("::ffff:10.0.0.1"), port: 80}.marshal(), ReplyAddrNotSupported, false},
		{"domain without resolver", func() *Server { return &Server{Dial: fakeDial(nil)} }, request{cmd: cmdConnect, host: "example.com", port: 80}.marshal(), ReplyAddrNotSupported, false},
		{"resolver fails", func() *Server { return &Server{Dial: fakeDial(nil), Resolve: ResolveHex} }, request{cmd: cmdConnect, host: "example.com", port: 80}.marshal(), ReplyHostUnreachable, false},
		// A dial slower than the handshake deadline still gets its reply.
		{"slow dial refused", func() *Server {
			return &Server{HandshakeTimeout: 50 * time.Millisecond, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				time.Sleep(200 * time.Millisecond)
				return nil, syscall.ECONNREFUSED
			}}
		}, v6, ReplyConnectionRefused, true},
		{"ipv4 allowed", func() *Server { return &Server{Dial: fakeDial(nil), AllowIPv4: true} }, []byte{5, 1, 0, 1, 10, 0, 0, 1, 0, 80}, ReplySucceeded, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.server()
			dials := 0
			var mu sync.Mutex
			dial := s.Dial
			s.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
				mu.Lock()
				dials++
				mu.Unlock()
				return dial(ctx, network, addr)
			}
			sc := dialServer(t, "tcp", startServer(t, s))
			sc.greet(methodNoAuth)
			if code, _ := sc.request(tt.req); code != tt.want {
				t.Fatalf("reply code %#02x, want %#02x", code, tt.want)
			}
			if tt.want != ReplySucceeded {
				sc.expectClosed()
			}
			mu.Lock()
			defer mu.Unlock()
			if (dials > 0) != tt.dialled {
				t.Fatalf("Dial called %d times, want called: %v", dials, tt.dialled)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	s := &Server{Dial: fakeDial(nil), Authenticate: StaticCredentials("alice", "secret")}
	addr := startServer(t, s)

	sc := dialServer(t, "tcp", addr)
	if m := sc.greet(methodNoAuth, methodUserPass); m != methodUserPass {
		t.Fatalf("method %#02x, want username/password", m)
	}
	sc.c.Write([]byte{1, 5, 'a', 'l', 'i', 'c', 'e', 6, 's', 'e', 'c', 'r', 'e', 't'})
	var st [2]byte
	if _, err := io.ReadFull(sc.c, st[:]); err != nil || st != [2]byte{1, 0} {
		t.Fatalf("auth status % x, %v, want 01 00", st, err)
	}
	if code, _ := sc.request(request{cmd: cmdConnect, addr: overlayAddr, port: 1}.marshal()); code != ReplySucceeded {
		t.Fatalf("reply %#02x after auth, want success", code)
	}

	bad := dialServer(t, "tcp", addr)
	bad.greet(methodUserPass)
	bad.c.Write([]byte{1, 5, 'a', 'l', 'i', 'c', 'e', 5, 'w', 'r', 'o', 'n', 'g'})
	if _, err := io.ReadFull(bad.c, st[:]); err != nil || st != [2]byte{1, 1} {
		t.Fatalf("auth status % x, %v, want 01 01", st, err)
	}
	bad.expectClosed()

	noauth := dialServer(t, "tcp", addr)
	if m := noauth.greet(methodNoAuth); m != methodNoAcceptable {
		t.Fatalf("method %#02x for a client without credentials, want 0xff", m)
	}
	noauth.expectClosed()
}

func TestGarbageClients(t *testing.T) {
	s := &Server{Dial: fakeDial(nil), HandshakeTimeout: 200 * time.Millisecond}
	addr := startServer(t, s)
	for _, tc := range []struct {
		name string
		send []byte
	}{
		{"http request", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"socks4", []byte{4, 1, 0, 80, 10, 0, 0, 1, 0}},
		{"silent client", nil},
		{"half a greeting", []byte{5, 3, 0}},
		{"truncated request", []byte{5, 1, 0, 5, 1, 0, 4, 1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := dialServer(t, "tcp", addr)
			sc.c.Write(tc.send)
			sc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
			b, err := io.ReadAll(sc.c)
			if err != nil {
				t.Fatalf("server did not close the connection: %v", err)
			}
			if len(b) > 2 {
				t.Fatalf("server answered garbage with % x", b)
			}
		})
	}
}
