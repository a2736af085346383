package router

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/link"
	"github.com/mycelium-go/mycelium/core/wire"
)

// fakeLink records the control packets the router sends on it.
type fakeLink struct {
	name     string
	mu       sync.Mutex
	sent     []wire.TLV
	data     int
	lastRecv atomic.Pointer[time.Time]
	closed   atomic.Bool
	hellos   chan struct{} // a token per Hello sent (dropped when full)
}

func newFakeLink(name string) *fakeLink {
	return &fakeLink{name: name, hellos: make(chan struct{}, 64)}
}

func (l *fakeLink) SendControl(pkt []byte) error {
	r, err := wire.NewControlReader(pkt[wire.OuterHeaderSize:])
	if err != nil {
		panic("router sent an undecodable control packet: " + err.Error())
	}
	var t wire.TLV
	n := 0
	for r.Next(&t) {
		l.mu.Lock()
		l.sent = append(l.sent, t)
		l.mu.Unlock()
		n++
		if t.Type == wire.TLVHello {
			select {
			case l.hellos <- struct{}{}:
			default:
			}
		}
	}
	if r.Err() != nil || n != 1 {
		panic("router sent a control packet without exactly one valid TLV")
	}
	return nil
}
func (l *fakeLink) SendData(pkt []byte) error {
	l.mu.Lock()
	l.data++
	l.mu.Unlock()
	return nil
}
func (l *fakeLink) StaticCost() uint16 { return 10 }
func (l *fakeLink) LastReceive() time.Time {
	if p := l.lastRecv.Load(); p != nil {
		return *p
	}
	return time.Time{}
}
func (l *fakeLink) touch(t time.Time) { l.lastRecv.Store(&t) }
func (l *fakeLink) Info() link.Info {
	return link.Info{Endpoint: "fake://" + l.name, Transport: "fake"}
}
func (l *fakeLink) Close() error   { l.closed.Store(true); return nil }
func (l *fakeLink) String() string { return "FAKE " + l.name }

// take returns and forgets what was sent.
func (l *fakeLink) take() []wire.TLV {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.sent
	l.sent = nil
	return out
}

// takeType returns and forgets what was sent of type typ.
func (l *fakeLink) takeType(typ uint8) []wire.TLV {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out, rest []wire.TLV
	for _, t := range l.sent {
		if t.Type == typ {
			out = append(out, t)
		} else {
			rest = append(rest, t)
		}
	}
	l.sent = rest
	return out
}

// ofType filters TLVs by type.
func ofType(ts []wire.TLV, typ uint8) []wire.TLV {
	var out []wire.TLV
	for _, t := range ts {
		if t.Type == typ {
			out = append(out, t)
		}
	}
	return out
}

var _ link.Link = (*fakeLink)(nil)

// remote is a node somewhere in the network, identified by its key.
type remote struct {
	kp     *identity.KeyPair
	rid    wire.RouterID
	subnet netip.Prefix
}

func newRemote(t testing.TB) remote {
	t.Helper()
	kp, err := identity.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return remote{kp: kp, rid: wire.NewRouterID(kp.Public()), subnet: kp.Subnet()}
}

func (x remote) update(seqno wire.SeqNo, metric wire.Metric) *wire.TLV {
	return &wire.TLV{Type: wire.TLVUpdate, Update: wire.Update{
		Interval: wire.UpdateInterval, Seqno: seqno, Metric: metric, Prefix: x.subnet, RouterID: x.rid,
	}}
}

func (x remote) addr() netip.Addr { return x.kp.Address() }

// recorder is an Observer that remembers events.
type recorder struct {
	mu  sync.Mutex
	evs []string
}

func (o *recorder) RouteEvent(p netip.Prefix, ev Event) {
	o.mu.Lock()
	o.evs = append(o.evs, p.String()+" "+ev.String())
	o.mu.Unlock()
}

func (o *recorder) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.evs
	o.evs = nil
	return out
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// harness is a router under test with its fake neighbours.
type harness struct {
	t   *testing.T
	r   *Router
	obs *recorder
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	cfg := Default()
	if mod != nil {
		mod(&cfg)
	}
	kp, err := identity.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	obs := &recorder{}
	r, err := New(cfg, kp, obs, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return &harness{t: t, r: r, obs: obs}
}

// neighbour brings up a link and swallows the link-up chatter.
func (h *harness) neighbour(name string) *fakeLink {
	l := newFakeLink(name)
	l.touch(time.Now())
	h.r.LinkUp(l)
	h.sync()
	l.take()
	return l
}

// sync waits until the router goroutine processed everything queued.
func (h *harness) sync() {
	h.t.Helper()
	if err := h.r.do(context.Background(), func() {}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) send(l *fakeLink, t *wire.TLV) {
	h.r.HandleTLV(l, t)
	h.sync()
}

func (h *harness) selected(p netip.Prefix) (RouteInfo, bool) {
	h.t.Helper()
	rs, err := h.r.SelectedRoutes(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	for _, r := range rs {
		if r.Subnet == p {
			return r, true
		}
	}
	return RouteInfo{}, false
}

func (h *harness) fallbacks(p netip.Prefix) []RouteInfo {
	h.t.Helper()
	rs, err := h.r.FallbackRoutes(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	var out []RouteInfo
	for _, r := range rs {
		if r.Subnet == p {
			out = append(out, r)
		}
	}
	return out
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
