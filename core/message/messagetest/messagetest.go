// Package messagetest joins message buses in memory for tests of the
// packages above the bus (the API, the command line): each bus gets an
// asynchronous, bounded in-memory transport and a key lookup covering
// every bus of the network.
package messagetest

import (
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"testing"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/message"
)

// Network is a set of buses that reach each other.
type Network struct {
	mu    sync.Mutex
	nodes map[netip.Prefix]*Node
}

// New returns an empty network.
func New() *Network { return &Network{nodes: make(map[netip.Prefix]*Node)} }

// Node is one bus on the network.
type Node struct {
	Key *identity.KeyPair
	Bus *message.Bus
	q   chan packet
}

type packet struct {
	src, dst netip.Addr
	frame    []byte
}

// Addr is the node's overlay address.
func (n *Node) Addr() netip.Addr { return n.Key.Address() }

// PublicKeyOf implements message.KeyLookup for every node of the network.
func (n *Network) PublicKeyOf(a netip.Addr) (identity.PublicKey, bool) {
	if node := n.lookup(a); node != nil {
		return node.Key.Public(), true
	}
	return identity.PublicKey{}, false
}

func (n *Network) lookup(a netip.Addr) *Node {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.nodes[identity.SubnetOfAddr(a)]
}

type transport struct {
	n   *Network
	src netip.Addr
}

func (t transport) SendMessage(dst netip.Addr, frame []byte) error {
	node := t.n.lookup(dst)
	if node == nil {
		return errors.New("messagetest: no route to " + dst.String())
	}
	select {
	case node.q <- packet{src: t.src, dst: dst, frame: append([]byte(nil), frame...)}:
		return nil
	default:
		return errors.New("messagetest: queue full")
	}
}

// Add starts a bus with a new key on the network; mod, if not nil,
// adjusts its configuration. The bus is closed when the test ends.
func (n *Network) Add(t testing.TB, mod func(*message.Config)) *Node {
	t.Helper()
	kp, err := identity.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	cfg := message.Default()
	cfg.Key = kp.Public()
	if mod != nil {
		mod(&cfg)
	}
	node := &Node{Key: kp, q: make(chan packet, 4096)}
	node.Bus, err = message.New(cfg, transport{n: n, src: kp.Address()}, n, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Bus.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	n.nodes[kp.Subnet()] = node
	n.mu.Unlock()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case p := <-node.q:
				node.Bus.Handle(p.src, p.dst, p.frame)
			}
		}
	}()
	t.Cleanup(func() {
		close(done)
		wg.Wait()
		node.Bus.Close()
	})
	return node
}
