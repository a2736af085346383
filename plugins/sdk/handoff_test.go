//go:build unix

package sdk

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// testPlane is a data plane with both ends in this process.
type testPlane struct {
	handoff *Handoff
	demux   *Demux
	path    string
	done    chan struct{}
}

func newTestPlane(t testing.TB, timeout time.Duration) *testPlane {
	t.Helper()
	return newTestPlaneFor(t, NewDemux(DemuxConfig{PreambleTimeout: timeout}))
}

// newTestPlaneFor feeds d from a fresh data plane.
func newTestPlaneFor(t testing.TB, d *Demux) *testPlane {
	t.Helper()
	dp, err := NewDataPlane(filepath.Join(shortTempDir(t), "d.sock"))
	if err != nil {
		t.Fatal(err)
	}
	files := dp.PluginFiles()
	ln, err := net.FileListener(files[0])
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.FileConn(files[1])
	if err != nil {
		t.Fatal(err)
	}
	dp.ClosePluginFiles()
	tp := &testPlane{
		handoff: dp.Handoff,
		demux:   d,
		path:    dp.SocketPath(),
		done:    make(chan struct{}, 2),
	}
	go func() { _ = tp.demux.ServeStream(ln); tp.done <- struct{}{} }()
	go func() { _ = tp.demux.ServePackets(c.(*net.UnixConn)); tp.done <- struct{}{} }()
	t.Cleanup(func() {
		_ = tp.demux.Close()
		<-tp.done
		<-tp.done
		_ = dp.Close()
	})
	return tp
}

// tcpPair returns a connected loopback TCP pair: client side, host side.
func tcpPair(t testing.TB) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	host, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close(); _ = host.Close() })
	return client.(*net.TCPConn), host.(*net.TCPConn)
}

func listen(t testing.TB, d *Demux, service string) net.Listener {
	t.Helper()
	l, err := d.Listen(service)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func acceptConn(t testing.TB, l net.Listener) *Conn {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := l.Accept(); ch <- res{c, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Accept: %v", r.err)
		}
		return r.c.(*Conn)
	case <-time.After(5 * time.Second):
		t.Fatal("Accept: timed out")
		return nil
	}
}

// halfCloseExchange runs a request/response exchange that relies on
// half-close in both directions: the client writes and half-closes, the
// plugin reads to EOF, answers and half-closes, the client reads to EOF.
func halfCloseExchange(t *testing.T, client *net.TCPConn, c *Conn) {
	t.Helper()
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := client.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "hello" {
		t.Fatalf("plugin read %q, %v; want hello then EOF", got, err)
	}
	if _, err := c.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatalf("plugin CloseWrite: %v", err)
	}
	got, err = io.ReadAll(client)
	if err != nil || string(got) != "bye" {
		t.Fatalf("client read %q, %v; want bye then EOF", got, err)
	}
	_ = c.Close()
}

func TestHandoffSpliceIdentityAndHalfClose(t *testing.T) {
	tp := newTestPlane(t, 0)
	l := listen(t, tp.demux, "smtp")
	client, host := tcpPair(t)
	p := overlayPeer()
	res := make(chan error, 1)
	var tr Transfer
	go func() {
		var err error
		tr, err = tp.handoff.Splice(context.Background(), host, p)
		res <- err
	}()
	c := acceptConn(t, l)
	if c.Peer() != p {
		t.Errorf("Peer() = %+v, want %+v", c.Peer(), p)
	}
	if got, ok := PeerOf(c); !ok || got != p {
		t.Errorf("PeerOf = %+v, %v", got, ok)
	}
	if c.RemoteAddr().String() != p.Addr.String() || c.LocalAddr().String() != p.Local.String() {
		t.Errorf("addrs = %s -> %s, want %s -> %s", c.RemoteAddr(), c.LocalAddr(), p.Addr, p.Local)
	}
	halfCloseExchange(t, client, c)
	if err := <-res; err != nil {
		t.Fatalf("Splice: %v", err)
	}
	if tr != (Transfer{In: 5, Out: 3}) {
		t.Errorf("Transfer = %+v, want {In:5 Out:3}", tr)
	}
}

func TestHandoffPassFDIdentityAndHalfClose(t *testing.T) {
	tp := newTestPlane(t, 0)
	l := listen(t, tp.demux, "submission")
	client, host := tcpPair(t)
	p := loopbackPeer()
	if err := tp.handoff.PassFD(context.Background(), host, p); err != nil {
		t.Fatalf("PassFD: %v", err)
	}
	c := acceptConn(t, l)
	if c.Peer() != p {
		t.Errorf("Peer() = %+v, want %+v", c.Peer(), p)
	}
	if _, ok := c.Conn.(*net.TCPConn); !ok {
		t.Errorf("passed connection is a %T, want *net.TCPConn", c.Conn)
	}
	halfCloseExchange(t, client, c)
}

func TestHandoffDeliverChoosesPath(t *testing.T) {
	tp := newTestPlane(t, 0)
	l := listen(t, tp.demux, "smtp")
	// A kernel TCP connection goes by descriptor ...
	_, host := tcpPair(t)
	if err := tp.handoff.Deliver(context.Background(), host, overlayPeer()); err != nil {
		t.Fatal(err)
	}
	if c := acceptConn(t, l); func() bool { _, ok := c.Conn.(*net.TCPConn); return !ok }() {
		t.Errorf("Deliver(TCP) gave a %T, want the passed *net.TCPConn", c.Conn)
	}
	// ... a userspace connection (net.Pipe here) is spliced.
	a, b := net.Pipe()
	go func() { _ = tp.handoff.Deliver(context.Background(), b, overlayPeer()) }()
	c := acceptConn(t, l)
	if _, ok := c.Conn.(*net.UnixConn); !ok {
		t.Errorf("Deliver(pipe) gave a %T, want a spliced *net.UnixConn", c.Conn)
	}
	_ = a.Close()
	_ = c.Close()
}

func TestDemuxBadSplicedConnectionsCloseOnlyThemselves(t *testing.T) {
	tp := newTestPlane(t, 200*time.Millisecond)
	l := listen(t, tp.demux, "smtp")
	unknown, _ := EncodePreamble(func() Peer { p := overlayPeer(); p.Service = "nope"; return p }())
	for name, send := range map[string][]byte{
		"garbage":         []byte("GET / HTTP/1.1\r\n\r\n"),
		"truncated":       goldenOverlay()[:30],
		"silent":          nil,
		"unknown service": unknown,
	} {
		t.Run(name, func(t *testing.T) {
			u, err := net.Dial("unix", tp.path)
			if err != nil {
				t.Fatal(err)
			}
			defer u.Close()
			if _, err := u.Write(send); err != nil {
				t.Fatal(err)
			}
			_ = u.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := u.Read(make([]byte, 1)); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("read on rejected connection = %d, %v; want EOF or reset (closed by plugin)", n, err)
			}
		})
	}
	// The demultiplexer still serves good connections.
	client, host := tcpPair(t)
	go func() { _, _ = tp.handoff.Splice(context.Background(), host, overlayPeer()) }()
	c := acceptConn(t, l)
	halfCloseExchange(t, client, c)
}

func TestDemuxBadPassedConnections(t *testing.T) {
	tp := newTestPlane(t, 0)
	l := listen(t, tp.demux, "smtp")
	good, _ := EncodePreamble(overlayPeer())
	send := func(payload []byte, fds ...int) {
		t.Helper()
		if _, _, err := tp.handoff.fdConn.WriteMsgUnix(payload, syscall.UnixRights(fds...), nil); err != nil {
			t.Fatal(err)
		}
	}
	// Each rejected descriptor is closed by the plugin: the client end
	// of its TCP pair sees EOF.
	for name, tc := range map[string]struct {
		payload []byte
		fds     int
	}{
		"bad preamble": {[]byte("garbage"), 1},
		"two fds":      {good, 2},
		"unknown svc":  {func() []byte { p := overlayPeer(); p.Service = "x"; b, _ := EncodePreamble(p); return b }(), 1},
	} {
		t.Run(name, func(t *testing.T) {
			var clients []*net.TCPConn
			var fds []int
			for range tc.fds {
				client, host := tcpPair(t)
				f, err := host.File()
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				_ = host.Close()
				clients = append(clients, client)
				fds = append(fds, int(f.Fd()))
			}
			send(tc.payload, fds...)
			for _, f := range fds {
				_ = syscall.Close(f) // the host's copies
			}
			for _, c := range clients {
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if n, err := c.Read(make([]byte, 1)); err != io.EOF {
					t.Fatalf("client of rejected descriptor read %d, %v; want EOF", n, err)
				}
			}
		})
	}
	send(good) // no descriptor at all: logged and skipped
	client, host := tcpPair(t)
	if err := tp.handoff.PassFD(context.Background(), host, overlayPeer()); err != nil {
		t.Fatal(err)
	}
	halfCloseExchange(t, client, acceptConn(t, l))
}

func TestServiceListenerClose(t *testing.T) {
	d := NewDemux(DemuxConfig{})
	defer d.Close()
	l, err := d.Listen("smtp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Listen("smtp"); err == nil {
		t.Error("second Listen(smtp) succeeded, want error")
	}
	errc := make(chan error, 1)
	go func() { _, err := l.Accept(); errc <- err }()
	time.Sleep(10 * time.Millisecond)
	_ = l.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Accept after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock Accept")
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept on closed listener = %v, want net.ErrClosed", err)
	}
	if l2, err := d.Listen("smtp"); err != nil {
		t.Errorf("Listen after Close = %v, want a new listener", err)
	} else {
		_ = l2.Close()
	}
	if l.Addr().String() != "smtp" {
		t.Errorf("Addr() = %s, want smtp", l.Addr())
	}
}

func TestDemuxCloseClosesQueuedConnections(t *testing.T) {
	tp := newTestPlane(t, 0)
	_, err := tp.demux.Listen("smtp") // never accepted
	if err != nil {
		t.Fatal(err)
	}
	client, host := tcpPair(t)
	if err := tp.handoff.PassFD(context.Background(), host, overlayPeer()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	_ = tp.demux.Close()
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("queued connection after Demux.Close: read err %v, want EOF", err)
	}
	if _, err := tp.demux.Listen("imap"); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Listen after Close = %v, want net.ErrClosed", err)
	}
}

func TestSpliceToDeadPluginFails(t *testing.T) {
	h, err := NewHandoff(HandoffConfig{SocketPath: filepath.Join(shortTempDir(t), "none.sock")})
	if err != nil {
		t.Fatal(err)
	}
	_, host := tcpPair(t)
	if _, err := h.Splice(context.Background(), host, overlayPeer()); err == nil {
		t.Fatal("Splice to a missing socket succeeded")
	}
	if _, err := NewHandoff(HandoffConfig{}); err == nil {
		t.Error("NewHandoff with no path succeeded")
	}
}

// TestTryDeliverToDeadPluginKeepsConnection: when the plugin's end of the
// data plane is gone (a crashed process), TryDeliver fails with
// ErrNotDelivered and leaves the connection open and unread, so the host
// can hand it to the restarted process; Deliver closes it.
func TestTryDeliverToDeadPluginKeepsConnection(t *testing.T) {
	dp, err := NewDataPlane(filepath.Join(shortTempDir(t), "d.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	// The plugin dies: its ends of the data plane close.
	dp.ClosePluginFiles()
	for _, fd := range []bool{true, false} {
		client, host := tcpPair(t)
		var c net.Conn = host
		if !fd {
			c = struct{ net.Conn }{host} // no descriptor: the splice path
		}
		err := dp.Handoff.TryDeliver(context.Background(), c, overlayPeer())
		if !errors.Is(err, ErrNotDelivered) {
			t.Fatalf("fd=%v: TryDeliver to a dead plugin: %v, want ErrNotDelivered", fd, err)
		}
		// The connection still works, and nothing was read from it.
		if _, err := client.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(host, buf); err != nil || string(buf) != "hello" {
			t.Fatalf("fd=%v: connection after a failed TryDeliver: %q, %v", fd, buf, err)
		}
		if !fd {
			continue
		}
		// A live (restarted) plugin then gets it whole.
		tp := newTestPlane(t, time.Second)
		l := listen(t, tp.demux, overlayPeer().Service)
		if err := tp.handoff.Deliver(context.Background(), c, overlayPeer()); err != nil {
			t.Fatalf("Deliver to the restarted plugin: %v", err)
		}
		pc := acceptConn(t, l)
		if _, err := client.Write([]byte("again")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(pc, buf); err != nil || string(buf) != "again" {
			t.Fatalf("restarted plugin read %q, %v", buf, err)
		}
		pc.Close()
	}
	// Deliver closes the connection it could not hand over.
	client, host := tcpPair(t)
	if err := dp.Handoff.Deliver(context.Background(), host, overlayPeer()); !errors.Is(err, ErrNotDelivered) {
		t.Fatalf("Deliver to a dead plugin: %v", err)
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Read(make([]byte, 1)); err == nil {
		t.Error("Deliver left the connection open after a failed hand-off")
	}
}
