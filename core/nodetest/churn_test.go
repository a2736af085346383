package nodetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// path describes how packets from member i to member j travel now, hop by
// hop, for failure messages.
func (nt *Net) path(i, j int) string {
	dst := nt.Members[j].Address()
	var b strings.Builder
	at := i
	for hops := 0; hops < 20 && at != j; hops++ {
		fw := nt.Members[at].Node.Router().Lookup(dst)
		switch {
		case fw == nil:
			fmt.Fprintf(&b, "%d (nothing)", at)
			return b.String()
		case fw.Queried:
			fmt.Fprintf(&b, "%d (queried)", at)
			return b.String()
		case fw.NextHop == nil:
			fb, _ := nt.Members[at].Node.Router().FallbackRoutes(context.Background())
			n := 0
			for _, r := range fb {
				if r.Subnet == fw.Prefix {
					n++
					fmt.Fprintf(&b, " [fallback via %s metric %v seqno %d]", r.NextHop, r.Metric, r.Seqno)
				}
			}
			fmt.Fprintf(&b, "%d (no selected route, %d entries)", at, n)
			return b.String()
		}
		var next int
		fmt.Sscanf(strings.Fields(fw.NextHop.Link().String())[3], "n%d", &next)
		fmt.Fprintf(&b, "%d -> ", at)
		at = next
	}
	fmt.Fprintf(&b, "%d", at)
	return b.String()
}

// TestMeshChurn drops random links of a 30-node mesh for three seconds
// while traffic flows (links come back, as the link manager reconnects),
// then checks that every node reaches every other. It caught a seqno
// request/answer loop, requests lost to duplicate suppression and queues
// that never asked for their route again.
func TestMeshChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("churn")
	}
	const n = 30
	nt := New(t, n, Options{Reconnect: 50 * time.Millisecond})
	rng := rand.New(rand.NewPCG(3, 4))
	nt.RandomMesh(rng, n)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := nt.WaitLinks(ctx); err != nil {
		t.Fatal(err)
	}
	prime := func(tag string) {
		for i := range n {
			for j := range n {
				if i != j {
					nt.Members[i].SendUDP(ctx, nt.Members[j].Address(), fmt.Appendf(nil, "%s %d %d", tag, i, j))
				}
			}
		}
	}
	prime("prime")
	// Churn: links drop (as after a false death) and come back.
	end := time.Now().Add(3 * time.Second)
	for time.Now().Before(end) {
		i, j := rng.IntN(n), rng.IntN(n)
		if p := nt.Pair(i, j); p != nil && !p.Down() {
			p.A.Close()
		}
		prime("churn")
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if err := nt.WaitLinks(ctx); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for i := range n {
		for j := range n {
			if i == j {
				continue
			}
			c, cancel := context.WithTimeout(ctx, 20*time.Second)
			err := nt.Exchange(c, i, j, fmt.Sprintf("after %d %d", i, j))
			cancel()
			if err != nil {
				failed++
				if failed <= 5 {
					t.Errorf("%v; path now: %s", err, nt.path(i, j))
					nt.dump(t, j)
				}
			}
		}
	}
}

// dump logs every node's routes to member j.
func (nt *Net) dump(t *testing.T, j int) {
	ctx := context.Background()
	sub := nt.Members[j].Key.Subnet()
	seq, _ := nt.Members[j].Node.Router().Seqno(ctx)
	m := nt.Members[j].Node.Router().Metrics()
	t.Logf("node %d: seqno %d bumps %d", j, seq, m.SeqnoBump.Load())
	for i, mb := range nt.Members {
		r := mb.Node.Router()
		sel, _ := r.SelectedRoutes(ctx)
		fb, _ := r.FallbackRoutes(ctx)
		var parts []string
		for _, x := range append(sel, fb...) {
			if x.Subnet == sub {
				parts = append(parts, fmt.Sprintf("%s sel=%v m=%v s=%d", x.NextHop, x.Selected, x.Metric, x.Seqno))
			}
		}
		rm := r.Metrics()
		t.Logf("node %d: %v  seqno-req fwd %d/%d unhandled %d reply %d", i, parts, rm.SeqnoForwardFeasible.Load(), rm.SeqnoForwardUnfeasible.Load(), rm.SeqnoUnhandled.Load(), rm.SeqnoReplyLocal.Load())
	}
}
