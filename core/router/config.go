package router

import (
	"errors"
	"fmt"
	"time"
)

// Config holds the router's timers and limits. Zero fields are not valid;
// start from Default and change what you need.
type Config struct {
	// HelloInterval is how often a Hello goes to every neighbour. The
	// reference sends one every 20 s; we send them much more often so a
	// silent link is noticed quickly (see the package doc). The reference
	// answers every Hello with an IHU and ignores the interval field.
	HelloInterval time.Duration
	// DeadInterval is how long a neighbour may stay silent (no IHU and no
	// byte at all on the link) before it is declared dead. The reference
	// uses 43 s.
	DeadInterval time.Duration
	// DeadCheckInterval is how often neighbours are checked for silence.
	DeadCheckInterval time.Duration
	// UpdateInterval is the interval we put in our Updates and the period of
	// the own-subnet announcement (reference: 300 s). Routes we learn are
	// held for 3.5 times the interval their Update carried.
	UpdateInterval time.Duration
	// RetractedHold is how long a retracted route stays in the table
	// (reference: 6 s).
	RetractedHold time.Duration
	// QueryTimeout is how long a route request stays in flight before the
	// subnet is given up (reference: 15 s).
	QueryTimeout time.Duration
	// RefreshThreshold: forwarding on a selected route that expires sooner
	// than this sends a route request to refresh it (reference: 15 s).
	RefreshThreshold time.Duration
	// SeqnoBumpInterval is the minimum time between two increments of our
	// own seqno (reference: 4 s).
	SeqnoBumpInterval time.Duration
	// SeqnoCacheTTL is how long a sent seqno request is remembered, with
	// the neighbours that asked for it (reference: 60 s).
	SeqnoCacheTTL time.Duration
	// SeqnoRetry is how long a seqno request we forwarded suppresses the
	// same request (reference: the whole SeqnoCacheTTL, 60 s). A request
	// that got lost on a link that went down can be retried after this.
	SeqnoRetry time.Duration
	// RouteRequestTTL is how long a sent route request suppresses
	// duplicates to the same neighbours (reference: 15 s).
	RouteRequestTTL time.Duration
	// RouteRequestRetry is how long a route request we originated keeps us
	// from asking the same neighbours again (the reference uses
	// RouteRequestTTL). The data plane asks again at most once a second
	// while packets wait, and what an earlier request found may be gone.
	RouteRequestRetry time.Duration
	// SweepInterval is how often the route request cache is swept
	// (reference: 5 s).
	SweepInterval time.Duration
	// SourceGC is how long a source table entry lives after its last
	// refresh (reference: 30 min).
	SourceGC time.Duration
	// InitialLinkCost is the smoothed RTT part of a new link's cost before
	// any IHU arrived (reference: 1000). The first RTT sample replaces it.
	InitialLinkCost uint16
	// CostInterval is the minimum time between two re-evaluations of the
	// routes through one neighbour after its cost moved by more than the
	// route selection hysteresis (the reference never re-evaluates on a
	// cost change; see linkcost.go).
	CostInterval time.Duration
	// MaxQueries bounds the subnets with a route request in flight
	// (ours and forwarded ones); requests beyond it are dropped, so a
	// flood of requests for made-up subnets cannot grow the table.
	MaxQueries int
	// EventQueue is the capacity of the router's input queue. When it is
	// full, Updates with a metric other than 0 and seqno requests are
	// dropped, as the reference does; other input waits.
	EventQueue int
}

// Default returns the reference's timer values (spec §4.2), except for
// HelloInterval, DeadInterval and DeadCheckInterval which implement the
// fast failover.
func Default() Config {
	return Config{
		HelloInterval:     500 * time.Millisecond,
		DeadInterval:      1500 * time.Millisecond,
		DeadCheckInterval: 100 * time.Millisecond,
		UpdateInterval:    300 * time.Second,
		RetractedHold:     6 * time.Second,
		QueryTimeout:      15 * time.Second,
		RefreshThreshold:  15 * time.Second,
		SeqnoBumpInterval: 4 * time.Second,
		SeqnoCacheTTL:     60 * time.Second,
		SeqnoRetry:        4 * time.Second,
		RouteRequestTTL:   15 * time.Second,
		RouteRequestRetry: 2 * time.Second,
		SweepInterval:     5 * time.Second,
		SourceGC:          30 * time.Minute,
		InitialLinkCost:   1000,
		CostInterval:      time.Second,
		MaxQueries:        10_000,
		EventQueue:        1024,
	}
}

// ErrConfig is wrapped by every validation error.
var ErrConfig = errors.New("router: invalid config")

// Validate checks that every timer is positive and that the dead interval
// leaves room for at least two missed Hellos.
func (c *Config) Validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"HelloInterval", c.HelloInterval},
		{"DeadInterval", c.DeadInterval},
		{"DeadCheckInterval", c.DeadCheckInterval},
		{"UpdateInterval", c.UpdateInterval},
		{"RetractedHold", c.RetractedHold},
		{"QueryTimeout", c.QueryTimeout},
		{"RefreshThreshold", c.RefreshThreshold},
		{"SeqnoBumpInterval", c.SeqnoBumpInterval},
		{"SeqnoCacheTTL", c.SeqnoCacheTTL},
		{"SeqnoRetry", c.SeqnoRetry},
		{"RouteRequestTTL", c.RouteRequestTTL},
		{"RouteRequestRetry", c.RouteRequestRetry},
		{"SweepInterval", c.SweepInterval},
		{"SourceGC", c.SourceGC},
		{"CostInterval", c.CostInterval},
	} {
		if d.v <= 0 {
			return fmt.Errorf("%w: %s must be positive", ErrConfig, d.name)
		}
	}
	if c.DeadInterval < 2*c.HelloInterval {
		return fmt.Errorf("%w: DeadInterval %v must be at least two HelloIntervals (%v)", ErrConfig, c.DeadInterval, c.HelloInterval)
	}
	if c.UpdateInterval > 655*time.Second {
		return fmt.Errorf("%w: UpdateInterval %v does not fit the 16-bit centisecond field", ErrConfig, c.UpdateInterval)
	}
	if c.MaxQueries < 1 {
		return fmt.Errorf("%w: MaxQueries must be at least 1", ErrConfig)
	}
	if c.EventQueue < 1 {
		return fmt.Errorf("%w: EventQueue must be at least 1", ErrConfig)
	}
	return nil
}

// centis converts d to the centisecond interval fields of the wire format.
func centis(d time.Duration) uint16 {
	cs := d / (10 * time.Millisecond)
	switch {
	case cs > 0xFFFF:
		return 0xFFFF
	case cs < 1:
		return 1
	}
	return uint16(cs)
}
