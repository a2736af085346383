package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// KernelOverlay is the Overlay of a node with a kernel TUN device: the
// overlay address is an address of the host, so listening and dialing are
// plain kernel sockets bound to it. Accepted connections are
// *net.TCPConns, which the gateway hands to plugins by passing their
// descriptors.
type KernelOverlay struct {
	// Addr is the node's overlay address.
	Addr netip.Addr
}

// Listen listens on [Addr]:port. Every accepted connection is checked with
// admit before Accept returns it; a refused one is reset (SO_LINGER 0) and
// closed without reading a byte.
func (k *KernelOverlay) Listen(ctx context.Context, port uint16, admit func(netip.AddrPort) bool) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp6", netip.AddrPortFrom(k.Addr, port).String())
	if err != nil {
		return nil, fmt.Errorf("gateway: listen on overlay port %d: %w", port, err)
	}
	return &admitListener{TCPListener: ln.(*net.TCPListener), admit: admit}, nil
}

// Dial connects to address from Addr.
func (k *KernelOverlay) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp6":
	default:
		return nil, fmt.Errorf("gateway: dial %s %s: only tcp", network, address)
	}
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(k.Addr, 0))}
	return d.DialContext(ctx, "tcp6", address)
}

// admitListener filters a kernel listener by remote address.
type admitListener struct {
	*net.TCPListener
	admit func(netip.AddrPort) bool
}

// Accept returns the next admitted connection, a *net.TCPConn.
func (l *admitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.AcceptTCP()
		if err != nil {
			return nil, err
		}
		remote, ok := tcpAddrPort(c.RemoteAddr())
		if ok && (l.admit == nil || l.admit(remote)) {
			return c, nil
		}
		_ = c.SetLinger(0)
		_ = c.Close()
	}
}

// tcpAddrPort returns a TCP address as an unmapped AddrPort.
func tcpAddrPort(a net.Addr) (netip.AddrPort, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		if a == nil {
			return netip.AddrPort{}, false
		}
		ap, err := netip.ParseAddrPort(a.String())
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), err == nil
	}
	ap := ta.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ap.IsValid()
}

var errNoInstance = errors.New("plugin not running")

var _ Overlay = (*KernelOverlay)(nil)
