package nodetest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// stream sends numbered UDP packets from one member to another and records
// when each was sent and when it arrived.
type stream struct {
	mu   sync.Mutex
	sent []time.Time
	recv map[int]time.Time
}

func (s *stream) run(ctx context.Context, t *testing.T, nt *Net, from, to int, every time.Duration) {
	nt.Members[to].Tap(func(pkt []byte) {
		p, ok := Parse(pkt)
		if !ok || !strings.HasPrefix(string(p.UDPPayload), "seq ") {
			return
		}
		n, _ := strconv.Atoi(string(p.UDPPayload[4:]))
		s.mu.Lock()
		if _, dup := s.recv[n]; !dup {
			s.recv[n] = time.Now()
		}
		s.mu.Unlock()
	})
	tick := time.NewTicker(every)
	defer tick.Stop()
	for seq := 0; ; seq++ {
		s.mu.Lock()
		s.sent = append(s.sent, time.Now())
		s.mu.Unlock()
		if err := nt.Members[from].SendUDP(ctx, nt.Members[to].Address(), fmt.Appendf(nil, "seq %d", seq)); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// arrivedSince reports whether a packet sent after t arrived.
func (s *stream) arrivedSince(t time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.sent) - 1; i >= 0 && s.sent[i].After(t); i-- {
		if _, ok := s.recv[i]; ok {
			return true
		}
	}
	return false
}

// outage returns the failover time: from the send time of the first lost
// packet to the arrival of the first packet after it. Without losses it is
// the longest gap between arrivals.
func (s *stream) outage(t *testing.T) (time.Duration, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Packets sent in the last moments may still be on their way.
	settled := len(s.sent)
	for settled > 0 && s.sent[len(s.sent)-1].Sub(s.sent[settled-1]) < 200*time.Millisecond {
		settled--
	}
	lost := 0
	first := -1
	for i := range settled {
		if _, ok := s.recv[i]; !ok {
			lost++
			if first < 0 {
				first = i
			}
		}
	}
	if first >= 0 {
		for i := first + 1; i < len(s.sent); i++ {
			if at, ok := s.recv[i]; ok {
				return at.Sub(s.sent[first]), lost
			}
		}
		t.Fatalf("nothing arrived after packet %d was lost", first)
	}
	var longest time.Duration
	for i := 1; i < settled; i++ {
		if d := s.recv[i].Sub(s.recv[i-1]); d > longest {
			longest = d
		}
	}
	return longest, 0
}

// testRingFailover builds a ring of six nodes, streams packets from node 0
// to node to, breaks the first link on the path and measures how long
// traffic takes to flow the other way round. Towards the opposite node 3
// the other way is a feasible fallback; towards node 2 it is longer than
// what node 0 advertised, so Babel's feasibility needs a new seqno from
// node 2 first.
func testRingFailover(t *testing.T, silent bool, to int, bound time.Duration) {
	t.Parallel()
	nt := New(t, 6, Options{})
	nt.Ring()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := nt.WaitLinks(ctx); err != nil {
		t.Fatal(err)
	}
	// Prime the routes: every node talks to every other once, so each node
	// learns every subnet (and the floods leave fallback routes behind).
	for i := range nt.Members {
		for j := range nt.Members {
			if i != j {
				if err := nt.Exchange(ctx, i, j, fmt.Sprintf("prime %d %d", i, j)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	dst := nt.Members[to].Address()
	fw := nt.Members[0].Node.Router().Lookup(dst)
	if !fw.Selected() {
		t.Fatalf("no route from 0 to %d after priming", to)
	}
	before := fw.NextHop.Link()
	next := 1
	if before.String() == "MEM n0 <-> n5" {
		next = 5
	}
	fbs, _ := nt.Members[0].Node.Router().FallbackRoutes(ctx)
	t.Logf("0 -> %d via %s, %d fallback routes at node 0", to, before, len(fbs))

	var s stream
	s.recv = make(map[int]time.Time)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.run(sctx, t, nt, 0, to, 5*time.Millisecond)
	}()
	time.Sleep(300 * time.Millisecond)
	broken := nt.Pair(0, next)
	if silent {
		broken.Blackhole()
	} else {
		broken.Cut()
	}
	// Stream until a packet sent after node 0 switched its route arrived
	// (then a little longer), or for the bound and a second.
	deadline := time.Now().Add(bound + time.Second)
	var switched time.Time
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		fw := nt.Members[0].Node.Router().Lookup(dst)
		if switched.IsZero() && fw.Selected() && fw.NextHop.Link() != before {
			switched = time.Now()
		}
		if !switched.IsZero() && s.arrivedSince(switched) {
			time.Sleep(300 * time.Millisecond)
			break
		}
	}
	stop()
	<-done
	nt.Members[to].Tap(nil)

	after := nt.Members[0].Node.Router().Lookup(dst)
	if !after.Selected() || after.NextHop.Link() == before {
		t.Fatalf("traffic did not move: route %+v", after)
	}
	took, lost := s.outage(t)
	mode := "clean cut"
	if silent {
		mode = "silent blackhole"
	}
	t.Logf("%s: failover %v (%d packets lost of %d; link broken at +300ms)", mode, took.Round(time.Millisecond), lost, len(s.sent))
	if took >= bound {
		t.Errorf("%s: failover took %v, want < %v", mode, took, bound)
	}
	if silent && !broken.Down() {
		t.Error("blackholed link was not closed by the dead-peer detection")
	}
}

// The fallback is feasible: traffic moves within 2 s.
func TestRingFailoverCleanCut(t *testing.T) { testRingFailover(t, false, 3, 2*time.Second) }

func TestRingFailoverSilent(t *testing.T) { testRingFailover(t, true, 3, 2*time.Second) }

// The fallback needs a new seqno from the destination, which may have
// bumped within the last 4 s (its rate limit): allow for that.
func TestRingFailoverUnfeasibleCleanCut(t *testing.T) {
	testRingFailover(t, false, 2, 6*time.Second)
}

func TestRingFailoverUnfeasibleSilent(t *testing.T) {
	testRingFailover(t, true, 2, 6*time.Second)
}
