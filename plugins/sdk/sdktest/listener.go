package sdktest

import (
	"net"
	"net/netip"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// IdentityListener wraps ln so that every accepted connection is an
// *sdk.Conn carrying p, as if the gateway had handed it over: a plugin's
// Serve can then run on plain TCP listeners in a test. p.Addr and p.Local
// are taken from each connection when they are zero in p.
func IdentityListener(ln net.Listener, p sdk.Peer) net.Listener {
	return &identityListener{Listener: ln, peer: p}
}

type identityListener struct {
	net.Listener
	peer sdk.Peer
}

func (l *identityListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	p := l.peer
	if !p.Addr.IsValid() {
		p.Addr = addrPort(c.RemoteAddr())
	}
	if !p.Local.IsValid() {
		p.Local = addrPort(c.LocalAddr())
	}
	return sdk.NewConn(c, p), nil
}

// addrPort is a's address and port, or the zero value for a non-TCP
// address.
func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	return netip.AddrPort{}
}
