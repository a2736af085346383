package linktest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	a = netip.MustParseAddrPort("[2001:db8::a]:1")
	b = netip.MustParseAddrPort("[2001:db8::b]:2")
)

func readAll(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read: %v", err)
	}
	return buf
}

func TestPairIsBuffered(t *testing.T) {
	p := NewPairSize(a, b, 1000)
	// writes complete without a reader, up to the buffer
	if n, err := p.A.Write(bytes.Repeat([]byte{1}, 1000)); n != 1000 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := p.A.Write([]byte{2, 3}); err != nil {
			t.Errorf("blocked Write: %v", err)
		}
	}()
	select {
	case <-done:
		t.Fatal("Write past the buffer did not block")
	case <-time.After(10 * time.Millisecond):
	}
	got := readAll(t, p.B, 1002)
	<-done
	if got[999] != 1 || got[1000] != 2 || got[1001] != 3 {
		t.Errorf("read %v...", got[995:])
	}
	if la := p.A.LocalAddr().(*net.TCPAddr).AddrPort(); la != a {
		t.Errorf("A.LocalAddr = %v", la)
	}
	if ra := p.B.RemoteAddr().(*net.TCPAddr).AddrPort(); ra != a {
		t.Errorf("B.RemoteAddr = %v", ra)
	}
}

func TestPairCloseGivesEOF(t *testing.T) {
	p := NewPair(a, b)
	if _, err := p.A.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	p.A.Close()
	if got := readAll(t, p.B, 3); string(got) != "bye" {
		t.Errorf("read %q after close, want the buffered bytes", got)
	}
	if _, err := p.B.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("Read after peer close = %v, want EOF", err)
	}
	if _, err := p.B.Write([]byte("x")); !errors.Is(err, syscall.EPIPE) {
		t.Errorf("Write after peer close = %v, want EPIPE", err)
	}
	if _, err := p.A.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read on closed end = %v, want net.ErrClosed", err)
	}
}

func TestPairCut(t *testing.T) {
	p := NewPair(a, b)
	errc := make(chan error, 1)
	go func() {
		_, err := p.B.Read(make([]byte, 10))
		errc <- err
	}()
	time.Sleep(5 * time.Millisecond)
	p.Cut()
	if err := <-errc; !errors.Is(err, ErrReset) || !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("pending Read after Cut = %v, want ErrReset", err)
	}
	if _, err := p.A.Write([]byte("x")); !errors.Is(err, ErrReset) {
		t.Errorf("Write after Cut = %v, want ErrReset", err)
	}
	if _, err := p.A.Read(make([]byte, 1)); !errors.Is(err, ErrReset) {
		t.Errorf("Read after Cut = %v, want ErrReset", err)
	}
}

func TestPairBlackholeAndHeal(t *testing.T) {
	p := NewPairSize(a, b, 100)
	p.Blackhole()
	// writes succeed beyond any buffer and vanish
	for range 10 {
		if n, err := p.A.Write(make([]byte, 100)); n != 100 || err != nil {
			t.Fatalf("Write into a blackhole = %d, %v", n, err)
		}
	}
	_ = p.B.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := p.B.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read from a blackhole = %v, want a deadline error", err)
	}
	_ = p.B.SetReadDeadline(time.Time{})
	p.Heal()
	if _, err := p.A.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, p.B, 2); string(got) != "hi" {
		t.Errorf("after Heal read %q", got)
	}
	// Close unblocks a reader stuck in a blackhole
	p.Blackhole()
	errc := make(chan error, 1)
	go func() {
		_, err := p.B.Read(make([]byte, 1))
		errc <- err
	}()
	time.Sleep(5 * time.Millisecond)
	p.B.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close = %v, want net.ErrClosed", err)
	}
}

func TestDeadlines(t *testing.T) {
	p := NewPairSize(a, b, 10)
	_ = p.A.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
	n, err := p.A.Write(make([]byte, 20))
	if n != 10 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Write past a full buffer = %d, %v; want 10 and a deadline error", n, err)
	}
	_ = p.A.SetDeadline(time.Now().Add(-time.Second))
	if _, err := p.A.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read with a past deadline = %v", err)
	}
	_ = p.A.SetDeadline(time.Time{})
	readAll(t, p.B, 10)
	if _, err := p.A.Write([]byte{1}); err != nil {
		t.Errorf("Write after clearing the deadline: %v", err)
	}
}

func TestNetwork(t *testing.T) {
	n := NewNetwork()
	ln, err := n.Listen(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Listen(b); !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("second Listen = %v, want EADDRINUSE", err)
	}
	if _, err := n.Dial(context.Background(), a.Addr(), netip.MustParseAddrPort("[2001:db8::c]:1")); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Dial to nobody = %v, want ECONNREFUSED", err)
	}
	c, err := n.Dial(context.Background(), a.Addr(), b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, 4); string(got) != "ping" {
		t.Errorf("read %q", got)
	}
	if ps := n.Pairs(b.Addr(), a.Addr()); len(ps) != 1 {
		t.Fatalf("Pairs = %d, want 1", len(ps))
	}
	if got := s.RemoteAddr().(*net.TCPAddr).AddrPort().Addr(); got != a.Addr() {
		t.Errorf("accepted conn's remote = %v, want host %v", got, a.Addr())
	}
	ln.Close()
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close = %v", err)
	}
	if _, err := n.Listen(b); err != nil {
		t.Errorf("Listen after Close: %v", err)
	}
}
