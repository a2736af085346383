package linktest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"github.com/mycelium-go/mycelium/core/link"
)

// Network is an in-memory stream network: listeners at socket
// addresses, and dialers that connect to them through Pairs. Plug it
// into link.Config with Attach, and Managers dial, accept, redial and
// fail over exactly as they do over TCP.
type Network struct {
	mu        sync.Mutex
	listeners map[netip.AddrPort]*Listener
	pairs     []*Pair
	nextPort  uint16
}

// NewNetwork returns an empty network.
func NewNetwork() *Network {
	return &Network{listeners: make(map[netip.AddrPort]*Listener), nextPort: 40000}
}

// Attach points cfg at this network for the host listening at addr: an
// in-memory listener replaces the TCP listener, dials of tcp:// endpoints
// go through the network, and QUIC and discovery are disabled.
func (n *Network) Attach(cfg *link.Config, addr netip.AddrPort) error {
	ln, err := n.Listen(addr)
	if err != nil {
		return err
	}
	cfg.Listener = ln
	cfg.DialStream = n.Dialer(addr.Addr())
	cfg.DisableQUIC = true
	cfg.DisableDiscovery = true
	return nil
}

// Listen opens a listener at addr.
func (n *Network) Listen(addr netip.AddrPort) (*Listener, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.listeners[addr]; ok {
		return nil, fmt.Errorf("linktest: listen %s: %w", addr, syscall.EADDRINUSE)
	}
	l := &Listener{n: n, addr: addr, conns: make(chan net.Conn, 16), done: make(chan struct{})}
	n.listeners[addr] = l
	return l, nil
}

// Dialer returns a dial function for link.Config.DialStream that
// connects from host (with a fresh local port per connection).
func (n *Network) Dialer(host netip.Addr) func(ctx context.Context, ep link.Endpoint) (net.Conn, error) {
	return func(ctx context.Context, ep link.Endpoint) (net.Conn, error) {
		return n.Dial(ctx, host, ep.Addr)
	}
}

// Dial connects from host to the listener at to.
func (n *Network) Dial(ctx context.Context, host netip.Addr, to netip.AddrPort) (net.Conn, error) {
	n.mu.Lock()
	l, ok := n.listeners[to]
	if !ok {
		n.mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: "linktest", Addr: net.TCPAddrFromAddrPort(to), Err: syscall.ECONNREFUSED}
	}
	n.nextPort++
	from := netip.AddrPortFrom(host, n.nextPort)
	p := NewPair(from, to)
	n.pairs = append(n.pairs, p)
	n.mu.Unlock()
	select {
	case l.conns <- p.B:
		return p.A, nil
	case <-l.done:
		return nil, &net.OpError{Op: "dial", Net: "linktest", Addr: net.TCPAddrFromAddrPort(to), Err: syscall.ECONNREFUSED}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Pairs returns the pairs connecting hosts a and b (in either
// direction), for cutting or blackholing them.
func (n *Network) Pairs(a, b netip.Addr) []*Pair {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []*Pair
	for _, p := range n.pairs {
		x := p.A.local.(*net.TCPAddr).AddrPort().Addr()
		y := p.B.local.(*net.TCPAddr).AddrPort().Addr()
		if (x == a && y == b) || (x == b && y == a) {
			out = append(out, p)
		}
	}
	return out
}

// Listener is an in-memory net.Listener.
type Listener struct {
	n         *Network
	addr      netip.AddrPort
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

// Accept implements net.Listener.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: "linktest", Addr: l.Addr(), Err: net.ErrClosed}
	}
}

// Close implements net.Listener; the address becomes free again.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		l.n.mu.Lock()
		if l.n.listeners[l.addr] == l {
			delete(l.n.listeners, l.addr)
		}
		l.n.mu.Unlock()
	})
	return nil
}

// Addr implements net.Listener.
func (l *Listener) Addr() net.Addr { return net.TCPAddrFromAddrPort(l.addr) }

// Connect joins two running Managers with a fresh Pair: a sees a static
// link to b's address, b an inbound link from a's. It returns the pair
// so the test can cut or blackhole it.
func Connect(a, b *link.Manager, addrA, addrB netip.AddrPort) (*Pair, error) {
	p := NewPair(addrA, addrB)
	if err := a.AddConn(p.A, link.Endpoint{Proto: link.ProtoTCP, Addr: addrB}, link.KindStatic); err != nil {
		return nil, err
	}
	if err := b.AddConn(p.B, link.Endpoint{Proto: link.ProtoTCP, Addr: addrA}, link.KindInbound); err != nil {
		p.Cut()
		return nil, err
	}
	return p, nil
}

var _ net.Listener = (*Listener)(nil)
