package gateway

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"go.uber.org/goleak"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/gateway/acl"
)

// TestCloseWaitsForEverything: after Close, no goroutine of the gateway
// (supervisors, listeners, hand-offs, spliced connections, forwards,
// dial-out) is left, even with connections open.
func TestCloseWaitsForEverything(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := newFabric()
	fwd := freePort(t)
	cfg := Config{
		Plugins:  []PluginConfig{testPluginConfig(services("echo", 9)), whoamiPlugin()},
		Policy:   map[string]acl.Rule{"echo": {Allow: []string{friendKey.String()}}},
		Forwards: []ForwardConfig{{Local: fmt.Sprintf("127.0.0.1:%d", fwd), Remote: serverKey.String() + ":9"}},
	}
	n := startNode(t, serverKey, f.node(serverKey), newIdentity(serverKey, friendKey), cfg)
	spliced, err := f.node(friendKey).Dial(context.Background(), "tcp", netip.AddrPortFrom(identity.AddressOf(serverKey), 9).String())
	if err != nil {
		t.Fatal(err)
	}
	defer spliced.Close()
	local, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", fwd))
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	for _, c := range []net.Conn{spliced, local} {
		if _, err := c.Write([]byte("x\n")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(make([]byte, 2)); err != nil && c == spliced {
			t.Fatal(err)
		}
	}
	if err := n.g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.g.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
