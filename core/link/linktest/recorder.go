package linktest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/mycelium-go/mycelium/core/link"
)

// EventKind names a Handler call.
type EventKind int

// The Handler calls a Recorder records.
const (
	Up EventKind = iota + 1
	Down
	Control
	Data
)

func (k EventKind) String() string {
	switch k {
	case Up:
		return "up"
	case Down:
		return "down"
	case Control:
		return "control"
	case Data:
		return "data"
	}
	return fmt.Sprintf("event(%d)", int(k))
}

// Event is one recorded Handler call; a Data call records one Event per
// packet of the batch.
type Event struct {
	Kind EventKind
	Link link.Link
	Err  error  // Down only
	Pkt  []byte // a copy; Control and Data only
}

// Recorder is a link.Handler that records every call. The zero value is
// ready to use. It is safe for concurrent use.
type Recorder struct {
	// OnUp, if set, runs inside LinkUp, e.g. to send an Update as the
	// node does.
	OnUp func(link.Link)
	// CountData makes the Recorder count data packets instead of
	// recording them (for bulk transfers).
	CountData bool

	// DataPackets and DataBytes count delivered data packets and their
	// bytes (outer header excluded).
	DataPackets, DataBytes atomic.Uint64

	mu      sync.Mutex
	events  []Event
	changed chan struct{} // closed and replaced on every append
}

func (r *Recorder) add(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
	r.mu.Unlock()
}

// LinkUp implements link.Handler.
func (r *Recorder) LinkUp(l link.Link) {
	if r.OnUp != nil {
		r.OnUp(l)
	}
	r.add(Event{Kind: Up, Link: l})
}

// LinkDown implements link.Handler.
func (r *Recorder) LinkDown(l link.Link, err error) { r.add(Event{Kind: Down, Link: l, Err: err}) }

// HandleControl implements link.Handler.
func (r *Recorder) HandleControl(l link.Link, pkt []byte) {
	r.add(Event{Kind: Control, Link: l, Pkt: slices.Clone(pkt)})
}

// HandleData implements link.Handler.
func (r *Recorder) HandleData(l link.Link, pkts [][]byte) {
	for _, p := range pkts {
		r.DataPackets.Add(1)
		r.DataBytes.Add(uint64(len(p)))
		if !r.CountData {
			r.add(Event{Kind: Data, Link: l, Pkt: slices.Clone(p)})
		}
	}
}

// Events returns a copy of everything recorded so far.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Wait blocks until some recorded event (past or future) satisfies
// match, and returns the first one; it fails when ctx ends first.
func (r *Recorder) Wait(ctx context.Context, match func(Event) bool) (Event, error) {
	seen := 0
	for {
		r.mu.Lock()
		for ; seen < len(r.events); seen++ {
			if e := r.events[seen]; match(e) {
				r.mu.Unlock()
				return e, nil
			}
		}
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Event{}, fmt.Errorf("linktest: waiting for event: %w", context.Cause(ctx))
		}
	}
}

// WaitKind waits for the first event of kind k, on link l if l is not nil.
func (r *Recorder) WaitKind(ctx context.Context, k EventKind, l link.Link) (Event, error) {
	return r.Wait(ctx, func(e Event) bool { return e.Kind == k && (l == nil || e.Link == l) })
}

// Count returns how many recorded events satisfy match.
func (r *Recorder) Count(match func(Event) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if match(e) {
			n++
		}
	}
	return n
}

var _ link.Handler = (*Recorder)(nil)
