package openaitest

import (
	"net"
	"testing"

	"github.com/mycelium-go/mycelium/plugins/sdk"
	"github.com/mycelium-go/mycelium/plugins/sdk/sdktest"
)

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
	return sdktest.IdentityListener(ln, sdk.Peer{Origin: sdk.OriginLoopback, Service: service})
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
	return sdktest.IdentityListener(ln, p)
}
