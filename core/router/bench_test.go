package router

import (
	"context"
	"crypto/rand"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/wire"
)

// bigTable builds a router holding n routes learned through the real
// update path from one neighbour. Remote keys are random bytes (their
// addresses satisfy the binding check) and one shared secret stands in
// for n X25519 computations. The router goroutine is not started: the
// caller owns the state.
func bigTable(tb testing.TB, n int) (*Router, *fakeLink, []netip.Addr) {
	tb.Helper()
	kp, err := identity.GenerateKeyPair()
	if err != nil {
		tb.Fatal(err)
	}
	r, err := New(Default(), kp, nil, discardLogger())
	if err != nil {
		tb.Fatal(err)
	}
	secret, err := kp.SharedKey(kp.Public())
	if err != nil {
		tb.Fatal(err)
	}
	r.secretFor = func(identity.PublicKey) ([identity.KeySize]byte, error) { return secret, nil }
	l := newFakeLink("a")
	l.touch(time.Now())
	nb := newNeighbour(l, 1000, time.Now(), r.epoch)
	r.registry.byLink[l] = nb
	r.addPeer(nb)
	l.take()
	addrs := make([]netip.Addr, 0, n)
	now := time.Now()
	for range n {
		var pub identity.PublicKey
		rand.Read(pub[:])
		u := wire.Update{Interval: wire.UpdateInterval, Metric: 100, Prefix: identity.SubnetOf(pub), RouterID: wire.NewRouterID(pub)}
		r.handleUpdate(nb, &u, now)
		r.flush()
		addrs = append(addrs, identity.AddressOf(pub))
	}
	if r.Size() != n {
		tb.Fatalf("table has %d prefixes, want %d", r.Size(), n)
	}
	return r, l, addrs
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkLookup100k measures the per-packet route lookup with 100,000
// routes, and reports the router's memory per route (routing table, source
// table, timers and forwarding table together).
func BenchmarkLookup100k(b *testing.B) {
	const n = 100_000
	before := heapInUse()
	r, _, addrs := bigTable(b, n)
	perRoute := float64(heapInUse()-before) / n
	miss := netip.MustParseAddr("5ff:1:2:3::1")
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0, cpuOK := threadCPU()
	i := 0
	for b.Loop() {
		if r.Lookup(addrs[i]) == nil {
			b.Fatal("route missing")
		}
		if i++; i == n {
			i = 0
		}
	}
	if cpu1, ok := threadCPU(); ok && cpuOK {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
	if r.Lookup(miss) != nil {
		b.Fatal("lookup of an unknown address hit")
	}
	b.ReportMetric(perRoute, "B/route")
	runtime.KeepAlive(r)
}

// BenchmarkLookup100kParallel runs the lookup from every core at once.
func BenchmarkLookup100kParallel(b *testing.B) {
	const n = 100_000
	r, _, addrs := bigTable(b, n)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if r.Lookup(addrs[i%n]) == nil {
				b.Fatal("route missing")
			}
			i += 7
		}
	})
}

// BenchmarkControl measures TLV handling: the Hello→IHU reply and IHU on
// the link's goroutine, and an Update refreshing an existing route on the
// router goroutine.
func BenchmarkControl(b *testing.B) {
	r, fl, _ := bigTable(b, 1000)
	nb := r.registry.byLink[fl]
	// Swap in a link that only counts, so the fake's bookkeeping is not
	// measured.
	l := &countingLink{fakeLink: fl}
	r.registry.byLink[l] = nb
	nb.link = l
	b.Run("hello", func(b *testing.B) {
		t := wire.TLV{Type: wire.TLVHello, Hello: wire.Hello{Flags: wire.HelloFlagUnicast, Interval: 2000}}
		b.ReportAllocs()
		for b.Loop() {
			r.HandleTLV(l, &t)
		}
		if l.sent.Load() < int64(b.N) {
			b.Fatalf("%d IHUs for %d Hellos", l.sent.Load(), b.N)
		}
	})
	b.Run("ihu", func(b *testing.B) {
		t := wire.TLV{Type: wire.TLVIHU, IHU: wire.IHU{Interval: 6000}}
		b.ReportAllocs()
		for b.Loop() {
			nb.helloSent(time.Now())
			r.HandleTLV(l, &t)
		}
	})
	b.Run("update-refresh", func(b *testing.B) {
		var pub identity.PublicKey
		rand.Read(pub[:])
		u := wire.Update{Interval: wire.UpdateInterval, Metric: 100, Prefix: identity.SubnetOf(pub), RouterID: wire.NewRouterID(pub)}
		r.handleUpdate(nb, &u, time.Now())
		r.flush()
		b.ReportAllocs()
		for b.Loop() {
			r.handleUpdate(nb, &u, time.Now())
			r.flush()
		}
	})
}

// TestMemoryPerRoute keeps the memory per route honest (run with -v to see
// the number; the benchmark reports it too).
func TestMemoryPerRoute(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 20k-route table")
	}
	const n = 20_000
	before := heapInUse()
	r, _, _ := bigTable(t, n)
	per := float64(heapInUse()-before) / n
	runtime.KeepAlive(r)
	// The table above holds raw 32-byte secrets (one X25519 output stands
	// in for all); a route list in use also has its AES-256-GCM state,
	// built on first use.
	kp, _ := identity.GenerateKeyPair()
	const k = 1000
	secrets := make([]*identity.SharedSecret, 0, k)
	before = heapInUse()
	for range k {
		other, _ := identity.GenerateKeyPair()
		s, err := kp.SharedSecret(other.Public())
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, s)
	}
	perSecret := float64(heapInUse()-before) / k
	runtime.KeepAlive(secrets)
	t.Logf("memory per route: %.0f bytes (+ %.0f bytes of AES-GCM state once the route is used = %.0f)", per, perSecret, per+perSecret)
	if per+perSecret > 4096 {
		t.Errorf("memory per route %.0f bytes, want < 4096", per+perSecret)
	}
}

func TestLookupZeroAlloc(t *testing.T) {
	r, _, addrs := bigTable(t, 1000)
	if a := testing.AllocsPerRun(1000, func() { r.Lookup(addrs[7]) }); a != 0 {
		t.Errorf("Lookup allocates %v times", a)
	}
}

// TestLookupConcurrentWithChanges reads the forwarding table from several
// goroutines while the router adds, retracts and removes routes (run with
// -race).
func TestLookupConcurrentWithChanges(t *testing.T) {
	kp, _ := identity.GenerateKeyPair()
	cfg := Default()
	cfg.RetractedHold = 10 * time.Millisecond
	cfg.DeadInterval = time.Hour
	r, err := New(cfg, kp, nil, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l := newFakeLink("a")
	r.LinkUp(l)
	var xs []remote
	for range 20 {
		xs = append(xs, newRemote(t))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, x := range xs {
					if fw := r.Lookup(x.addr()); fw != nil && fw.Selected() && (!fw.Keyed() || fw.Key != x.kp.Public()) {
						t.Error("inconsistent forward snapshot")
						return
					}
				}
			}
		})
	}
	for round := range 30 {
		for _, x := range xs {
			m := wire.Metric(100)
			if round%3 == 2 {
				m = wire.MetricInfinite
			}
			r.HandleTLV(l, x.update(wire.SeqNo(round), m))
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
}

// countingLink counts control packets instead of decoding them.
type countingLink struct {
	*fakeLink
	sent atomic.Int64
}

func (l *countingLink) SendControl([]byte) error { l.sent.Add(1); return nil }

// BenchmarkReevaluate100k measures one re-evaluation after a cost change
// of a neighbour carrying 100,000 selected routes (none switches): the
// worst case, run at most once per CostInterval per neighbour. "cheaper"
// also checks every selected route for re-advertisement (a source table
// lookup each; none is sent).
func BenchmarkReevaluate100k(b *testing.B) {
	r, l, _ := bigTable(b, 100_000)
	nb := r.registry.byLink[l]
	for _, cheaper := range []bool{false, true} {
		name := "dearer"
		if cheaper {
			name = "cheaper"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if cheaper {
					nb.evalCost.Store(uint32(nb.Cost()) + 20)
				} else {
					nb.evalCost.Store(0)
				}
				r.reevaluate(nb, time.Now())
			}
			if r.reevaluations == 0 {
				b.Fatal("no re-evaluation ran")
			}
		})
	}
}
