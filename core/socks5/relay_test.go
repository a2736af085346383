package socks5

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

func TestIdleTimeout(t *testing.T) {
	remotes := make(chan net.Conn, 2)
	s := &Server{
		IdleTimeout: 300 * time.Millisecond,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			c1, c2 := net.Pipe()
			remotes <- c2
			return c1, nil
		},
	}
	addr := startServer(t, s)

	// A one-way stream keeps the relay alive past the idle timeout.
	sc := dialServer(t, "tcp", addr)
	sc.connect(netip.AddrPortFrom(overlayAddr, 1))
	remote := <-remotes
	defer remote.Close()
	go func() {
		for range 10 {
			if _, err := remote.Write([]byte("tick")); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	got := make([]byte, 40)
	if _, err := io.ReadFull(sc.c, got); err != nil {
		t.Fatalf("one-way stream cut after %v: %v", s.IdleTimeout, err)
	}

	// Silence in both directions closes it.
	quiet := dialServer(t, "tcp", addr)
	quiet.connect(netip.AddrPortFrom(overlayAddr, 1))
	qr := <-remotes
	defer qr.Close()
	start := time.Now()
	quiet.expectClosed()
	if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
		t.Fatalf("idle connection closed after %v, want about %v", d, s.IdleTimeout)
	}
}

func TestMaxConns(t *testing.T) {
	s := &Server{MaxConns: 1, Dial: fakeDial(nil)}
	addr := startServer(t, s)
	first := dialServer(t, "tcp", addr)
	first.connect(netip.AddrPortFrom(overlayAddr, 1))

	second := dialServer(t, "tcp", addr)
	second.c.Write([]byte{5, 1, 0})
	second.c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	var b [2]byte
	if _, err := io.ReadFull(second.c, b[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("second client served while the first holds the only slot: % x, %v", b, err)
	}
	first.c.Close()
	second.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(second.c, b[:]); err != nil || b != [2]byte{5, 0} {
		t.Fatalf("second client after the first left: % x, %v", b, err)
	}
}

func TestShutdown(t *testing.T) {
	a, b := stackPair(t)
	ln, err := a.Listen("tcp", ":9")
	if err != nil {
		t.Fatal(err)
	}
	echoOn(t, ln)

	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{Dial: b.Dial}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx, tl) }()
	sc := dialServer(t, "tcp", tl.Addr().String())
	if code, _ := sc.connect(netip.AddrPortFrom(a.Addr(), 9)); code != ReplySucceeded {
		t.Fatalf("reply %#02x", code)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Serve() after cancel = %v, want nil", err)
	}
	sc.expectClosed() // the live relay was torn down
	if _, err := net.Dial("tcp", tl.Addr().String()); err == nil {
		t.Error("listener still accepting after Serve returned")
	}

	s.Close()
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	if err := s.Serve(context.Background(), ln2); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve() after Close = %v, want ErrServerClosed", err)
	}
	if err := (&Server{}).Serve(context.Background(), ln2); err == nil {
		t.Error("Serve() without Dial succeeded")
	}
}

func TestHalfCloseRelay(t *testing.T) {
	// The remote finishes first: the client must still be able to send.
	remotes := make(chan net.Conn, 1)
	s := &Server{Dial: func(context.Context, string, string) (net.Conn, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			return nil, err
		}
		r, err := l.Accept()
		if err != nil {
			c.Close()
			return nil, err
		}
		remotes <- r
		return c, nil
	}}
	sc := dialServer(t, "tcp", startServer(t, s))
	sc.connect(netip.AddrPortFrom(overlayAddr, 1))
	r := <-remotes
	defer r.Close()
	r.Write([]byte("banner"))
	r.(*net.TCPConn).CloseWrite()
	got := make([]byte, 6)
	if _, err := io.ReadFull(sc.c, got); err != nil || string(got) != "banner" {
		t.Fatalf("client read %q, %v", got, err)
	}
	if n, err := sc.c.Read(got); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("client read after remote half-close = %d, %v, want EOF", n, err)
	}
	sc.c.Write([]byte("late request"))
	sc.c.(*net.TCPConn).CloseWrite()
	r.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(rest, []byte("late request")) {
		t.Fatalf("remote read %q, %v after half-close, want %q", rest, err, "late request")
	}
}
