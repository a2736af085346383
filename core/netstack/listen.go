package netstack

import (
	"fmt"
	"net"
	"net/netip"
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// maxInFlightSYN bounds the connection attempts being admitted at once;
// further SYNs are ignored (the peer retransmits) until some complete.
const maxInFlightSYN = 512

// DefaultBacklog is the accept queue length of a listener. While it is
// full, new SYNs are dropped (the peer retransmits), as Linux does.
const DefaultBacklog = 1024

// AllowFunc decides at SYN time whether remote may connect. It runs on a
// goroutine of its own per connection attempt and must not block for long.
type AllowFunc func(remote netip.AddrPort) bool

// listenKey identifies a listener: a local address (the node address or the
// unspecified address ::) and a port.
type listenKey struct {
	addr netip.Addr
	port uint16
}

// Listen listens for TCP connections on address, which is "[addr]:port" with
// addr the node address or "::" (or empty) and port 0 for a free port.
// network must be "tcp" or "tcp6".
func (s *Stack) Listen(network, address string) (net.Listener, error) {
	return s.ListenFiltered(network, address, nil)
}

// ListenFiltered is Listen with an admission check: for every incoming SYN,
// allow is called with the peer's overlay address and port, and a peer it
// refuses gets a RST (its dial fails with "connection refused") and never
// reaches Accept. A nil allow admits everyone.
func (s *Stack) ListenFiltered(network, address string, allow AllowFunc) (net.Listener, error) {
	if network != "tcp" && network != "tcp6" {
		return nil, opError("listen", network, nil, net.UnknownNetworkError(network))
	}
	ap, err := s.parseLocal(address)
	if err != nil {
		return nil, opError("listen", network, nil, err)
	}
	l, err := s.newListener(ap, allow)
	if err != nil {
		return nil, opError("listen", network, net.TCPAddrFromAddrPort(ap), err)
	}
	return l, nil
}

// parseLocal parses a local "[addr]:port", accepting only the node address
// and the unspecified address (also written ":port").
func (s *Stack) parseLocal(address string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if host == "" {
		host = "::"
	}
	ap, err := netip.ParseAddrPort(net.JoinHostPort(host, port))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("parse local address %q: %w", address, err)
	}
	if a := ap.Addr(); a != s.cfg.Addr && a != netip.IPv6Unspecified() {
		return netip.AddrPort{}, fmt.Errorf("local address %v: %w", a, errAddrNotAvailable)
	}
	return ap, nil
}

// newListener reserves the port in the stack (so dials never pick it and a
// second listener conflicts exactly as with kernel sockets) and registers
// the listener for the SYN handler.
func (s *Stack) newListener(ap netip.AddrPort, allow AllowFunc) (*listener, error) {
	var wq waiter.Queue
	ep, terr := s.st.NewEndpoint(tcp.ProtocolNumber, ipv6.ProtocolNumber, &wq)
	if terr != nil {
		return nil, mapError(terr)
	}
	if terr := ep.Bind(fullAddress(ap)); terr != nil {
		ep.Close()
		return nil, mapError(terr)
	}
	local, terr := ep.GetLocalAddress()
	if terr != nil {
		ep.Close()
		return nil, mapError(terr)
	}
	key := listenKey{addr: ap.Addr(), port: local.Port}
	l := &listener{
		s:       s,
		key:     key,
		allow:   allow,
		reserve: ep,
		conns:   make(chan accepted, s.backlog),
		done:    make(chan struct{}),
	}
	s.listeners.Lock()
	defer s.listeners.Unlock()
	if s.listeners.m == nil {
		ep.Close()
		return nil, errClosed
	}
	if _, dup := s.listeners.m[key]; dup {
		ep.Close()
		return nil, errAddrInUse
	}
	s.listeners.m[key] = l
	return l, nil
}

// lookup returns the listener for a connection to local:port, preferring
// one bound to the exact address over one bound to ::.
func (s *Stack) lookup(local netip.Addr, port uint16) *listener {
	s.listeners.Lock()
	defer s.listeners.Unlock()
	if l := s.listeners.m[listenKey{local, port}]; l != nil {
		return l
	}
	return s.listeners.m[listenKey{netip.IPv6Unspecified(), port}]
}

// closeListeners closes every listener and refuses new ones.
func (s *Stack) closeListeners() {
	s.listeners.Lock()
	ls := s.listeners.m
	s.listeners.m = nil
	s.listeners.Unlock()
	for _, l := range ls {
		l.Close()
	}
}

// handleSYN runs for every SYN no existing endpoint claims: it finds the
// listener, asks its admission check, and either completes the handshake and
// queues the connection, or answers with a RST (no listener, or refused).
// A SYN for a listener whose accept queue is full is dropped instead.
func (s *Stack) handleSYN(r *tcp.ForwarderRequest) {
	if !s.handlers.enter() {
		r.Complete(true)
		return
	}
	defer s.handlers.leave()
	id := r.ID()
	local := addrFrom(id.LocalAddress)
	remote := netip.AddrPortFrom(addrFrom(id.RemoteAddress), id.RemotePort)
	l := s.lookup(local, id.LocalPort)
	if l != nil && l.full() {
		r.Complete(false) // like Linux: drop the SYN, the peer retries
		return
	}
	if l == nil || (l.allow != nil && !l.allow(remote)) {
		r.Complete(true)
		return
	}
	var wq waiter.Queue
	ep, err := r.CreateEndpoint(&wq)
	if err != nil {
		r.Complete(true)
		return
	}
	r.Complete(false)
	l.deliver(gonet.NewTCPConn(&wq, ep), ep)
}

// listener is a net.Listener fed by handleSYN.
type listener struct {
	s       *Stack
	key     listenKey
	allow   AllowFunc
	reserve tcpip.Endpoint // bound, never listening: holds the port
	conns   chan accepted
	done    chan struct{}

	mu     sync.Mutex
	closed bool
}

// accepted is an established connection waiting for Accept.
type accepted struct {
	conn *gonet.TCPConn
	ep   tcpip.Endpoint
}

// full reports whether the accept queue has no room.
func (l *listener) full() bool { return len(l.conns) == cap(l.conns) }

// deliver queues an established connection for Accept, or resets it if the
// listener closed or its queue filled up meanwhile.
func (l *listener) deliver(c *gonet.TCPConn, ep tcpip.Endpoint) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		select {
		case l.conns <- accepted{c, ep}:
			return
		default:
		}
	}
	reset(ep)
}

// reset aborts a connection with a RST and releases the endpoint.
func reset(ep tcpip.Endpoint) {
	ep.Abort()
	ep.Close()
}

// Accept implements net.Listener.
func (l *listener) Accept() (net.Conn, error) {
	select {
	case a := <-l.conns:
		return a.conn, nil
	case <-l.done:
		return nil, opError("accept", "tcp", l.Addr(), net.ErrClosed)
	}
}

// Close implements net.Listener: pending connections are reset.
func (l *listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	l.mu.Unlock()

	l.s.listeners.Lock()
	if l.s.listeners.m != nil && l.s.listeners.m[l.key] == l {
		delete(l.s.listeners.m, l.key)
	}
	l.s.listeners.Unlock()
	l.reserve.Close()
	for {
		select {
		case a := <-l.conns:
			reset(a.ep)
		default:
			return nil
		}
	}
}

// Addr implements net.Listener.
func (l *listener) Addr() net.Addr {
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(l.key.addr, l.key.port))
}

var _ net.Listener = (*listener)(nil)
