package router

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mycelium-go/mycelium/core/wire"
)

// answerHellos plays a live neighbour on l: every Hello the router sends
// is answered with an IHU until stop is closed.
func answerHellos(h *harness, l *fakeLink, stop <-chan struct{}) {
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for range l.takeType(wire.TLVHello) {
				h.r.HandleTLV(l, &wire.TLV{Type: wire.TLVIHU, IHU: wire.IHU{Interval: 6000}})
			}
		}
	}()
}

func TestSilentPeerDiesAndFailsOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		a, b, c := h.neighbour("a"), h.neighbour("b"), h.neighbour("c")
		stopA, stopB, stopC := make(chan struct{}), make(chan struct{}), make(chan struct{})
		defer close(stopB)
		defer close(stopC)
		answerHellos(h, a, stopA)
		answerHellos(h, b, stopB)
		answerHellos(h, c, stopC)
		x := newRemote(t)
		h.send(a, x.update(1, 100))
		h.send(b, x.update(1, 200)) // feasible fallback (200 < FD 1110)
		if len(h.fallbacks(x.subnet)) != 1 {
			t.Fatal("no fallback route")
		}
		// Neighbours answering Hellos stay alive indefinitely.
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if sel, ok := h.selected(x.subnet); !ok || sel.NextHop != "FAKE a" {
			t.Fatalf("selected = %+v before the failure", sel)
		}
		c.take()
		h.obs.take()
		// a goes silent: no IHU, no byte.
		close(stopA)
		dead := time.Now()
		for h.r.Neighbour(a) != nil {
			time.Sleep(10 * time.Millisecond)
		}
		// The last IHU came at most one Hello interval before the silence.
		took := time.Since(dead)
		lo := h.r.cfg.DeadInterval - h.r.cfg.HelloInterval
		hi := h.r.cfg.DeadInterval + h.r.cfg.DeadCheckInterval + 20*time.Millisecond
		if took < lo || took > hi {
			t.Errorf("silent peer declared dead after %v, want %v..%v", took, lo, hi)
		}
		synctest.Wait()
		if !a.closed.Load() {
			t.Error("dead peer's link not closed")
		}
		fw := h.r.Lookup(x.addr())
		if !fw.Selected() || fw.NextHop.Link() != b {
			t.Fatalf("after failover lookup = %+v (via %v), want via b", fw, fw.NextHop.Link())
		}
		ups := ofType(c.take(), wire.TLVUpdate)
		if len(ups) != 1 || ups[0].Update.Metric != 200+h.r.Neighbour(b).Cost() {
			t.Errorf("failover update to c = %+v", ups)
		}
		if h.r.m.PeerDied.Load() != 1 {
			t.Errorf("peer_died = %d", h.r.m.PeerDied.Load())
		}
		if ev := h.obs.take(); len(ev) != 0 {
			t.Errorf("failover with a fallback produced events %v", ev)
		}
	})
}

func TestBusyPeerWithoutIHUStaysAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, nil)
		a := h.neighbour("a")
		stop := make(chan struct{})
		// The neighbour never answers Hellos, but data keeps arriving.
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(200 * time.Millisecond):
					a.touch(time.Now())
				}
			}
		}()
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if h.r.Neighbour(a) == nil || a.closed.Load() {
			t.Fatal("busy link declared dead")
		}
		close(stop)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if h.r.Neighbour(a) != nil {
			t.Fatal("link silent for 2 s still alive")
		}
	})
}

func TestLinkDownFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		a, b, c := h.neighbour("a"), h.neighbour("b"), h.neighbour("c")
		x, y := newRemote(t), newRemote(t)
		h.send(a, x.update(1, 100))
		h.send(b, x.update(1, 200))
		h.send(a, y.update(1, 100))                                       // y only via a
		h.send(a, &wire.TLV{Type: wire.TLVUpdate, Update: wire.Update{}}) // junk, denied
		b.take()
		c.take()
		h.obs.take()
		h.r.LinkDown(a)
		h.sync()
		if fw := h.r.Lookup(x.addr()); !fw.Selected() || fw.NextHop.Link() != b {
			t.Errorf("x after link down = %+v, want via b", fw)
		}
		// y has nowhere to go: lost, retraction flooded, seqno request
		// nowhere (its only announcer is gone).
		if fw := h.r.Lookup(y.addr()); fw.Selected() {
			t.Errorf("y still selected: %+v", fw)
		}
		if ev := h.obs.take(); !slices.Equal(ev, []string{y.subnet.String() + " lost"}) {
			t.Errorf("events = %v", ev)
		}
		var retractions int
		for _, u := range ofType(c.take(), wire.TLVUpdate) {
			if u.Update.Metric.IsInfinite() && u.Update.Prefix == y.subnet && u.Update.RouterID == h.r.ID() {
				retractions++
			}
		}
		if retractions != 1 {
			t.Errorf("c got %d retractions for y, want 1", retractions)
		}
		// Wanting y now: no live announcer, so a route request goes out.
		h.r.Want(y.addr())
		h.sync()
		if n := len(ofType(b.take(), wire.TLVRouteRequest)); n != 1 {
			t.Errorf("want after loss sent %d route requests to b, want 1", n)
		}
		if h.r.m.PeerRemoved.Load() != 1 || h.r.m.PeerDied.Load() != 0 {
			t.Errorf("peer metrics removed=%d died=%d", h.r.m.PeerRemoved.Load(), h.r.m.PeerDied.Load())
		}
		// TLVs from the gone link are ignored.
		h.send(a, x.update(2, 1))
		if h.r.m.TLVSourceDied.Load() != 1 {
			t.Errorf("tlv_source_died = %d", h.r.m.TLVSourceDied.Load())
		}
	})
}

func TestUnfeasibleFallbackRecoversBySeqno(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, quiet)
		a, b := h.neighbour("a"), h.neighbour("b")
		x := newRemote(t)
		h.send(a, x.update(1, 100))  // FD (1, 1110)
		h.send(b, x.update(1, 5000)) // unfeasible: not stored
		b.take()
		h.r.LinkDown(a)
		h.sync()
		// The route is lost; Want asks b (the only neighbour) for the route.
		h.r.Want(x.addr())
		h.sync()
		if n := len(ofType(b.take(), wire.TLVRouteRequest)); n != 1 {
			t.Fatalf("%d route requests to b", n)
		}
		// b answers with its unfeasible route: we ask b for seqno 2.
		h.send(b, x.update(1, 5000))
		srs := ofType(b.take(), wire.TLVSeqnoRequest)
		if len(srs) != 1 || srs[0].SeqnoRequest.Seqno != 2 {
			t.Fatalf("seqno requests = %+v, want one for 2", srs)
		}
		// The origin bumped: the new seqno is feasible and selected.
		h.send(b, x.update(2, 5000))
		if fw := h.r.Lookup(x.addr()); !fw.Selected() {
			t.Errorf("route not recovered: %+v", fw)
		}
	})
}
