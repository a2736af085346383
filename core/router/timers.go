package router

import (
	"container/heap"
	"time"
)

// timer is one deadline in the router's timer heap: a route's expiry, a
// queried subnet's timeout, or (neither set) one of the router's own
// timers (a deferred seqno bump, deferred cost re-evaluations). It is
// embedded in what it belongs to, so a table of 100,000 routes needs no
// runtime timers and no extra goroutines.
type timer struct {
	at  time.Time
	idx int // position in the heap; -1 when not scheduled
	rt  *route
	e   *subnetEntry
}

// timerHeap is a min-heap of timers by deadline, owned by the router
// goroutine. One runtime timer tracks its earliest deadline.
type timerHeap []*timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.idx = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.idx = -1
	return t
}

// schedule sets t to fire at at, adding it to the heap or moving it.
func (h *timerHeap) schedule(t *timer, at time.Time) {
	t.at = at
	if t.idx >= 0 && t.idx < len(*h) && (*h)[t.idx] == t {
		heap.Fix(h, t.idx)
		return
	}
	heap.Push(h, t)
}

// cancel removes t from the heap if it is scheduled.
func (h *timerHeap) cancel(t *timer) {
	if t.idx >= 0 && t.idx < len(*h) && (*h)[t.idx] == t {
		heap.Remove(h, t.idx)
	}
	t.idx = -1
}

// popDue removes and returns the earliest timer if it is due at now.
func (h *timerHeap) popDue(now time.Time) *timer {
	if len(*h) == 0 || (*h)[0].at.After(now) {
		return nil
	}
	return heap.Pop(h).(*timer)
}

// next returns the earliest deadline.
func (h timerHeap) next() (time.Time, bool) {
	if len(h) == 0 {
		return time.Time{}, false
	}
	return h[0].at, true
}
