// Package linktest has in-memory transports and a recording Handler for
// tests of core/link and of multi-node setups: a buffered conn pair that
// can be cut (like a TCP RST) or blackholed (like a downed veth), an
// in-memory network that plugs into link.Config, and Recorder, a Handler
// that records what links deliver.
package linktest

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
)

// DefaultBuffer is how many bytes each direction of a Pair holds before
// writes block, like a socket buffer.
const DefaultBuffer = 1 << 20

// ErrReset is what both ends of a cut Pair get from Read and Write. It
// wraps syscall.ECONNRESET.
var ErrReset = fmt.Errorf("linktest: connection reset: %w", syscall.ECONNRESET)

// errBrokenPipe is returned by a write after the other end closed.
var errBrokenPipe = fmt.Errorf("linktest: write to closed peer: %w", syscall.EPIPE)

// Pair is two connected in-memory stream conns, A and B. Unlike net.Pipe
// each direction is buffered, so writes do not wait for reads.
type Pair struct {
	A, B *Conn

	mu        sync.Mutex
	cut       bool // both ends fail with ErrReset
	blackhole bool // writes vanish, reads see nothing
	ab, ba    half // A->B and B->A
}

// half is one direction's buffer. Guarded by Pair.mu.
type half struct {
	buf     []byte
	limit   int
	wclosed bool          // the writing end closed: reader gets EOF after draining
	rclosed bool          // the reading end closed: writer gets EPIPE
	data    chan struct{} // token: something changed for the reader
	space   chan struct{} // token: something changed for the writer
}

func (h *half) init(limit int) {
	h.limit = limit
	h.data = make(chan struct{}, 1)
	h.space = make(chan struct{}, 1)
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (h *half) wakeAll() {
	signal(h.data)
	signal(h.space)
}

// NewPair returns a connected pair whose ends report the given socket
// addresses (as *net.TCPAddr), each direction buffering DefaultBuffer
// bytes.
func NewPair(a, b netip.AddrPort) *Pair {
	return NewPairSize(a, b, DefaultBuffer)
}

// NewPairSize is NewPair with a per-direction buffer of size bytes.
func NewPairSize(a, b netip.AddrPort, size int) *Pair {
	p := &Pair{}
	p.ab.init(size)
	p.ba.init(size)
	ta, tb := net.TCPAddrFromAddrPort(a), net.TCPAddrFromAddrPort(b)
	p.A = &Conn{p: p, in: &p.ba, out: &p.ab, local: ta, remote: tb}
	p.B = &Conn{p: p, in: &p.ab, out: &p.ba, local: tb, remote: ta}
	p.A.init()
	p.B.init()
	return p
}

// Cut breaks the pair cleanly: buffered bytes are lost and every pending
// and future Read and Write on both ends fails with ErrReset, as after a
// TCP RST.
func (p *Pair) Cut() {
	p.mu.Lock()
	p.cut = true
	p.ab.buf, p.ba.buf = nil, nil
	p.ab.wakeAll()
	p.ba.wakeAll()
	p.mu.Unlock()
}

// Blackhole makes the pair silent: buffered bytes are lost, writes
// succeed but deliver nothing and reads block (until Close, a deadline,
// Cut or Heal), as when a veth is set down under a TCP connection.
func (p *Pair) Blackhole() {
	p.mu.Lock()
	p.blackhole = true
	p.ab.buf, p.ba.buf = nil, nil
	p.ab.wakeAll()
	p.ba.wakeAll()
	p.mu.Unlock()
}

// Heal ends a blackhole; bytes written meanwhile stay lost.
func (p *Pair) Heal() {
	p.mu.Lock()
	p.blackhole = false
	p.ab.wakeAll()
	p.ba.wakeAll()
	p.mu.Unlock()
}

// Conn is one end of a Pair. It implements net.Conn.
type Conn struct {
	p             *Pair
	in, out       *half
	local, remote net.Addr

	closeOnce sync.Once
	closed    chan struct{}
	rd, wd    deadline
}

func (c *Conn) init() {
	c.closed = make(chan struct{})
	c.rd.init()
	c.wd.init()
}

// Read implements net.Conn.
func (c *Conn) Read(b []byte) (int, error) {
	for {
		c.p.mu.Lock()
		n, err, done := c.readLocked(b)
		c.p.mu.Unlock()
		if done {
			return n, err
		}
		select {
		case <-c.in.data:
		case <-c.closed:
		case <-c.rd.wait():
		}
	}
}

// readLocked makes one attempt; done is false when Read must wait.
func (c *Conn) readLocked(b []byte) (n int, err error, done bool) {
	switch {
	case c.isClosed():
		return 0, c.opErr("read", net.ErrClosed), true
	case c.p.cut:
		return 0, c.opErr("read", ErrReset), true
	case c.rd.expired():
		return 0, c.opErr("read", os.ErrDeadlineExceeded), true
	case c.p.blackhole:
		return 0, nil, false
	case len(c.in.buf) > 0:
		n = copy(b, c.in.buf)
		c.in.buf = c.in.buf[n:]
		if len(c.in.buf) == 0 {
			c.in.buf = nil
		}
		signal(c.in.space)
		return n, nil, true
	case c.in.wclosed:
		return 0, io.EOF, true
	case len(b) == 0:
		return 0, nil, true
	}
	return 0, nil, false
}

// Write implements net.Conn. It blocks while the direction's buffer is
// full.
func (c *Conn) Write(b []byte) (int, error) {
	written := 0
	for {
		c.p.mu.Lock()
		n, err, done := c.writeLocked(b[written:])
		c.p.mu.Unlock()
		written += n
		if done || err != nil {
			return written, err
		}
		select {
		case <-c.out.space:
		case <-c.closed:
		case <-c.wd.wait():
		}
	}
}

func (c *Conn) writeLocked(b []byte) (n int, err error, done bool) {
	switch {
	case c.isClosed():
		return 0, c.opErr("write", net.ErrClosed), true
	case c.p.cut:
		return 0, c.opErr("write", ErrReset), true
	case c.wd.expired():
		return 0, c.opErr("write", os.ErrDeadlineExceeded), true
	case c.out.rclosed:
		return 0, c.opErr("write", errBrokenPipe), true
	case c.p.blackhole:
		return len(b), nil, true
	}
	n = min(len(b), c.out.limit-len(c.out.buf))
	if n > 0 {
		c.out.buf = append(c.out.buf, b[:n]...)
		signal(c.out.data)
	}
	return n, nil, n == len(b)
}

func (c *Conn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

func (c *Conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "linktest", Source: c.local, Addr: c.remote, Err: err}
}

// Close implements net.Conn. The other end reads EOF once it has drained
// what was written, and its writes fail.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.p.mu.Lock()
		close(c.closed)
		c.out.wclosed = true
		c.in.rclosed = true
		c.in.buf = nil
		c.out.wakeAll()
		c.in.wakeAll()
		c.p.mu.Unlock()
	})
	return nil
}

// LocalAddr implements net.Conn.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr implements net.Conn.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	c.rd.set(t)
	c.wd.set(t)
	return nil
}

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error { c.rd.set(t); return nil }

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error { c.wd.set(t); return nil }

// deadline is a settable point in time with a channel closed when it
// passes.
type deadline struct {
	mu    sync.Mutex
	timer *time.Timer
	ch    chan struct{} // closed when the deadline has passed
}

func (d *deadline) init() { d.ch = make(chan struct{}) }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.ch // the timer fired: wait for it to close ch
	}
	d.timer = nil
	select {
	case <-d.ch:
		d.ch = make(chan struct{})
	default:
	}
	if t.IsZero() {
		return
	}
	if dur := time.Until(t); dur > 0 {
		ch := d.ch
		d.timer = time.AfterFunc(dur, func() { close(ch) })
		return
	}
	close(d.ch)
}

func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ch
}

func (d *deadline) expired() bool {
	select {
	case <-d.wait():
		return true
	default:
		return false
	}
}

var _ net.Conn = (*Conn)(nil)
