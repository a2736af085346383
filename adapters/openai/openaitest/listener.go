package openaitest

import (
	"net"
	"net/netip"
	"testing"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// identityListener wraps every accepted connection in an *sdk.Conn.
type identityListener struct {
	net.Listener
	peer func(c net.Conn) sdk.Peer
}

func (l *identityListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return sdk.NewConn(c, l.peer(c)), nil
}

// LoopbackListener listens on 127.0.0.1 on an ephemeral port and stamps
// every connection as OriginLoopback for service, the way the gateway's
// loopback listener does. It is closed at the end of the test.
func LoopbackListener(t testing.TB, service string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return &identityListener{Listener: ln, peer: func(c net.Conn) sdk.Peer {
		return sdk.Peer{
			Addr:    addrPort(c.RemoteAddr()),
			Local:   addrPort(c.LocalAddr()),
			Origin:  sdk.OriginLoopback,
			Service: service,
		}
	}}
}

// OverlayListener listens on 127.0.0.1 and stamps every connection as
// coming from the overlay with the identity p (Origin is forced to
// OriginOverlay). It stands in for the gateway handing over connections
// whose key it already checked.
func OverlayListener(t testing.TB, p sdk.Peer) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	p.Origin = sdk.OriginOverlay
	return &identityListener{Listener: ln, peer: func(net.Conn) sdk.Peer { return p }}
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	return netip.AddrPort{}
}
