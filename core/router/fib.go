package router

import (
	"encoding/binary"
	"maps"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
)

// Forward is the forwarding state of one prefix at one moment: what the
// data plane needs for every packet. The router publishes a new Forward
// whenever the state changes and never modifies a published one, so the
// data plane may read it without locks.
type Forward struct {
	// Prefix is the routed prefix (a /64 in practice; never shorter).
	Prefix netip.Prefix
	// Key is the public key the prefix is bound to (spec §4.5, §5.4): the
	// key of the router id that created the route list. Zero when Queried.
	Key identity.PublicKey
	// Addr is the overlay address derived from Key. A packet opened with
	// Secret was sealed by the holder of Key, whose only addresses are in
	// Addr's /64 (architecture decision 3).
	Addr netip.Addr
	// Secret seals and opens traffic with Key's owner. Nil when Queried.
	Secret *identity.SharedSecret
	// NextHop is the neighbour of the selected route; nil when the prefix
	// has routes but none is selected, or is Queried.
	NextHop *Neighbour
	// Expires is when the selected route expires (zero without one).
	Expires time.Time
	// Queried is true while a route request for the prefix is in flight
	// and no route is known.
	Queried bool

	refreshed atomic.Bool // a pre-expiry refresh was requested
}

// Selected reports whether the prefix has a selected route.
func (f *Forward) Selected() bool { return f != nil && f.NextHop != nil }

const (
	fibShardBits = 12
	fibShards    = 1 << fibShardBits
)

// fibSlot holds the current Forward of one prefix. Slots are created once
// per prefix; state changes only swap the pointer inside.
type fibSlot struct{ fwd atomic.Pointer[Forward] }

// fib is the concurrent forwarding table: /64 prefixes live in shards
// keyed by the upper 64 bits of the address, each shard an immutable map
// replaced as a whole (copy on write) when a prefix is added or removed.
// Longer prefixes (rare) live in a small per-length table searched first.
// Reads take no lock and allocate nothing; only the router goroutine
// writes.
type fib struct {
	shards [fibShards]atomic.Pointer[map[uint64]*fibSlot]
	long   atomic.Pointer[longTable]
	size   atomic.Int64
}

// longTable holds prefixes longer than /64, one map per length.
type longTable struct {
	lens  []uint8 // lengths present, longest first
	byLen [64]map[[16]byte]*fibSlot
}

func shardOf(hi uint64) uint { return uint((hi * 0x9E3779B97F4A7C15) >> (64 - fibShardBits)) }

func maskTo(b [16]byte, bits int) [16]byte {
	for i := range b {
		switch {
		case bits >= 8:
			bits -= 8
		case bits > 0:
			b[i] &= ^byte(0xFF >> bits)
			bits = 0
		default:
			b[i] = 0
		}
	}
	return b
}

// lookup returns the Forward of the longest prefix containing a, or nil.
func (f *fib) lookup(a netip.Addr) *Forward {
	b := a.As16()
	if lt := f.long.Load(); lt != nil {
		for _, l := range lt.lens {
			if s := lt.byLen[l-65][maskTo(b, int(l))]; s != nil {
				return s.fwd.Load()
			}
		}
	}
	hi := binary.BigEndian.Uint64(b[:8])
	m := f.shards[shardOf(hi)].Load()
	if m == nil {
		return nil
	}
	if s := (*m)[hi]; s != nil {
		return s.fwd.Load()
	}
	return nil
}

// insert adds a slot for p holding fw. p must be masked and at least /64.
func (f *fib) insert(p netip.Prefix, fw *Forward) *fibSlot {
	s := &fibSlot{}
	s.fwd.Store(fw)
	f.size.Add(1)
	if p.Bits() > 64 {
		f.setLong(p, s)
		return s
	}
	hi := binary.BigEndian.Uint64(p.Addr().AsSlice()[:8])
	sh := &f.shards[shardOf(hi)]
	var m map[uint64]*fibSlot
	if old := sh.Load(); old != nil {
		m = make(map[uint64]*fibSlot, len(*old)+1)
		maps.Copy(m, *old)
	} else {
		m = make(map[uint64]*fibSlot, 1)
	}
	m[hi] = s
	sh.Store(&m)
	return s
}

// remove drops p from the table.
func (f *fib) remove(p netip.Prefix) {
	f.size.Add(-1)
	if p.Bits() > 64 {
		f.setLong(p, nil)
		return
	}
	hi := binary.BigEndian.Uint64(p.Addr().AsSlice()[:8])
	sh := &f.shards[shardOf(hi)]
	old := sh.Load()
	if old == nil {
		return
	}
	if len(*old) == 1 {
		sh.Store(nil)
		return
	}
	m := make(map[uint64]*fibSlot, len(*old)-1)
	for k, v := range *old {
		if k != hi {
			m[k] = v
		}
	}
	sh.Store(&m)
}

// setLong installs (s != nil) or removes (s == nil) a prefix longer than
// /64 by replacing the long table.
func (f *fib) setLong(p netip.Prefix, s *fibSlot) {
	nt := &longTable{}
	if old := f.long.Load(); old != nil {
		*nt = *old
	}
	i := p.Bits() - 65
	key := p.Addr().As16()
	m := maps.Clone(nt.byLen[i])
	if s != nil {
		if m == nil {
			m = make(map[[16]byte]*fibSlot, 1)
		}
		m[key] = s
	} else {
		delete(m, key)
		if len(m) == 0 {
			m = nil
		}
	}
	nt.byLen[i] = m
	nt.lens = nil
	for l := 63; l >= 0; l-- {
		if nt.byLen[l] != nil {
			nt.lens = append(nt.lens, uint8(l+65))
		}
	}
	if len(nt.lens) == 0 {
		f.long.Store(nil)
		return
	}
	nt.lens = slices.Clip(nt.lens)
	f.long.Store(nt)
}
