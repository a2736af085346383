package router

import (
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mycelium-go/mycelium/core/wire"
)

func TestSeqnoRequestBump(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		a, b := h.neighbour("a"), h.neighbour("b")
		req := func(l *fakeLink, s wire.SeqNo) {
			h.send(l, &wire.TLV{Type: wire.TLVSeqnoRequest, SeqnoRequest: wire.SeqnoRequest{
				Seqno: s, HopCount: 10, RouterID: h.r.ID(), Prefix: h.r.Subnet(),
			}})
		}
		seqno := func() wire.SeqNo {
			s, err := h.r.Seqno(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		req(a, 1)
		if seqno() != 1 {
			t.Fatalf("seqno = %d after request, want 1", seqno())
		}
		for _, l := range []*fakeLink{a, b} {
			ups := ofType(l.take(), wire.TLVUpdate)
			if len(ups) != 1 || ups[0].Update.Seqno != 1 || ups[0].Update.Metric != 0 {
				t.Errorf("%s got %+v, want own update with seqno 1", l.name, ups)
			}
		}
		// A request within 4 s of the last bump is honoured 4 s after it,
		// once, however often it is repeated; bumps are +1 whatever is asked.
		time.Sleep(3 * time.Second)
		req(b, 9)
		req(a, 9)
		if seqno() != 1 {
			t.Errorf("bumped again within 4 s: seqno %d", seqno())
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if seqno() != 2 {
			t.Errorf("seqno = %d 4 s after the last bump, want 2 (deferred bump)", seqno())
		}
		if ups := ofType(a.take(), wire.TLVUpdate); len(ups) != 1 || ups[0].Update.Seqno != 2 {
			t.Errorf("deferred bump announced %+v", ups)
		}
		// Not newer than ours, or for another router id: no bump.
		time.Sleep(5 * time.Second)
		req(a, 2)
		h.send(a, &wire.TLV{Type: wire.TLVSeqnoRequest, SeqnoRequest: wire.SeqnoRequest{
			Seqno: 7, HopCount: 10, RouterID: newRemote(t).rid, Prefix: h.r.Subnet(),
		}})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if seqno() != 2 || h.r.m.SeqnoBump.Load() != 2 {
			t.Errorf("bumped for a seqno that is not newer: seqno %d", seqno())
		}
	})
}

func TestSeqnoRequestReplyAndForward(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		a, b, c := h.neighbour("a"), h.neighbour("b"), h.neighbour("c")
		x := newRemote(t)
		h.send(a, x.update(7, 100))
		a.take()
		c.take()
		sr := func(s wire.SeqNo, hop uint8) *wire.TLV {
			return &wire.TLV{Type: wire.TLVSeqnoRequest, SeqnoRequest: wire.SeqnoRequest{Seqno: s, HopCount: hop, RouterID: x.rid, Prefix: x.subnet}}
		}
		// Our route's seqno is at least the requested one: reply to c.
		h.send(c, sr(7, 10))
		if ups := ofType(c.take(), wire.TLVUpdate); len(ups) != 1 || ups[0].Update.Seqno != 7 {
			t.Errorf("reply = %+v, want update with seqno 7", ups)
		}
		// Newer than ours: forwarded to the announcer with one hop less.
		h.send(c, sr(8, 10))
		fwd := ofType(a.take(), wire.TLVSeqnoRequest)
		if len(fwd) != 1 || fwd[0].SeqnoRequest.HopCount != 9 || fwd[0].SeqnoRequest.Seqno != 8 {
			t.Fatalf("forwarded = %+v, want seqno 8 hop 9 to a", fwd)
		}
		// A duplicate within 60 s is dropped, even from another neighbour.
		h.send(b, sr(8, 10))
		if n := len(ofType(a.take(), wire.TLVSeqnoRequest)); n != 0 {
			t.Errorf("duplicate forwarded %d times", n)
		}
		// Hop count 1 is not forwarded.
		h.send(c, sr(9, 1))
		if n := len(ofType(a.take(), wire.TLVSeqnoRequest)); n != 0 || h.r.m.SeqnoTTLExpired.Load() != 1 {
			t.Errorf("hop-1 request forwarded %d times", n)
		}
		// The answer (x at seqno 8) goes to c, who asked, though it is not
		// a big change.
		b.take()
		h.send(a, x.update(8, 100))
		if ups := ofType(c.take(), wire.TLVUpdate); len(ups) != 1 || ups[0].Update.Seqno != 8 {
			t.Errorf("interested neighbour got %+v, want the seqno 8 update", ups)
		}
		if n := len(ofType(b.take(), wire.TLVUpdate)); n != 0 {
			t.Errorf("uninterested neighbour got %d updates", n)
		}
	})
}

func TestRouteRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		a, b, c := h.neighbour("a"), h.neighbour("b"), h.neighbour("c")
		x := newRemote(t)
		rr := func(gen uint8, p netip.Prefix) *wire.TLV {
			return &wire.TLV{Type: wire.TLVRouteRequest, RouteRequest: wire.RouteRequest{Generation: gen, Prefix: p}}
		}
		// Unknown subnet: forwarded with generation+1 to everyone but the
		// sender, and marked queried.
		h.send(a, rr(3, x.subnet))
		for _, l := range []*fakeLink{b, c} {
			got := ofType(l.take(), wire.TLVRouteRequest)
			if len(got) != 1 || got[0].RouteRequest.Generation != 4 || got[0].RouteRequest.Prefix != x.subnet {
				t.Errorf("%s got %+v, want generation 4", l.name, got)
			}
		}
		if n := len(ofType(a.take(), wire.TLVRouteRequest)); n != 0 {
			t.Error("request sent back to its sender")
		}
		if fw := h.r.Lookup(x.addr()); fw == nil || !fw.Queried {
			t.Errorf("lookup = %+v, want queried", fw)
		}
		// While queried, more requests are not forwarded.
		h.send(b, rr(1, x.subnet))
		if n := len(ofType(c.take(), wire.TLVRouteRequest)); n != 0 {
			t.Error("request for a queried subnet forwarded")
		}
		// Generation 15 would become 16: dropped.
		y := newRemote(t)
		h.send(a, rr(15, y.subnet))
		if n := len(ofType(b.take(), wire.TLVRouteRequest)); n != 0 {
			t.Error("generation 15 request forwarded")
		}
		// The answer arrives from c: the subnet is acquired and flooded,
		// also back to a who asked.
		h.send(c, x.update(1, 10))
		if ups := ofType(a.take(), wire.TLVUpdate); len(ups) != 1 {
			t.Errorf("requester got %d updates, want 1", len(ups))
		}
		// Known selected route: answer, except to its next hop.
		b.take()
		h.send(b, rr(0, x.subnet))
		if ups := ofType(b.take(), wire.TLVUpdate); len(ups) != 1 || ups[0].Update.Metric != 10+1010 {
			t.Errorf("answer = %+v", ups)
		}
		h.send(c, rr(0, x.subnet))
		if n := len(ofType(c.take(), wire.TLVUpdate)); n != 0 {
			t.Error("route request answered to the route's next hop")
		}
		// Our own subnet: our update.
		h.send(a, rr(2, netip.PrefixFrom(h.r.key.Address(), 128)))
		if ups := ofType(a.take(), wire.TLVUpdate); len(ups) != 1 || ups[0].Update.Prefix != h.r.Subnet() {
			t.Errorf("own subnet answer = %+v", ups)
		}
		// Wildcard: full dump (minus routes via the requester) + own subnet.
		h.send(a, &wire.TLV{Type: wire.TLVRouteRequest})
		ups := ofType(a.take(), wire.TLVUpdate)
		if len(ups) != 2 {
			t.Errorf("dump to a = %d updates, want 2 (x, own)", len(ups))
		}
		h.send(c, &wire.TLV{Type: wire.TLVRouteRequest})
		if ups := ofType(c.take(), wire.TLVUpdate); len(ups) != 1 || ups[0].Update.Prefix != h.r.Subnet() {
			t.Errorf("dump to next hop = %+v, want own subnet only", ups)
		}
		// Garbage prefixes are not flooded.
		h.send(a, rr(0, netip.MustParsePrefix("2001:db8::/64")))
		if n := len(ofType(b.take(), wire.TLVRouteRequest)); n != 0 {
			t.Error("request for a prefix outside 400::/7 forwarded")
		}
	})
}

func TestRouteRequestGenerations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		a, b := h.neighbour("a"), h.neighbour("b")
		x := newRemote(t)
		// We query x ourselves: generation 0 to everyone.
		h.r.Want(x.addr())
		h.sync()
		for _, l := range []*fakeLink{a, b} {
			got := ofType(l.take(), wire.TLVRouteRequest)
			if len(got) != 1 || got[0].RouteRequest.Generation != 0 || got[0].RouteRequest.Prefix != x.subnet {
				t.Errorf("%s got %+v, want generation 0 for x", l.name, got)
			}
		}
		// Wanting it again while queried sends nothing.
		h.r.Want(x.addr())
		h.sync()
		if n := len(ofType(a.take(), wire.TLVRouteRequest)); n != 0 {
			t.Error("second Want sent a request")
		}
		// A new neighbour gets our pending queries (and no wildcard
		// request: we have no routes).
		c := newFakeLink("c")
		h.r.LinkUp(c)
		h.sync()
		if got := ofType(c.take(), wire.TLVRouteRequest); len(got) != 1 || got[0].RouteRequest.Prefix != x.subnet {
			t.Errorf("new neighbour got route requests %+v, want one for x", got)
		}
		// No answer within 15 s: the query times out.
		h.obs.take()
		time.Sleep(16 * time.Second)
		synctest.Wait()
		if fw := h.r.Lookup(x.addr()); fw != nil {
			t.Errorf("queried subnet still there: %+v", fw)
		}
		if ev := h.obs.take(); !slices.Contains(ev, x.subnet.String()+" query-timeout") {
			t.Errorf("events = %v, want query-timeout", ev)
		}
		// After the cache expired, a new query goes out again.
		h.r.Want(x.addr())
		h.sync()
		if got := ofType(a.take(), wire.TLVRouteRequest); len(got) != 1 {
			t.Errorf("requery sent %d", len(got))
		}
	})
}

func TestRefreshBeforeExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		a := h.neighbour("a")
		x := newRemote(t)
		u := x.update(1, 10)
		u.Update.Interval = 1000 // expires in 35 s
		h.send(a, u)
		fw := h.r.Lookup(x.addr())
		h.r.Refresh(fw, time.Now())
		h.sync()
		if n := len(ofType(a.take(), wire.TLVRouteRequest)); n != 0 {
			t.Fatal("refresh requested for a fresh route")
		}
		time.Sleep(25 * time.Second)
		for range 3 {
			h.r.Refresh(fw, time.Now())
		}
		h.sync()
		if n := len(ofType(a.take(), wire.TLVRouteRequest)); n != 1 {
			t.Fatalf("%d refresh requests, want exactly 1", n)
		}
		h.send(a, u) // the answer resets the expiry
		if got := h.r.Lookup(x.addr()); got.Expires.Sub(time.Now()) < 34*time.Second {
			t.Errorf("expiry not refreshed: %v left", got.Expires.Sub(time.Now()))
		}
	})
}

func TestMaxQueries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, func(c *Config) { quiet(c); c.MaxQueries = 2 })
		a, b := h.neighbour("a"), h.neighbour("b")
		rr := func(x remote) *wire.TLV {
			return &wire.TLV{Type: wire.TLVRouteRequest, RouteRequest: wire.RouteRequest{Prefix: x.subnet}}
		}
		xs := []remote{newRemote(t), newRemote(t), newRemote(t)}
		for _, x := range xs {
			h.send(a, rr(x))
		}
		if n := len(ofType(b.take(), wire.TLVRouteRequest)); n != 2 {
			t.Errorf("forwarded %d requests, want 2 (the limit)", n)
		}
		// An answer frees a slot.
		h.send(b, xs[0].update(1, 1))
		h.send(a, rr(xs[2]))
		if n := len(ofType(b.take(), wire.TLVRouteRequest)); n != 1 {
			t.Errorf("after an answer forwarded %d, want 1", n)
		}
		// Timeouts free the rest.
		time.Sleep(16 * time.Second)
		synctest.Wait()
		h.r.Want(newRemote(t).addr())
		h.r.Want(newRemote(t).addr())
		h.sync()
		if n := len(ofType(b.take(), wire.TLVRouteRequest)); n != 2 {
			t.Errorf("after timeouts sent %d requests, want 2", n)
		}
	})
}
