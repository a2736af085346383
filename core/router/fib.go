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
	// Prefix is the routed prefix (a /64 in practice; never shorter). The
	// update filters guarantee it lies inside the /64 derived from Key, so
	// a packet opened with Secret came from the holder of Key, whose only
	// addresses are in Prefix's /64 (architecture decision 3).
	Prefix netip.Prefix
	// Key is the public key the prefix is bound to (spec §4.5, §5.4): the
	// key of the router id that created the route list. Zero when Queried.
	Key identity.PublicKey
	// secret seals and opens traffic with Key's owner; nil when Queried.
	secret *secretCell
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

// Keyed reports whether the prefix's key is known (it has a route list).
func (f *Forward) Keyed() bool { return f != nil && f.secret != nil }

// Secret returns the sealing state shared with Key's owner, or nil when
// the key is not known. The X25519 was computed when the route list was
// created; the AES-GCM state (about 800 bytes) is built on first use, so
// the many routes a node learns but never uses cost only their 32-byte
// key. It is safe for concurrent use.
func (f *Forward) Secret() *identity.SharedSecret {
	if f == nil || f.secret == nil {
		return nil
	}
	return f.secret.get()
}

// secretCell holds a prefix's raw shared secret and, once used, its
// sealing state. All Forwards of a route list share one cell.
type secretCell struct {
	raw  [identity.KeySize]byte
	aead atomic.Pointer[identity.SharedSecret]
}

func (c *secretCell) get() *identity.SharedSecret {
	if s := c.aead.Load(); s != nil {
		return s
	}
	s, err := identity.NewSharedSecret(c.raw)
	if err != nil {
		return nil // cannot happen with a 32-byte key
	}
	if c.aead.CompareAndSwap(nil, s) {
		return s
	}
	return c.aead.Load()
}

// fibEntry is one slot of the open-addressing table: the upper 64 bits of
// a /64 (0 marks an empty slot; no overlay /64 starts with 0) and its
// current Forward (nil after the prefix was removed: a tombstone).
type fibEntry struct {
	key atomic.Uint64
	fwd atomic.Pointer[Forward]
}

// fibTable is an open-addressing hash table with linear probing. Readers
// only load; the single writer fills empty slots (key first, then
// Forward), swaps Forwards in place and replaces the whole table when it
// grows or has too many tombstones.
type fibTable struct {
	shift   uint
	mask    uint64
	entries []fibEntry
	used    int // slots with a key (live and tombstones); writer only
	live    int // writer only
}

const fibMinBits = 6

func newFibTable(bits uint) *fibTable {
	return &fibTable{shift: 64 - bits, mask: 1<<bits - 1, entries: make([]fibEntry, 1<<bits)}
}

func (t *fibTable) index(hi uint64) uint64 { return (hi * 0x9E3779B97F4A7C15) >> t.shift }

// find returns the slot holding hi, or nil.
func (t *fibTable) find(hi uint64) *fibEntry {
	for i := t.index(hi); ; i = (i + 1) & t.mask {
		e := &t.entries[i]
		switch e.key.Load() {
		case hi:
			return e
		case 0:
			return nil
		}
	}
}

// fib is the concurrent forwarding table. /64 prefixes live in one
// open-addressing table keyed by the upper 64 bits of the address, so a
// lookup touches one or two cache lines; longer prefixes (rare) live in a
// small per-length table searched first. Reads take no lock and allocate
// nothing; only the router goroutine writes.
type fib struct {
	tab  atomic.Pointer[fibTable]
	long atomic.Pointer[longTable]
	size atomic.Int64
}

// longTable holds prefixes longer than /64, one map per length.
type longTable struct {
	lens  []uint8 // lengths present, longest first
	byLen [64]map[[16]byte]*atomic.Pointer[Forward]
}

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
			if p := lt.byLen[l-65][maskTo(b, int(l))]; p != nil {
				return p.Load()
			}
		}
	}
	hi := binary.BigEndian.Uint64(b[:8])
	t := f.tab.Load()
	if t == nil || hi == 0 {
		return nil
	}
	if e := t.find(hi); e != nil {
		return e.fwd.Load()
	}
	return nil
}

func upper64(p netip.Prefix) uint64 { return binary.BigEndian.Uint64(p.Addr().AsSlice()[:8]) }

// set publishes fw for p, adding p when it is new. p must be masked and at
// least /64.
func (f *fib) set(p netip.Prefix, fw *Forward) {
	if p.Bits() > 64 {
		f.setLong(p, fw)
		return
	}
	hi := upper64(p)
	t := f.tab.Load()
	if t == nil {
		t = newFibTable(fibMinBits)
		f.tab.Store(t)
	}
	if e := t.find(hi); e != nil {
		if e.fwd.Load() == nil {
			t.live++
			f.size.Add(1)
		}
		e.fwd.Store(fw)
		return
	}
	if (t.used+1)*10 > len(t.entries)*7 {
		t = f.rebuild(t)
	}
	for i := t.index(hi); ; i = (i + 1) & t.mask {
		if e := &t.entries[i]; e.key.Load() == 0 {
			e.key.Store(hi)
			e.fwd.Store(fw)
			break
		}
	}
	t.used++
	t.live++
	f.size.Add(1)
}

// rebuild replaces t by a table sized for its live entries, without
// tombstones, and returns it.
func (f *fib) rebuild(t *fibTable) *fibTable {
	bits := uint(fibMinBits)
	for (t.live+1)*10 > (1<<bits)*5 {
		bits++
	}
	nt := newFibTable(bits)
	for i := range t.entries {
		e := &t.entries[i]
		fw := e.fwd.Load()
		if fw == nil {
			continue
		}
		hi := e.key.Load()
		for j := nt.index(hi); ; j = (j + 1) & nt.mask {
			if ne := &nt.entries[j]; ne.key.Load() == 0 {
				ne.key.Store(hi)
				ne.fwd.Store(fw)
				break
			}
		}
		nt.used++
		nt.live++
	}
	f.tab.Store(nt)
	return nt
}

// remove drops p from the table (a tombstone until the next rebuild).
func (f *fib) remove(p netip.Prefix) {
	if p.Bits() > 64 {
		f.setLong(p, nil)
		return
	}
	t := f.tab.Load()
	if t == nil {
		return
	}
	if e := t.find(upper64(p)); e != nil && e.fwd.Load() != nil {
		e.fwd.Store(nil)
		t.live--
		f.size.Add(-1)
	}
}

// setLong publishes (fw != nil) or removes (fw == nil) a prefix longer
// than /64. Adding or removing a prefix replaces the long table.
func (f *fib) setLong(p netip.Prefix, fw *Forward) {
	i := p.Bits() - 65
	key := p.Addr().As16()
	if old := f.long.Load(); old != nil && fw != nil {
		if ptr := old.byLen[i][key]; ptr != nil {
			ptr.Store(fw)
			return
		}
	}
	nt := &longTable{}
	if old := f.long.Load(); old != nil {
		*nt = *old
	}
	m := maps.Clone(nt.byLen[i])
	if fw != nil {
		if m == nil {
			m = make(map[[16]byte]*atomic.Pointer[Forward], 1)
		}
		ptr := &atomic.Pointer[Forward]{}
		ptr.Store(fw)
		m[key] = ptr
		f.size.Add(1)
	} else {
		if _, ok := m[key]; !ok {
			return
		}
		delete(m, key)
		f.size.Add(-1)
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
