package nodetest

import (
	"context"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/link"
)

// nextHop returns the link member i forwards to member j's address on, or
// nil.
func (nt *Net) nextHop(i, j int) link.Link {
	fw := nt.Members[i].Node.Router().Lookup(nt.Members[j].Address())
	if !fw.Selected() {
		return nil
	}
	return fw.NextHop.Link()
}

// waitNextHop polls until member i forwards to j on l, and returns when.
func (nt *Net) waitNextHop(ctx context.Context, i, j int, l link.Link) (time.Time, error) {
	for {
		if nt.nextHop(i, j) == l {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// txPackets returns the data packets member i sent on l.
func (nt *Net) txPackets(ctx context.Context, t *testing.T, i int, l link.Link) uint64 {
	t.Helper()
	nbs, err := nt.Members[i].Node.Router().Neighbours(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, nb := range nbs {
		if nb.Link == l {
			return nb.TxPackets
		}
	}
	return 0
}

// waitCosts waits until every neighbour of member i costs less than max.
func (nt *Net) waitCosts(ctx context.Context, i int, max uint16) error {
	for {
		nbs, err := nt.Members[i].Node.Router().Neighbours(ctx)
		if err != nil {
			return err
		}
		settled := true
		for _, nb := range nbs {
			settled = settled && uint16(nb.Cost) < max
		}
		if settled {
			return nil
		}
		if err := sleep(ctx); err != nil {
			return err
		}
	}
}

// TestTriangleReturnsToRestoredLink: in a triangle A-B-C, traffic from A
// to C moves to A-B-C when the direct link is cut and comes back to the
// direct link once it is restored. The restored link starts at the
// reference's initial cost of 1000; its first RTT sample replaces it, and
// the cost change re-runs route selection (the reference would wait for
// the next Update about C, up to 300 s).
func TestTriangleReturnsToRestoredLink(t *testing.T) {
	t.Parallel()
	const a, b, c = 0, 1, 2
	nt := New(t, 3, Options{})
	nt.Link(a, b)
	nt.Link(b, c)
	direct := nt.Link(a, c)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := nt.WaitLinks(ctx); err != nil {
		t.Fatal(err)
	}
	if err := nt.Exchange(ctx, a, c, "a to c"); err != nil {
		t.Fatal(err)
	}
	if err := nt.Exchange(ctx, c, a, "c to a"); err != nil {
		t.Fatal(err)
	}
	if _, err := nt.waitNextHop(ctx, a, c, direct.A); err != nil {
		t.Fatalf("a -> c not on the direct link at the start (via %v): %v", nt.nextHop(a, c), err)
	}
	// Links that have been up for a while have their real cost (about
	// 10 here), so the path via b costs far less than a new link's 1000.
	if err := nt.waitCosts(ctx, a, 50); err != nil {
		t.Fatal(err)
	}

	var s stream
	s.recv = make(map[int]time.Time)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.run(sctx, t, nt, a, c, 5*time.Millisecond)
	}()
	defer func() {
		stop()
		<-done
		nt.Members[c].Tap(nil)
	}()

	// Cut the direct link: traffic moves via b (C's fallback is not
	// feasible at a, so this takes a seqno request to c).
	time.Sleep(100 * time.Millisecond)
	direct.Cut()
	direct.Wait()
	viaB := nt.Pair(a, b).A
	cutCtx, cutCancel := context.WithTimeout(ctx, 10*time.Second)
	moved, err := nt.waitNextHop(cutCtx, a, c, viaB)
	cutCancel()
	if err != nil {
		t.Fatalf("a -> c did not move to b after the cut: %v", err)
	}
	for !s.arrivedSince(moved) {
		if ctx.Err() != nil {
			t.Fatal("no packet arrived via b")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("direct link cut: a -> c via b")

	// Restore the direct link.
	restored := nt.Link(a, c)
	start := time.Now()
	backCtx, backCancel := context.WithTimeout(ctx, 10*time.Second)
	back, err := nt.waitNextHop(backCtx, a, c, restored.A)
	backCancel()
	if err != nil {
		t.Fatalf("a -> c still via %v 10 s after the direct link came back", nt.nextHop(a, c))
	}
	for !s.arrivedSince(back) {
		if ctx.Err() != nil {
			t.Fatal("no packet arrived on the restored link")
		}
		time.Sleep(time.Millisecond)
	}
	delivered := time.Now()
	tookRoute, tookTraffic := back.Sub(start), delivered.Sub(start)
	t.Logf("direct link restored: a -> c back on it after %v, first packet sent after the switch delivered at %v",
		tookRoute.Round(time.Microsecond), tookTraffic.Round(time.Microsecond))
	if tookRoute > 3*time.Second {
		t.Errorf("a -> c took %v to return to the restored link, want < 3 s", tookRoute)
	}
	// The reverse direction comes back too, and data really flows on the
	// restored link.
	revCtx, revCancel := context.WithTimeout(ctx, 3*time.Second)
	_, err = nt.waitNextHop(revCtx, c, a, restored.B)
	revCancel()
	if err != nil {
		t.Errorf("c -> a still via %v", nt.nextHop(c, a))
	}
	time.Sleep(50 * time.Millisecond)
	if n := nt.txPackets(ctx, t, a, restored.A); n == 0 {
		t.Error("no data packets sent on the restored link")
	}
	// Nothing flaps back: the route stays on the direct link.
	time.Sleep(2 * time.Second)
	if hop := nt.nextHop(a, c); hop != restored.A {
		t.Errorf("a -> c moved away from the restored link to %v", hop)
	}
	nbs, _ := nt.Members[a].Node.Router().Neighbours(ctx)
	for _, nb := range nbs {
		t.Logf("a's neighbour %v: cost %d", nb.Link, nb.Cost)
	}
}

// TestNewLinkOffersShorterPath: in a line 0-1-2-3-4, node 0 reaches node 4
// over four hops. A new link 0-3 offers a path of two hops, but node 3
// announces only its own subnet on link up (as the reference does), so
// node 0 learns the route to 4 through 3 from the dump it asks for
// (a wildcard route request), and selects it once the new link's first
// RTT sample is in.
func TestNewLinkOffersShorterPath(t *testing.T) {
	t.Parallel()
	nt := New(t, 5, Options{})
	nt.Line()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := nt.WaitLinks(ctx); err != nil {
		t.Fatal(err)
	}
	if err := nt.Exchange(ctx, 0, 4, "0 to 4"); err != nil {
		t.Fatal(err)
	}
	if err := nt.waitCosts(ctx, 0, 50); err != nil {
		t.Fatal(err)
	}
	if hop := nt.nextHop(0, 4); hop != nt.Pair(0, 1).A {
		t.Fatalf("0 -> 4 via %v, want via 1", hop)
	}
	shortcut := nt.Link(0, 3)
	start := time.Now()
	swCtx, swCancel := context.WithTimeout(ctx, 5*time.Second)
	at, err := nt.waitNextHop(swCtx, 0, 4, shortcut.A)
	swCancel()
	if err != nil {
		t.Fatalf("0 -> 4 still via %v 5 s after the shortcut came up", nt.nextHop(0, 4))
	}
	t.Logf("0 -> 4 moved to the new two-hop path after %v", at.Sub(start).Round(time.Microsecond))
	if err := nt.Exchange(ctx, 0, 4, "0 to 4 again"); err != nil {
		t.Fatal(err)
	}
	if n := nt.txPackets(ctx, t, 0, shortcut.A); n == 0 {
		t.Error("no data packets sent on the new link")
	}
}
