package router

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mycelium-go/mycelium/core/wire"
)

// peerRTT plays a live neighbour at a distance on l: every Hello the
// router sends is answered with an IHU after the current RTT, until stop
// is closed. RTTs must stay below the Hello interval.
type peerRTT struct{ rtt atomic.Int64 }

func (p *peerRTT) set(d time.Duration) { p.rtt.Store(int64(d)) }

func (p *peerRTT) answer(h *harness, l *fakeLink, stop <-chan struct{}) {
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-l.hellos:
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(p.rtt.Load())):
			}
			h.r.HandleTLV(l, &wire.TLV{Type: wire.TLVIHU, IHU: wire.IHU{Interval: wire.IHUInterval}})
		}
	}()
}

// liveNeighbour brings up a link whose peer answers Hellos after rtt.
func (h *harness) liveNeighbour(name string, rtt time.Duration, stop <-chan struct{}) (*fakeLink, *peerRTT) {
	l := h.neighbour(name)
	p := &peerRTT{}
	p.set(rtt)
	p.answer(h, l, stop)
	return l, p
}

func (h *harness) reevaluations() uint64 {
	h.t.Helper()
	var n uint64
	if err := h.r.do(context.Background(), func() { n = h.r.reevaluations }); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// updatesFor returns the Updates for x among ts.
func updatesFor(ts []wire.TLV, x remote) []wire.Update {
	var out []wire.Update
	for _, t := range ofType(ts, wire.TLVUpdate) {
		if t.Update.Prefix == x.subnet {
			out = append(out, t.Update)
		}
	}
	return out
}

func TestFirstRTTSampleReplacesInitialCost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		l := h.neighbour("a")
		nb := h.r.Neighbour(l)
		if got, want := nb.Cost(), wire.Metric(h.r.cfg.InitialLinkCost)+10; got != want {
			t.Fatalf("cost before any IHU = %d, want %d", got, want)
		}
		// The Hello sent at link up, answered after 30 ms.
		time.Sleep(30 * time.Millisecond)
		h.send(l, &wire.TLV{Type: wire.TLVIHU, IHU: wire.IHU{Interval: wire.IHUInterval}})
		if got := nb.Cost(); got != 30+10 {
			t.Errorf("cost after the first sample = %d, want 40", got)
		}
		// Later samples are smoothed as the reference does.
		time.Sleep(h.r.cfg.HelloInterval - 30*time.Millisecond) // periodic Hello
		synctest.Wait()
		time.Sleep(80 * time.Millisecond)
		h.send(l, &wire.TLV{Type: wire.TLVIHU, IHU: wire.IHU{Interval: wire.IHUInterval}})
		if got, want := nb.Cost(), wire.Metric((30*9+80)/10+10); got != want {
			t.Errorf("cost after the second sample = %d, want %d", got, want)
		}
		// An IHU without an unanswered Hello is no sample.
		h.send(l, &wire.TLV{Type: wire.TLVIHU, IHU: wire.IHU{Interval: wire.IHUInterval}})
		if got, want := nb.Cost(), wire.Metric((30*9+80)/10+10); got != want {
			t.Errorf("cost after an unpaired IHU = %d, want %d", got, want)
		}
	})
}

// A restored direct link to a destination starts at cost 1000; its first
// RTT sample makes it the best path, and selection moves there at once
// (metric 0: directly connected) without waiting for an Update.
func TestRestoredLinkSelectedAfterFirstSample(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		stop := make(chan struct{})
		defer close(stop)
		b, _ := h.liveNeighbour("b", 10*time.Millisecond, stop)
		c := h.neighbour("c") // a bystander that sees triggered updates
		x := newRemote(t)
		time.Sleep(time.Second)
		h.send(b, x.update(1, 10)) // x via b: 10 + 20
		// x comes up as a direct neighbour and announces itself; its link
		// has no sample yet (1010), so b stays selected.
		direct := newFakeLink("x")
		direct.touch(time.Now())
		h.r.LinkUp(direct)
		h.send(direct, x.update(1, 0))
		if sel, ok := h.selected(x.subnet); !ok || sel.Link != b {
			t.Fatalf("selected %+v, want via b while the direct link has no sample", sel)
		}
		c.take()
		// x answers the link-up Hello after 5 ms.
		p := &peerRTT{}
		p.set(5 * time.Millisecond)
		p.answer(h, direct, stop)
		time.Sleep(5 * time.Millisecond)
		synctest.Wait()
		h.sync()
		if fw := h.r.Lookup(x.addr()); !fw.Selected() || fw.NextHop.Link() != direct {
			t.Fatalf("lookup %+v, want via the direct link right after its first sample", fw)
		}
		// Same router id, metric 10 -> 0: not a big change (spec §4.7 step
		// 5). But we advertised 30 and have 15 now: c hears about it.
		if ups := updatesFor(c.take(), x); len(ups) != 1 || ups[0].Metric != 15 {
			t.Errorf("switch sent updates %+v, want one with metric 15", ups)
		}
	})
}

// A neighbour whose cost drops until its route is better by more than the
// hysteresis takes over, with a triggered update.
func TestCostDropReselects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		stop := make(chan struct{})
		defer close(stop)
		a, _ := h.liveNeighbour("a", 10*time.Millisecond, stop)   // cost 20
		b, pb := h.liveNeighbour("b", 100*time.Millisecond, stop) // cost 110
		c := h.neighbour("c")
		x := newRemote(t)
		time.Sleep(time.Second)
		h.send(a, x.update(1, 100)) // total 120, advertised: FD (1, 120)
		h.send(b, x.update(1, 50))  // total 160, feasible fallback
		if sel, ok := h.selected(x.subnet); !ok || sel.Link != a {
			t.Fatalf("selected %+v, want via a", sel)
		}
		a.take()
		b.take()
		c.take()
		// b's RTT drops to 0: its smoothed cost falls by a tenth per
		// sample, and b wins once 50+cost(b) < 120-10.
		pb.set(0)
		start := time.Now()
		var switched time.Duration
		for time.Since(start) < 10*time.Second {
			time.Sleep(10 * time.Millisecond)
			synctest.Wait()
			if fw := h.r.Lookup(x.addr()); fw.Selected() && fw.NextHop.Link() == b {
				switched = time.Since(start)
				break
			}
		}
		if switched == 0 {
			t.Fatalf("still via a after 10 s; cost(b) = %d", h.r.Neighbour(b).Cost())
		}
		cost := h.r.Neighbour(b).Cost()
		t.Logf("switched to b after %v, cost(b) = %d", switched, cost)
		if 50+cost >= 120-10 {
			t.Errorf("switched with cost(b) = %d: not better by more than 10", cost)
		}
		// The smoothed cost is below 60 after 7 samples (3.5 s); the
		// re-evaluation trails by at most two samples.
		if switched > 5*time.Second {
			t.Errorf("switch took %v", switched)
		}
		// Received metric 100 -> 50: a triggered update to everyone but b.
		for _, l := range []*fakeLink{a, c} {
			ups := updatesFor(l.take(), x)
			if len(ups) != 1 || ups[0].Metric >= 120 || ups[0].Metric < 50+10 || ups[0].Seqno != 1 {
				t.Errorf("%s got %+v, want one update for x with metric 60..119", l.name, ups)
			}
		}
		if ups := updatesFor(b.take(), x); len(ups) != 0 {
			t.Errorf("split horizon: b got %+v", ups)
		}
	})
}

// The selected route's neighbour getting slower hands its subnets to a
// route through another neighbour.
func TestCostRiseReselects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		stop := make(chan struct{})
		defer close(stop)
		a, pa := h.liveNeighbour("a", 10*time.Millisecond, stop) // cost 20
		b, _ := h.liveNeighbour("b", 40*time.Millisecond, stop)  // cost 50
		x, y := newRemote(t), newRemote(t)
		time.Sleep(time.Second)
		h.send(a, x.update(1, 100))
		h.send(b, x.update(1, 100))
		h.send(a, y.update(1, 100)) // y only via a
		pa.set(400 * time.Millisecond)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if fw := h.r.Lookup(x.addr()); !fw.Selected() || fw.NextHop.Link() != b {
			t.Errorf("x via %v with cost(a) = %d, want via b", fw.NextHop.Link(), h.r.Neighbour(a).Cost())
		}
		if fw := h.r.Lookup(y.addr()); !fw.Selected() || fw.NextHop.Link() != a {
			t.Errorf("y lost its only route: %+v", fw)
		}
	})
}

// Costs that jitter within the hysteresis neither re-run selection nor
// move routes, and a re-evaluation at costs within the hysteresis keeps
// the selected route.
func TestCostJitterDoesNotFlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		stop := make(chan struct{})
		defer close(stop)
		a, pa := h.liveNeighbour("a", 20*time.Millisecond, stop)
		b, pb := h.liveNeighbour("b", 24*time.Millisecond, stop)
		c := h.neighbour("c")
		x := newRemote(t)
		time.Sleep(time.Second)
		h.send(a, x.update(1, 100)) // total 130
		h.send(b, x.update(1, 100)) // total 134
		if sel, ok := h.selected(x.subnet); !ok || sel.Link != a {
			t.Fatalf("selected %+v, want via a", sel)
		}
		c.take()
		evals := h.reevaluations() // the first samples of a and b
		if evals != 2 {
			t.Errorf("%d re-evaluations after the first samples, want 2", evals)
		}
		// Raw samples jitter by ±15 ms in opposite directions, and b is on
		// average 2 ms faster than a; the smoothed costs stay within the
		// hysteresis of where they were.
		for i := range 60 {
			if i%2 == 0 {
				pa.set(37 * time.Millisecond)
				pb.set(5 * time.Millisecond)
			} else {
				pa.set(7 * time.Millisecond)
				pb.set(35 * time.Millisecond)
			}
			time.Sleep(h.r.cfg.HelloInterval)
			synctest.Wait()
			if fw := h.r.Lookup(x.addr()); fw.NextHop.Link() != a {
				t.Fatalf("round %d: route moved to %v (cost a %d, b %d)", i, fw.NextHop.Link(), h.r.Neighbour(a).Cost(), h.r.Neighbour(b).Cost())
			}
		}
		if n := h.reevaluations(); n != evals {
			t.Errorf("jitter caused %d re-evaluations", n-evals)
		}
		// b settles a few ms below a. Even a forced re-evaluation keeps a:
		// b is better, but not by more than 10.
		pa.set(22 * time.Millisecond)
		pb.set(14 * time.Millisecond)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		nbA, nbB := h.r.Neighbour(a), h.r.Neighbour(b)
		if nbB.Cost() >= nbA.Cost() {
			t.Fatalf("costs a %d, b %d: b should be a little better", nbA.Cost(), nbB.Cost())
		}
		if err := h.r.do(context.Background(), func() {
			h.r.reevaluate(nbA, time.Now())
			h.r.reevaluate(nbB, time.Now())
		}); err != nil {
			t.Fatal(err)
		}
		if fw := h.r.Lookup(x.addr()); fw.NextHop.Link() != a {
			t.Errorf("route moved to b at costs a %d, b %d", nbA.Cost(), nbB.Cost())
		}
		if ups := updatesFor(c.take(), x); len(ups) != 0 {
			t.Errorf("jitter sent updates %+v", ups)
		}
	})
}

// Routes advertised while a link still had its initial cost are
// advertised again once its first sample is in; after that only a new low
// by more than 10 is.
func TestCheaperLinkReadvertises(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		stop := make(chan struct{})
		defer close(stop)
		a := h.neighbour("a")
		c := h.neighbour("c")
		x := newRemote(t)
		h.send(a, x.update(1, 100))
		if ups := updatesFor(c.take(), x); len(ups) != 1 || ups[0].Metric != 100+1010 {
			t.Fatalf("flood to c = %+v, want metric 1110", ups)
		}
		// a answers its link-up Hello after 20 ms: cost 30.
		p := &peerRTT{}
		p.set(20 * time.Millisecond)
		p.answer(h, a, stop)
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if ups := updatesFor(c.take(), x); len(ups) != 1 || ups[0].Metric != 130 || ups[0].Seqno != 1 {
			t.Fatalf("after the first sample c got %+v, want one update with metric 130", ups)
		}
		if ups := updatesFor(a.take(), x); len(ups) != 0 {
			t.Errorf("split horizon: a got %+v", ups)
		}
		// The cost rises by 40 and comes back: nothing new to tell.
		p.set(420 * time.Millisecond)
		time.Sleep(2 * time.Second)
		p.set(20 * time.Millisecond)
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if ups := updatesFor(c.take(), x); len(ups) != 0 {
			t.Errorf("cost up and back sent %+v", ups)
		}
		// A new low by more than 10 is advertised.
		p.set(0)
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if ups := updatesFor(c.take(), x); len(ups) != 1 || ups[0].Metric >= 130-10 {
			t.Errorf("new low sent %+v, want one update below 120", ups)
		}
	})
}

// A cost that keeps moving is re-evaluated at most once per CostInterval.
func TestCostReevaluationRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		stop := make(chan struct{})
		defer close(stop)
		_, p := h.liveNeighbour("a", 0, stop)
		time.Sleep(time.Second)
		synctest.Wait()
		base := h.reevaluations()
		// Every sample moves the cost by more than 10: 0 <-> 400 ms.
		for i := range 20 {
			p.set(time.Duration(i%2) * 400 * time.Millisecond)
			time.Sleep(h.r.cfg.HelloInterval)
			synctest.Wait()
		}
		n := h.reevaluations() - base
		if max := uint64(10*time.Second/h.r.cfg.CostInterval) + 1; n == 0 || n > max {
			t.Errorf("%d re-evaluations in 10 s, want 1..%d", n, max)
		}
	})
}

func TestLinkUpRequestsWildcardDump(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		// Without routes, a new neighbour gets no wildcard request.
		a := newFakeLink("a")
		h.r.LinkUp(a)
		h.sync()
		if rrs := ofType(a.take(), wire.TLVRouteRequest); len(rrs) != 0 {
			t.Errorf("link up without routes sent %+v", rrs)
		}
		x, y := newRemote(t), newRemote(t)
		h.send(a, x.update(1, 100))
		h.send(a, y.update(1, 100))
		// With routes, a new neighbour gets a wildcard route request...
		b := newFakeLink("b")
		h.r.LinkUp(b)
		h.sync()
		rrs := ofType(b.take(), wire.TLVRouteRequest)
		if len(rrs) != 1 || !rrs[0].RouteRequest.Wildcard() || rrs[0].RouteRequest.Generation != 0 {
			t.Fatalf("link up sent route requests %+v, want one wildcard", rrs)
		}
		// ... and its dump leaves fallback routes behind.
		h.send(b, x.update(1, 300))
		h.send(b, y.update(1, 300))
		if n := len(h.fallbacks(x.subnet)) + len(h.fallbacks(y.subnet)); n != 2 {
			t.Errorf("%d fallback routes after the dump, want 2", n)
		}
		// We answer a wildcard request with our selected routes not
		// through the asker, and our own subnet.
		h.send(a, &wire.TLV{Type: wire.TLVRouteRequest, RouteRequest: wire.RouteRequest{}})
		if ups := ofType(a.take(), wire.TLVUpdate); len(ups) != 1 || ups[0].Update.Prefix != h.r.Subnet() {
			t.Errorf("dump to a = %+v, want only our subnet", ups)
		}
		h.send(b, &wire.TLV{Type: wire.TLVRouteRequest, RouteRequest: wire.RouteRequest{}})
		if ups := ofType(b.take(), wire.TLVUpdate); len(ups) != 3 {
			t.Errorf("dump to b has %d updates, want 3", len(ups))
		}
	})
}

// checkIndex verifies, on the router goroutine, that every neighbour's
// route list holds exactly the table's routes through it.
func checkIndex(t *testing.T, r *Router, nbs ...*Neighbour) {
	t.Helper()
	var problems []string
	err := r.do(context.Background(), func() {
		want := make(map[*route]bool)
		for _, e := range r.table {
			for _, rt := range e.routes {
				want[rt] = true
			}
		}
		for _, nb := range nbs {
			var prev *route
			for rt := nb.routes; rt != nil; rt = rt.nbNext {
				if rt.nb != nb || rt.nbPrev != prev || !want[rt] {
					problems = append(problems, "bad entry in "+nb.link.String())
				}
				delete(want, rt)
				prev = rt
			}
		}
		for rt := range want {
			problems = append(problems, rt.e.prefix.String()+" via "+rt.nb.link.String()+" not indexed")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

func TestNeighbourRouteIndex(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(c *Config) {
			quiet(c)
			c.RetractedHold = time.Second
		})
		a, b := h.neighbour("a"), h.neighbour("b")
		na, nb := h.r.Neighbour(a), h.r.Neighbour(b)
		var xs []remote
		for i := range 6 {
			x := newRemote(t)
			xs = append(xs, x)
			h.send(a, x.update(1, 100))
			if i%2 == 0 {
				h.send(b, x.update(1, 200))
			}
		}
		checkIndex(t, h.r, na, nb)
		// Retractions, then their expiry, remove routes.
		h.send(b, xs[0].update(1, wire.MetricInfinite))
		h.send(a, xs[1].update(1, wire.MetricInfinite))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		checkIndex(t, h.r, na, nb)
		// A neighbour going away takes its routes along.
		h.r.LinkDown(a)
		h.sync()
		checkIndex(t, h.r, na, nb)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		checkIndex(t, h.r, na, nb)
		if na.routes != nil {
			t.Error("dead neighbour still has routes after the retracted hold")
		}
	})
}
