package nodetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/node"
	"github.com/mycelium-go/mycelium/core/router"
)

// Options configure a Net. The zero value uses the real defaults.
type Options struct {
	// Router is every node's router configuration (zero: router.Default()).
	Router *router.Config
	// Node adjusts every node's configuration after the defaults.
	Node func(*node.Config)
	// LinkCost is the static cost of the in-memory links (zero: 10).
	LinkCost uint16
	// Logger receives the nodes' logs (nil: discarded, unless the
	// environment variable NODETEST_LOG names a file for debug logs).
	Logger *slog.Logger
	// Batch is the devices' batch size (zero: 16).
	Batch int
	// NoTun, when set, selects members that run without a device.
	NoTun func(i int) bool
	// Reconnect, when positive, re-links two members this long after a
	// router closed their link (as the link manager reconnects peers).
	Reconnect time.Duration
}

// Net is a network of N nodes in one process, linked by in-memory links,
// each with an in-memory device.
type Net struct {
	tb      testing.TB
	opts    Options
	Members []*Member
	mu      sync.Mutex
	links   map[[2]int]*Pair
	closed  bool
	done    chan struct{}
	bg      sync.WaitGroup
}

// Member is one node of a Net with its device.
type Member struct {
	Index int
	Key   *identity.KeyPair
	Node  *node.Node
	Dev   *Device

	mu      sync.Mutex
	waiters map[string]chan struct{}
	tap     func(pkt []byte)
	readers sync.WaitGroup
}

// New starts n nodes without links. Close runs at the end of the test.
func New(tb testing.TB, n int, opts Options) *Net {
	tb.Helper()
	if opts.LinkCost == 0 {
		opts.LinkCost = 10
	}
	if opts.Batch == 0 {
		opts.Batch = 16
	}
	if opts.Logger == nil {
		opts.Logger = envLogger(tb)
	}
	nt := &Net{tb: tb, opts: opts, links: make(map[[2]int]*Pair), done: make(chan struct{})}
	for i := range n {
		kp, err := identity.GenerateKeyPair()
		if err != nil {
			tb.Fatal(err)
		}
		m := &Member{Index: i, Key: kp}
		if err := nt.start(m); err != nil {
			tb.Fatal(err)
		}
		nt.Members = append(nt.Members, m)
	}
	tb.Cleanup(nt.Close)
	return nt
}

// start creates and starts m's node and device.
func (nt *Net) start(m *Member) error {
	cfg := node.Default()
	cfg.Key = m.Key
	if nt.opts.Router != nil {
		cfg.Router = *nt.opts.Router
	}
	if nt.opts.Node != nil {
		nt.opts.Node(&cfg)
	}
	var dev *Device
	var tdev tun.Device
	if nt.opts.NoTun == nil || !nt.opts.NoTun(m.Index) {
		dev = NewDevice(node.OverlayMTU, nt.opts.Batch)
		tdev = dev
	}
	nd, err := node.New(cfg, tdev, nt.opts.Logger.With("node", m.Index))
	if err != nil {
		return fmt.Errorf("nodetest: node %d: %w", m.Index, err)
	}
	if err := nd.Start(context.Background()); err != nil {
		return fmt.Errorf("nodetest: node %d: %w", m.Index, err)
	}
	m.mu.Lock()
	m.Node, m.Dev = nd, dev
	if m.waiters == nil {
		m.waiters = make(map[string]chan struct{})
	}
	m.mu.Unlock()
	if dev != nil {
		m.readers.Go(func() { m.read(dev) })
	}
	return nil
}

// read dispatches what the node writes to its device.
func (m *Member) read(dev *Device) {
	for {
		select {
		case <-dev.Done():
			return
		case pkt := <-dev.Out():
			m.mu.Lock()
			tap := m.tap
			var ch chan struct{}
			if p, ok := Parse(pkt); ok && p.UDPPayload != nil {
				if ch = m.waiters[string(p.UDPPayload)]; ch != nil {
					delete(m.waiters, string(p.UDPPayload))
				}
			}
			m.mu.Unlock()
			if tap != nil {
				tap(pkt)
			}
			if ch != nil {
				close(ch)
			}
		}
	}
}

// Tap sets a function that sees every packet the node writes to its
// device (nil removes it). It runs on the member's reader goroutine.
func (m *Member) Tap(fn func(pkt []byte)) {
	m.mu.Lock()
	m.tap = fn
	m.mu.Unlock()
}

// Expect returns a channel closed when a UDP packet with payload token
// reaches m's device.
func (m *Member) Expect(token string) <-chan struct{} {
	ch := make(chan struct{})
	m.mu.Lock()
	m.waiters[token] = ch
	m.mu.Unlock()
	return ch
}

// Address returns m's overlay address.
func (m *Member) Address() netip.Addr { return m.Key.Address() }

// SendUDP injects a UDP packet from m to dst into m's device.
func (m *Member) SendUDP(ctx context.Context, dst netip.Addr, payload []byte) error {
	return m.Inject(ctx, UDP(m.Address(), dst, 40000, 9, 64, payload))
}

// ErrNoDevice is returned when injecting into a member without a device.
var ErrNoDevice = errors.New("nodetest: member has no device")

// Inject sends pkt into m's device as the OS would.
func (m *Member) Inject(ctx context.Context, pkt []byte) error {
	m.mu.Lock()
	dev := m.Dev
	m.mu.Unlock()
	if dev == nil {
		return ErrNoDevice
	}
	return dev.Inject(ctx, pkt)
}

func pairKey(i, j int) [2]int {
	if i > j {
		i, j = j, i
	}
	return [2]int{i, j}
}

// Link connects members i and j and returns the link.
func (nt *Net) Link(i, j int) *Pair {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	k := pairKey(i, j)
	if p := nt.links[k]; p != nil && !p.Down() {
		nt.tb.Fatalf("nodetest: %d and %d already linked", i, j)
	}
	a, b := nt.Members[k[0]], nt.Members[k[1]]
	p := Pipe(fmt.Sprint("n", k[0]), a.Node, fmt.Sprint("n", k[1]), b.Node, nt.opts.LinkCost)
	if d := nt.opts.Reconnect; d > 0 {
		p.closed = func() { nt.relink(k, p, d) }
	}
	nt.links[k] = p
	return p
}

// relink links k again after d, unless the net closed or the link was
// replaced meanwhile.
func (nt *Net) relink(k [2]int, old *Pair, d time.Duration) {
	nt.bg.Go(func() {
		select {
		case <-nt.done:
			return
		case <-time.After(d):
		}
		nt.mu.Lock()
		current := nt.links[k] == old && !nt.closed
		nt.mu.Unlock()
		if current {
			nt.Link(k[0], k[1])
		}
	})
}

// Pair returns the link between i and j, or nil.
func (nt *Net) Pair(i, j int) *Pair {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	return nt.links[pairKey(i, j)]
}

// Line links members 0-1-2-...-(n-1).
func (nt *Net) Line() {
	for i := 1; i < len(nt.Members); i++ {
		nt.Link(i-1, i)
	}
}

// Ring links the members in a circle.
func (nt *Net) Ring() {
	nt.Line()
	nt.Link(len(nt.Members)-1, 0)
}

// RandomMesh links the members into a random connected graph: a random
// spanning tree plus extra random links.
func (nt *Net) RandomMesh(rng *rand.Rand, extra int) {
	n := len(nt.Members)
	order := rng.Perm(n)
	for i := 1; i < n; i++ {
		nt.Link(order[i], order[rng.IntN(i)])
	}
	for added := 0; added < extra; {
		i, j := rng.IntN(n), rng.IntN(n)
		if i == j || nt.Pair(i, j) != nil {
			continue
		}
		nt.Link(i, j)
		added++
	}
}

// Neighbours returns the members linked to i by live links.
func (nt *Net) Neighbours(i int) []int {
	nt.mu.Lock()
	defer nt.mu.Unlock()
	var out []int
	for k, p := range nt.links {
		if p.Down() {
			continue
		}
		switch i {
		case k[0]:
			out = append(out, k[1])
		case k[1]:
			out = append(out, k[0])
		}
	}
	return out
}

// Restart stops member i (its links are cut) and starts it again with the
// same key, hence a new router id and seqno 0, linked to the same
// neighbours.
func (nt *Net) Restart(i int) error {
	m := nt.Members[i]
	peers := nt.Neighbours(i)
	for _, j := range peers {
		p := nt.Pair(i, j)
		p.Cut()
		p.Wait()
	}
	m.Node.Close()
	m.readers.Wait()
	if err := nt.start(m); err != nil {
		return err
	}
	for _, j := range peers {
		nt.Link(i, j)
	}
	return nil
}

// WaitLinks waits until every node's router has all its live links as
// neighbours.
func (nt *Net) WaitLinks(ctx context.Context) error {
	for i, m := range nt.Members {
		for {
			nbs, err := m.Node.Router().Neighbours(ctx)
			if err != nil {
				return fmt.Errorf("nodetest: node %d neighbours: %w", i, err)
			}
			want := len(nt.Neighbours(i)) // links may come back meanwhile
			if len(nbs) == want {
				break
			}
			if err := sleep(ctx); err != nil {
				return fmt.Errorf("nodetest: node %d has %d of %d neighbours: %w", i, len(nbs), want, err)
			}
		}
	}
	return nil
}

// ErrNotDelivered is returned when a packet did not arrive in time.
var ErrNotDelivered = errors.New("nodetest: packet not delivered")

// Exchange sends a UDP packet from member i to member j and waits until it
// reaches j's device. The first packet to a destination waits for the
// route request; Exchange resends every 500 ms in case it was dropped.
func (nt *Net) Exchange(ctx context.Context, i, j int, token string) error {
	from, to := nt.Members[i], nt.Members[j]
	got := to.Expect(token)
	for {
		if err := from.SendUDP(ctx, to.Address(), []byte(token)); err != nil {
			return err
		}
		select {
		case <-got:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("%w: %d -> %d: %w", ErrNotDelivered, i, j, ctx.Err())
		case <-time.After(resend):
		}
	}
}

// Close cuts every link and stops every node, waiting for all their
// goroutines. It is idempotent.
func (nt *Net) Close() {
	nt.mu.Lock()
	if nt.closed {
		nt.mu.Unlock()
		return
	}
	nt.closed = true
	close(nt.done)
	nt.mu.Unlock()
	nt.bg.Wait()
	nt.mu.Lock()
	links := make([]*Pair, 0, len(nt.links))
	for _, p := range nt.links {
		links = append(links, p)
	}
	nt.mu.Unlock()
	for _, p := range links {
		p.Cut()
	}
	for _, p := range links {
		p.Wait()
	}
	for _, m := range nt.Members {
		m.Node.Close()
		m.readers.Wait()
	}
}

// envLogger logs at debug level to the file NODETEST_LOG names, or
// nowhere.
func envLogger(tb testing.TB) *slog.Logger {
	path := os.Getenv("NODETEST_LOG")
	if path == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		tb.Fatalf("nodetest: NODETEST_LOG: %v", err)
	}
	tb.Cleanup(func() { f.Close() })
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
