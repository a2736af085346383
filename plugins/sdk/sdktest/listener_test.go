package sdktest

import (
	"net"
	"net/netip"
	"testing"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

func TestIdentityListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	overlay := netip.MustParseAddrPort("[4ab::1]:4000")
	for _, tc := range []struct {
		give     sdk.Peer
		wantAddr func(c net.Conn) netip.AddrPort
	}{
		{sdk.Peer{Key: Key(1), Origin: sdk.OriginOverlay, Service: "s", Addr: overlay}, func(net.Conn) netip.AddrPort { return overlay }},
		{sdk.Peer{Origin: sdk.OriginLoopback, Service: "s"}, func(c net.Conn) netip.AddrPort { return c.LocalAddr().(*net.TCPAddr).AddrPort() }},
	} {
		il := IdentityListener(ln, tc.give)
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		a, err := il.Accept()
		if err != nil {
			t.Fatal(err)
		}
		p, ok := sdk.PeerOf(a)
		if !ok || p.Key != tc.give.Key || p.Origin != tc.give.Origin || p.Service != "s" {
			t.Errorf("peer %+v, want %+v", p, tc.give)
		}
		if want := tc.wantAddr(c); p.Addr != want {
			t.Errorf("Addr %v, want %v", p.Addr, want)
		}
		if p.Local != ln.Addr().(*net.TCPAddr).AddrPort() {
			t.Errorf("Local %v, want the listener's address", p.Local)
		}
		a.Close()
		c.Close()
	}
}
