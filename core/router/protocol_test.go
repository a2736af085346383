package router

import (
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/wire"
)

// quiet keeps fake neighbours alive while a test sleeps.
func quiet(c *Config) { c.DeadInterval = 24 * time.Hour }

func TestLinkUpAnnouncesOwnSubnet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		l := newFakeLink("a")
		h.r.LinkUp(l)
		h.sync()
		sent := l.take()
		ups := ofType(sent, wire.TLVUpdate)
		if len(ups) != 1 {
			t.Fatalf("link up sent %d updates, want 1 (own subnet)", len(ups))
		}
		want := wire.Update{Interval: wire.UpdateInterval, Seqno: 0, Metric: 0, Prefix: h.r.Subnet(), RouterID: h.r.ID()}
		if diff := cmp.Diff(want, ups[0].Update, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
			t.Errorf("own update (-want +got):\n%s", diff)
		}
		if len(ofType(sent, wire.TLVHello)) != 1 {
			t.Errorf("link up sent no immediate Hello: %v", sent)
		}
	})
}

func TestHelloIHU(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		l := h.neighbour("a")
		// Our Hello goes out on the periodic timer; the IHU answering it
		// 30 ms later is a 30 ms RTT sample.
		time.Sleep(h.r.cfg.HelloInterval)
		synctest.Wait()
		hellos := ofType(l.take(), wire.TLVHello)
		if len(hellos) == 0 || hellos[0].Hello.Flags != wire.HelloFlagUnicast || hellos[0].Hello.Interval != 50 {
			t.Fatalf("hellos = %+v, want unicast with interval 50 cs", hellos)
		}
		time.Sleep(30 * time.Millisecond)
		h.send(l, &wire.TLV{Type: wire.TLVIHU, IHU: wire.IHU{RxCost: 5, Interval: 6000}})
		// The first Hello sent at link up is the oldest unanswered one: 530
		// ms. The first sample replaces the initial cost; later ones are
		// smoothed.
		if got, want := h.r.Neighbour(l).Cost(), wire.Metric(530+10); got != want {
			t.Errorf("cost after first IHU = %d, want %d", got, want)
		}
		h.send(l, &wire.TLV{Type: wire.TLVIHU, IHU: wire.IHU{Interval: 6000}})
		if got, want := h.r.Neighbour(l).Cost(), wire.Metric((530*9+30)/10+10); got != want {
			t.Errorf("cost after second IHU = %d, want %d", got, want)
		}
		// A Hello is answered at once, on the caller's goroutine.
		cost := h.r.Neighbour(l).Cost()
		h.r.HandleTLV(l, &wire.TLV{Type: wire.TLVHello, Hello: wire.Hello{Seqno: 7, Interval: 2000}})
		ihus := ofType(l.take(), wire.TLVIHU)
		want := wire.IHU{RxCost: cost, Interval: wire.IHUInterval}
		if len(ihus) != 1 || ihus[0].IHU != want {
			t.Errorf("reply to Hello = %+v, want one IHU %+v", ihus, want)
		}
	})
}

func TestUpdateFilters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		l := h.neighbour("a")
		x, y := newRemote(t), newRemote(t)
		tests := []struct {
			name string
			u    wire.Update
		}{
			{"binding: subnet not derived from router id key", wire.Update{Prefix: x.subnet, RouterID: y.rid, Metric: 5, Interval: 30000}},
			{"outside 400::/7", wire.Update{Prefix: netip.MustParsePrefix("2001:db8::/64"), RouterID: x.rid, Metric: 5, Interval: 30000}},
			{"shorter than /64", wire.Update{Prefix: netip.PrefixFrom(x.addr(), 48).Masked(), RouterID: x.rid, Metric: 5, Interval: 30000}},
		}
		for _, tt := range tests {
			denied := h.r.m.UpdateDenied.Load()
			h.send(l, &wire.TLV{Type: wire.TLVUpdate, Update: tt.u})
			if h.r.m.UpdateDenied.Load() != denied+1 {
				t.Errorf("%s: update not denied", tt.name)
			}
			if fw := h.r.Lookup(tt.u.Prefix.Addr()); fw != nil {
				t.Errorf("%s: route installed: %+v", tt.name, fw)
			}
		}
		// A retraction passes the filter whatever its router id, but
		// creates nothing for an unknown subnet.
		denied := h.r.m.UpdateDenied.Load()
		h.send(l, &wire.TLV{Type: wire.TLVUpdate, Update: wire.Update{Prefix: x.subnet, RouterID: y.rid, Metric: wire.MetricInfinite}})
		if h.r.m.UpdateDenied.Load() != denied || h.r.Lookup(x.addr()) != nil {
			t.Error("foreign retraction was denied or created a route")
		}
		// Our own subnet is ignored even with a valid binding.
		h.send(l, &wire.TLV{Type: wire.TLVUpdate, Update: wire.Update{Prefix: h.r.Subnet(), RouterID: wire.NewRouterID(h.r.key.Public()), Metric: 1, Interval: 30000}})
		if fw := h.r.Lookup(h.r.key.Address()); fw != nil {
			t.Error("own subnet installed as a route")
		}
		// A /128 inside the key's /64 that holds the key's address is fine.
		host := wire.Update{Prefix: netip.PrefixFrom(x.addr(), 128), RouterID: x.rid, Metric: 3, Interval: 30000}
		h.send(l, &wire.TLV{Type: wire.TLVUpdate, Update: host})
		if fw := h.r.Lookup(x.addr()); !fw.Selected() || fw.Prefix.Bits() != 128 {
			t.Errorf("host route lookup = %+v", fw)
		}
	})
}

func TestAcquireRouteFloods(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		a, b, c := h.neighbour("a"), h.neighbour("b"), h.neighbour("c")
		x := newRemote(t)
		h.send(a, x.update(3, 100))
		fw := h.r.Lookup(x.addr())
		if !fw.Selected() || fw.NextHop.Link() != a || fw.Key != x.kp.Public() {
			t.Fatalf("lookup = %+v, want selected via a with x's key", fw)
		}
		// The secret is the X25519 of our key and x's.
		want, _ := h.r.key.SharedKey(x.kp.Public())
		got, _ := x.kp.SharedKey(h.r.key.Public())
		if want != got || !fw.Keyed() || fw.secret.raw != want {
			t.Fatal("shared secret mismatch")
		}
		// Sealing state is built once, on first use, and shared.
		if s := fw.Secret(); s == nil || s != fw.Secret() || s != h.r.Lookup(x.addr()).Secret() {
			t.Fatal("sealing state not built once")
		}
		if ev := h.obs.take(); !slices.Equal(ev, []string{x.subnet.String() + " key", x.subnet.String() + " selected"}) {
			t.Errorf("events = %v", ev)
		}
		// Acquired: triggered update to b and c, not to a (split horizon),
		// metric plus a's link cost.
		if n := len(ofType(a.take(), wire.TLVUpdate)); n != 0 {
			t.Errorf("split horizon broken: %d updates back to the next hop", n)
		}
		for _, l := range []*fakeLink{b, c} {
			ups := ofType(l.take(), wire.TLVUpdate)
			if len(ups) != 1 || ups[0].Update.Metric != 100+1010 || ups[0].Update.Seqno != 3 || ups[0].Update.RouterID != x.rid {
				t.Errorf("%s got %+v, want one update metric 1110 seqno 3", l.name, ups)
			}
		}
		// The same update again changes nothing big: no triggered update.
		h.send(a, x.update(3, 100))
		if n := len(ofType(b.take(), wire.TLVUpdate)); n != 0 {
			t.Errorf("repeat update triggered %d updates", n)
		}
		if pk, ok := h.r.PublicKeyOf(x.addr()); !ok || pk != x.kp.Public() {
			t.Errorf("PublicKeyOf = %v %v", pk, ok)
		}
	})
}

func TestFeasibility(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		a, b := h.neighbour("a"), h.neighbour("b")
		x := newRemote(t)
		h.send(a, x.update(5, 100)) // we advertise (5, 1110): FD for x
		a.take()
		b.take()
		// Same seqno, metric not below the FD: unfeasible, stored nowhere,
		// and (a route is selected) no seqno request.
		h.send(b, x.update(5, 1110))
		if len(h.fallbacks(x.subnet)) != 0 {
			t.Error("unfeasible update stored as fallback")
		}
		if n := len(ofType(b.take(), wire.TLVSeqnoRequest)); n != 0 {
			t.Errorf("%d seqno requests while a route is selected", n)
		}
		// Smaller metric with the same seqno is feasible.
		h.send(b, x.update(5, 1109))
		if fb := h.fallbacks(x.subnet); len(fb) != 1 || fb[0].Metric != 1109 {
			t.Errorf("fallbacks = %+v, want b's feasible route", fb)
		}
		// Newer seqno is feasible whatever the metric.
		y := newRemote(t)
		h.send(a, y.update(5, 10))
		h.send(b, y.update(6, 5000))
		if fb := h.fallbacks(y.subnet); len(fb) != 1 || fb[0].Seqno != 6 {
			t.Errorf("fallbacks = %+v, want newer-seqno route", fb)
		}
		// An unfeasible update for the selected route from its neighbour is
		// not applied and asks that neighbour for seqno FD+1.
		a.take()
		h.send(a, x.update(5, 4000))
		sel, _ := h.selected(x.subnet)
		if sel.Metric != 100 {
			t.Errorf("unfeasible update applied to the selected route: metric %d", sel.Metric)
		}
		srs := ofType(a.take(), wire.TLVSeqnoRequest)
		if len(srs) != 1 || srs[0].SeqnoRequest.Seqno != 6 || srs[0].SeqnoRequest.HopCount != 64 || srs[0].SeqnoRequest.RouterID != x.rid {
			t.Errorf("seqno requests = %+v, want one for seqno 6 hop 64", srs)
		}
	})
}

func TestUnfeasibleUnknownSubnetAsksForSeqno(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		a, b := h.neighbour("a"), h.neighbour("b")
		x := newRemote(t)
		h.send(a, x.update(5, 100))
		// Retraction from a: the route is lost, a retraction with our own
		// router id and seqno floods.
		h.send(a, x.update(5, wire.MetricInfinite))
		b.take()
		// Now x has no selected route; an unfeasible update from b asks b.
		h.send(b, x.update(5, 2000))
		srs := ofType(b.take(), wire.TLVSeqnoRequest)
		if len(srs) != 1 || srs[0].SeqnoRequest.Seqno != 6 {
			t.Errorf("seqno requests to b = %+v, want one for 6", srs)
		}
	})
}

func TestHysteresis(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		a, b := h.neighbour("a"), h.neighbour("b")
		x := newRemote(t)
		h.send(a, x.update(1, 100))
		via := func() string {
			sel, ok := h.selected(x.subnet)
			if !ok {
				return "none"
			}
			return sel.NextHop
		}
		tests := []struct {
			metric wire.Metric
			seqno  wire.SeqNo
			want   string
		}{
			{95, 2, "FAKE a"}, // better by 5: keep a
			{90, 2, "FAKE a"}, // better by exactly 10: keep a
			{89, 2, "FAKE b"}, // better by 11: switch
			{0, 3, "FAKE b"},  // (b still best)
		}
		for _, tt := range tests {
			h.send(b, x.update(tt.seqno, tt.metric))
			if got := via(); got != tt.want {
				t.Errorf("b metric %d: selected via %s, want %s", tt.metric, got, tt.want)
			}
		}
		// A directly connected origin (metric 0) wins even if barely better.
		y := newRemote(t)
		h.send(a, y.update(1, 5))
		h.send(b, y.update(2, 0))
		if sel, _ := h.selected(y.subnet); sel.NextHop != "FAKE b" {
			t.Errorf("metric-0 route not selected: via %s", sel.NextHop)
		}
	})
}

func TestRetractionAndExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		a, b := h.neighbour("a"), h.neighbour("b")
		x := newRemote(t)
		h.send(a, x.update(1, 100))
		h.obs.take()
		b.take()
		a.take()
		h.send(a, x.update(1, wire.MetricInfinite))
		if fw := h.r.Lookup(x.addr()); fw.Selected() || !fw.Keyed() {
			t.Fatalf("after retraction lookup = %+v, want route list without selection", fw)
		}
		if ev := h.obs.take(); !slices.Equal(ev, []string{x.subnet.String() + " lost"}) {
			t.Errorf("events = %v", ev)
		}
		ups := ofType(b.take(), wire.TLVUpdate)
		if len(ups) != 1 || !ups[0].Update.Metric.IsInfinite() || ups[0].Update.RouterID != h.r.ID() {
			t.Errorf("b got %+v, want a retraction with our router id", ups)
		}
		if srs := ofType(a.take(), wire.TLVSeqnoRequest); len(srs) != 1 {
			t.Errorf("announcer got %d seqno requests, want 1", len(srs))
		}
		// The retracted entry is held 6 s, then the subnet disappears.
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if h.r.Lookup(x.addr()) == nil {
			t.Fatal("retracted route dropped before 6 s")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if fw := h.r.Lookup(x.addr()); fw != nil {
			t.Fatalf("retracted route still there after 7 s: %+v", fw)
		}

		// Expiry: a selected route with a 10 s interval lives 35 s, then is
		// retracted (flooded), then removed 6 s later.
		y := newRemote(t)
		u := y.update(1, 50)
		u.Update.Interval = 1000
		h.send(a, u)
		b.take()
		time.Sleep(34 * time.Second)
		synctest.Wait()
		if !h.r.Lookup(y.addr()).Selected() {
			t.Fatal("route expired early")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if h.r.Lookup(y.addr()).Selected() {
			t.Fatal("route did not expire after 3.5 intervals")
		}
		if ups := ofType(b.take(), wire.TLVUpdate); len(ups) != 1 || !ups[0].Update.Metric.IsInfinite() {
			t.Errorf("expiry sent %+v, want one retraction", ups)
		}
		time.Sleep(7 * time.Second)
		synctest.Wait()
		if h.r.Lookup(y.addr()) != nil {
			t.Error("expired route not removed after the retraction hold")
		}
		if h.r.m.ExpiredRetracted.Load() != 1 || h.r.m.ExpiredRemoved.Load() < 2 {
			t.Errorf("expiry metrics retracted=%d removed=%d", h.r.m.ExpiredRetracted.Load(), h.r.m.ExpiredRemoved.Load())
		}
	})
}

func TestUnselectedExpiresSilently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		a, b, c := h.neighbour("a"), h.neighbour("b"), h.neighbour("c")
		x := newRemote(t)
		h.send(a, x.update(1, 10))
		short := x.update(2, 500)
		short.Update.Interval = 100 // held 3.5 s
		h.send(b, short)
		if len(h.fallbacks(x.subnet)) != 1 {
			t.Fatal("no fallback")
		}
		c.take()
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if len(h.fallbacks(x.subnet)) != 0 {
			t.Error("fallback did not expire")
		}
		if ups := ofType(c.take(), wire.TLVUpdate); len(ups) != 0 {
			t.Errorf("fallback expiry sent %d updates", len(ups))
		}
	})
}

func TestKeyLowOrderRejected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		a := h.neighbour("a")
		var zero identity.PublicKey
		rid := wire.NewRouterID(zero)
		u := &wire.TLV{Type: wire.TLVUpdate, Update: wire.Update{Prefix: identity.SubnetOf(zero), RouterID: rid, Metric: 1, Interval: 30000}}
		h.send(a, u)
		if fw := h.r.Lookup(identity.AddressOf(zero)); fw != nil {
			t.Errorf("low-order key accepted: %+v", fw)
		}
	})
}
