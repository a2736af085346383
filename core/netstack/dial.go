package netstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

var (
	errAddrNotAvailable = errors.New("address not available on this node")
	errAddrInUse        = syscall.EADDRINUSE
	errNotIPv6          = errors.New("the overlay carries IPv6 only")
)

// Dial connects to address ("[overlay address]:port") from the node address.
// network is "tcp", "tcp6", "udp" or "udp6". A TCP dial honours ctx until
// the connection is established; its errors wrap syscall errnos
// (ECONNREFUSED for a RST, EHOSTUNREACH and ENETUNREACH for ICMP errors and
// missing routes, ETIMEDOUT) so callers can tell them apart with errors.Is.
func (s *Stack) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	ap, err := parseRemote(address)
	switch network {
	case "tcp", "tcp6":
		if err != nil {
			return nil, opError("dial", network, nil, err)
		}
		c, err := s.dialTCP(ctx, ap)
		if err != nil {
			return nil, opError("dial", network, net.TCPAddrFromAddrPort(ap), err)
		}
		return c, nil
	case "udp", "udp6":
		if err != nil {
			return nil, opError("dial", network, nil, err)
		}
		c, err := s.dialUDP(nil, &ap)
		if err != nil {
			return nil, opError("dial", network, net.UDPAddrFromAddrPort(ap), err)
		}
		return c, nil
	default:
		return nil, opError("dial", network, nil, net.UnknownNetworkError(network))
	}
}

// ListenPacket opens a UDP socket on address ("[addr]:port" with addr the
// node address or "::", port 0 for a free port). network is "udp" or "udp6".
func (s *Stack) ListenPacket(network, address string) (net.PacketConn, error) {
	if network != "udp" && network != "udp6" {
		return nil, opError("listen", network, nil, net.UnknownNetworkError(network))
	}
	ap, err := s.parseLocal(address)
	if err != nil {
		return nil, opError("listen", network, nil, err)
	}
	c, err := s.dialUDP(&ap, nil)
	if err != nil {
		return nil, opError("listen", network, net.UDPAddrFromAddrPort(ap), err)
	}
	return c, nil
}

// parseRemote parses "[addr]:port" where addr is an IPv6 address.
func parseRemote(address string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("parse address %q: %w", address, err)
	}
	if a := ap.Addr(); a.Is4() || a.Is4In6() || a.Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("address %q: %w", address, errNotIPv6)
	}
	return ap, nil
}

// dialTCP opens a TCP connection to ap, waiting for the handshake or ctx.
func (s *Stack) dialTCP(ctx context.Context, ap netip.AddrPort) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var wq waiter.Queue
	ep, terr := s.st.NewEndpoint(tcp.ProtocolNumber, ipv6.ProtocolNumber, &wq)
	if terr != nil {
		return nil, mapError(terr)
	}
	entry, notify := waiter.NewChannelEntry(waiter.WritableEvents)
	wq.EventRegister(&entry)
	defer wq.EventUnregister(&entry)

	terr = ep.Connect(fullAddress(ap))
	if _, started := terr.(*tcpip.ErrConnectStarted); started {
		select {
		case <-ctx.Done():
			ep.Close()
			return nil, ctx.Err()
		case <-notify:
		}
		terr = ep.LastError()
	}
	if terr != nil {
		ep.Close()
		return nil, mapError(terr)
	}
	return gonet.NewTCPConn(&wq, ep), nil
}

// dialUDP opens a UDP endpoint bound to local (nil: chosen by the stack)
// and connected to remote (nil: unconnected).
func (s *Stack) dialUDP(local, remote *netip.AddrPort) (*udpConn, error) {
	var wq waiter.Queue
	ep, terr := s.st.NewEndpoint(udp.ProtocolNumber, ipv6.ProtocolNumber, &wq)
	if terr != nil {
		return nil, mapError(terr)
	}
	if local != nil {
		if terr := ep.Bind(fullAddress(*local)); terr != nil {
			ep.Close()
			return nil, mapError(terr)
		}
	}
	if remote != nil {
		if terr := ep.Connect(fullAddress(*remote)); terr != nil {
			ep.Close()
			return nil, mapError(terr)
		}
	}
	return &udpConn{UDPConn: gonet.NewUDPConn(&wq, ep)}, nil
}

// udpConn is gonet's UDP socket with WriteTo made safe for any net.Addr.
type udpConn struct {
	*gonet.UDPConn
}

// WriteTo implements net.PacketConn; addr must be an IPv6 *net.UDPAddr.
func (c *udpConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok || ua.IP.To4() != nil || len(ua.IP) != net.IPv6len {
		return 0, opError("write", "udp", addr, fmt.Errorf("destination %v: %w", addr, errNotIPv6))
	}
	return c.UDPConn.WriteTo(b, ua)
}

// fullAddress converts an address and port for gVisor; the unspecified
// address means "any local address".
func fullAddress(ap netip.AddrPort) tcpip.FullAddress {
	fa := tcpip.FullAddress{Port: ap.Port()}
	if !ap.Addr().IsUnspecified() {
		fa.Addr = tcpip.AddrFrom16(ap.Addr().As16())
	}
	return fa
}

// addrFrom converts a gVisor address to netip.
func addrFrom(a tcpip.Address) netip.Addr {
	if a.Len() == 16 {
		return netip.AddrFrom16(a.As16())
	}
	return netip.Addr{}
}

// mapError turns a gVisor error into a syscall errno where one fits, so that
// errors.Is works as with kernel sockets; others keep gVisor's text.
func mapError(err tcpip.Error) error {
	switch err.(type) {
	case *tcpip.ErrConnectionRefused:
		return syscall.ECONNREFUSED
	case *tcpip.ErrHostUnreachable, *tcpip.ErrHostDown:
		return syscall.EHOSTUNREACH
	case *tcpip.ErrNetworkUnreachable, *tcpip.ErrNoNet:
		return syscall.ENETUNREACH
	case *tcpip.ErrTimeout:
		return syscall.ETIMEDOUT
	case *tcpip.ErrConnectionReset, *tcpip.ErrConnectionAborted, *tcpip.ErrAborted:
		return syscall.ECONNRESET
	case *tcpip.ErrPortInUse, *tcpip.ErrDuplicateAddress:
		return syscall.EADDRINUSE
	case *tcpip.ErrBadLocalAddress:
		return errAddrNotAvailable
	}
	return errors.New(err.String())
}

// opError wraps err like the net package does.
func opError(op, network string, addr net.Addr, err error) error {
	return &net.OpError{Op: op, Net: network, Addr: addr, Err: err}
}
