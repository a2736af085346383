package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/netstack"
	"github.com/mycelium-go/mycelium/core/nodetest"
	"github.com/mycelium-go/mycelium/gateway/acl"
)

// meshNode is a core/node of a nodetest network with a userspace stack as
// its device: the full data path (gVisor, node encryption, routing, the
// inner-source check) as a node without TUN runs it.
type meshNode struct {
	m  *nodetest.Member
	st *netstack.Stack
}

func (n meshNode) key() identity.PublicKey { return n.m.Key.Public() }
func (n meshNode) overlay() Overlay        { return NetstackOverlay{Stack: n.st} }
func (n meshNode) identity() Identity      { return NodeIdentity{Node: n.m.Node} }

// newMesh starts count nodes in a line (0-1-2-...), each bridged to a
// userspace stack, and waits until node 0 and every other node know each
// other's keys.
func newMesh(t *testing.T, count int) []meshNode {
	t.Helper()
	nt := nodetest.New(t, count, nodetest.Options{})
	nt.Line()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := nt.WaitLinks(ctx); err != nil {
		t.Fatal(err)
	}
	nodes := make([]meshNode, count)
	for i, m := range nt.Members {
		nodes[i] = meshNode{m: m, st: bridge(t, m)}
	}
	for _, n := range nodes[1:] {
		waitKnown(ctx, t, nodes[0], n)
		waitKnown(ctx, t, n, nodes[0])
	}
	return nodes
}

// bridge gives m a userspace stack: what the stack sends goes into the
// node as if from its TUN, what the node delivers goes into the stack.
func bridge(t *testing.T, m *nodetest.Member) *netstack.Stack {
	st, err := netstack.New(netstack.Config{Addr: m.Address()})
	if err != nil {
		t.Fatal(err)
	}
	m.Tap(func(pkt []byte) {
		buf := make([]byte, pumpOffset+len(pkt))
		copy(buf[pumpOffset:], pkt)
		_, _ = st.Write([][]byte{buf}, pumpOffset)
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		bufs := [][]byte{make([]byte, 65535+pumpOffset)}
		sizes := []int{0}
		for {
			if _, err := st.Read(bufs, sizes, pumpOffset); err != nil {
				return
			}
			if err := m.Inject(context.Background(), bufs[0][pumpOffset:pumpOffset+sizes[0]]); err != nil && !errors.Is(err, os.ErrClosed) {
				return
			}
		}
	}()
	t.Cleanup(func() {
		m.Tap(nil)
		_ = st.Close()
		<-done
	})
	return st
}

// waitKnown asks a's router for b's subnet until a knows b's key.
func waitKnown(ctx context.Context, t *testing.T, a, b meshNode) {
	t.Helper()
	for {
		if k, ok := a.m.Node.PublicKeyOf(b.m.Address()); ok && k == b.key() {
			return
		}
		a.m.Node.Router().Want(b.m.Address())
		select {
		case <-ctx.Done():
			t.Fatalf("node %d never learned node %d's key", a.m.Index, b.m.Index)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestOverMeshNodes runs the gateway on real nodes (core/node over
// in-memory links, userspace stacks as devices, three nodes in a line so
// the stranger is two hops away): the allowed peer reaches whoami, which
// sees its key; the stranger is reset at SYN time and the plugin never
// sees it; a forward on the friend's node reaches the server's whoami with
// the friend's key; a plugin dials another node through the dial-out.
func TestOverMeshNodes(t *testing.T) {
	mesh := newMesh(t, 3)
	server, friend, stranger := mesh[0], mesh[1], mesh[2]
	cfg := Config{
		Plugins: []PluginConfig{whoamiPlugin(), testPluginConfig(services("ident", 9))},
		Policy: map[string]acl.Rule{
			"whoami": {Allow: []string{friend.key().String()}},
			"ident":  {Allow: []string{friend.key().String()}},
		},
	}
	srv := startNode(t, server.key(), server.overlay(), server.identity(), cfg)
	addr := server.m.Address()

	got, err := exchange(t, friend.overlay(), netip.AddrPortFrom(addr, 7).String(), "")
	if want := fmt.Sprintf("key=%s addr=[%s]:", friend.key(), friend.m.Address()); err != nil || !strings.HasPrefix(got, want) {
		t.Fatalf("friend got %q, %v; want %q...", got, err, want)
	}
	if _, err := exchange(t, stranger.overlay(), netip.AddrPortFrom(addr, 7).String(), ""); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("stranger: %v, want connection refused at SYN time", err)
	}
	ident := netip.AddrPortFrom(addr, 9).String()
	if got, _ := exchange(t, friend.overlay(), ident, ""); !strings.HasSuffix(got, " n=1\n") {
		t.Errorf("ident: %q, want n=1", got)
	}
	_, _ = exchange(t, stranger.overlay(), ident, "")
	if got, _ := exchange(t, friend.overlay(), ident, ""); !strings.HasSuffix(got, " n=2\n") {
		t.Errorf("ident after the stranger: %q, want n=2", got)
	}

	fwd := freePort(t)
	startNode(t, friend.key(), friend.overlay(), friend.identity(), Config{Forwards: []ForwardConfig{
		{Local: fmt.Sprintf("127.0.0.1:%d", fwd), Remote: server.key().String() + ":7"},
	}})
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", fwd))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(c, ""); err != nil || !strings.HasPrefix(got, "key="+friend.key().String()) {
		t.Errorf("through the forward: %q, %v", got, err)
	}

	metric, err := server.identity().RouteMetric(context.Background(), friend.m.Address())
	if err != nil || metric == 0 {
		t.Errorf("route metric to the friend: %d, %v", metric, err)
	}
	if _, err := server.identity().RouteMetric(context.Background(), netip.MustParseAddr("5ff::1")); err == nil {
		t.Error("route metric for an unknown node")
	}
	ps, _ := srv.g.PluginStatus("testplugin")
	if i := slices.IndexFunc(ps.Services, func(s ServiceStatus) bool { return s.Name == "ident" }); i < 0 || ps.Services[i].Refused == 0 {
		t.Errorf("ident status %+v, want refusals counted", ps.Services)
	}
}
