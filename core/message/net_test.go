package message

import (
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mycelium-go/mycelium/core/identity"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memNet joins buses with asynchronous, bounded, optionally lossy links.
type memNet struct {
	mu    sync.Mutex
	nodes map[netip.Prefix]*memNode
	loss  float64 // probability that a frame is dropped
	rnd   *rand.Rand
	delay time.Duration
}

type memNode struct {
	net  *memNet
	kp   *identity.KeyPair
	bus  *Bus
	q    chan memPkt
	done chan struct{}
	wg   sync.WaitGroup
}

type memPkt struct {
	src, dst netip.Addr
	frame    []byte
	at       time.Time
}

var errQueueFull = errors.New("memnet: queue full")

func newMemNet() *memNet {
	return &memNet{nodes: make(map[netip.Prefix]*memNode), rnd: rand.New(rand.NewPCG(1, 2))}
}

func (n *memNet) lookup(a netip.Addr) *memNode {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.nodes[identity.SubnetOfAddr(a)]
}

// PublicKeyOf implements KeyLookup for every node of the network.
func (n *memNet) PublicKeyOf(a netip.Addr) (identity.PublicKey, bool) {
	if node := n.lookup(a); node != nil {
		return node.kp.Public(), true
	}
	return identity.PublicKey{}, false
}

type memTransport struct {
	n   *memNet
	src netip.Addr
}

func (t memTransport) SendMessage(dst netip.Addr, frame []byte) error {
	node := t.n.lookup(dst)
	if node == nil {
		return errors.New("memnet: no route")
	}
	t.n.mu.Lock()
	lost := t.n.loss > 0 && t.n.rnd.Float64() < t.n.loss
	t.n.mu.Unlock()
	if lost {
		return nil
	}
	p := memPkt{src: t.src, dst: dst, frame: append([]byte(nil), frame...), at: time.Now().Add(t.n.delay)}
	select {
	case node.q <- p:
		return nil
	default:
		return errQueueFull
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// add starts a bus on the network; mod adjusts its config.
func (n *memNet) add(t testing.TB, mod func(*Config)) *memNode {
	t.Helper()
	kp, err := identity.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Default()
	cfg.Key = kp.Public()
	if mod != nil {
		mod(&cfg)
	}
	node := &memNode{net: n, kp: kp, q: make(chan memPkt, 4096), done: make(chan struct{})}
	node.bus, err = New(cfg, memTransport{n: n, src: kp.Address()}, n, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := node.bus.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	n.nodes[kp.Subnet()] = node
	n.mu.Unlock()
	node.wg.Add(1)
	go node.deliver()
	t.Cleanup(func() {
		close(node.done)
		node.wg.Wait()
		node.bus.Close()
	})
	return node
}

func (m *memNode) deliver() {
	defer m.wg.Done()
	for {
		select {
		case <-m.done:
			return
		case p := <-m.q:
			if d := time.Until(p.at); d > 0 {
				time.Sleep(d)
			}
			m.bus.Handle(p.src, p.dst, p.frame)
		}
	}
}

func (m *memNode) addr() netip.Addr { return m.kp.Address() }
