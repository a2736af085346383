package router

import (
	"net/netip"
	"slices"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/wire"
)

// route is one route entry: what neighbour nb announced for a prefix.
// There is at most one entry per neighbour per prefix.
type route struct {
	e        *subnetEntry
	nb       *Neighbour
	rid      wire.RouterID
	metric   wire.Metric // as received
	seqno    wire.SeqNo
	selected bool
	tm       timer // expiry

	// nbPrev and nbNext link the routes through nb (see Neighbour.routes).
	nbPrev, nbNext *route
}

func (rt *route) source() sourceKey       { return sourceKey{rt.e.prefix, rt.rid} }
func (rt *route) expires() time.Time      { return rt.tm.at }
func (rt *route) total() wire.Metric      { return rt.metric.Add(rt.nb.Cost()) }
func (rt *route) retracted() bool         { return rt.metric.IsInfinite() }
func (rt *route) key() identity.PublicKey { return rt.rid.PublicKey() }

// subnetEntry is one prefix in the routing table: either Queried (a route
// request is in flight, no routes) or a route list with the prefix's key
// and shared secret.
type subnetEntry struct {
	prefix   netip.Prefix
	key      identity.PublicKey
	secret   *secretCell
	routes   []*route
	selected *route
	queried  bool
	tm       timer // query timeout

	pub     *Forward // last published Forward
	dirty   bool
	deleted bool
}

func (e *subnetEntry) hasRoutes() bool { return e.secret != nil }

func (e *subnetEntry) routeFrom(nb *Neighbour) *route {
	for _, rt := range e.routes {
		if rt.nb == nb {
			return rt
		}
	}
	return nil
}

// Event tells the Observer how a prefix's forwarding state changed.
type Event uint8

// Events, in the order they can happen to a prefix.
const (
	// EventKey: the prefix has a route list now, so its key and shared
	// secret are known (packets parked for the sender key can be opened).
	EventKey Event = iota + 1
	// EventSelected: the prefix has a selected route now (queued outbound
	// packets can be sent).
	EventSelected
	// EventLost: the prefix lost its selected route.
	EventLost
	// EventQueryTimeout: a route request for the prefix got no answer.
	EventQueryTimeout
)

func (e Event) String() string {
	switch e {
	case EventKey:
		return "key"
	case EventSelected:
		return "selected"
	case EventLost:
		return "lost"
	case EventQueryTimeout:
		return "query-timeout"
	}
	return "unknown"
}

// Observer learns about forwarding changes. RouteEvent is called from the
// router goroutine and must not block or call back into the Router
// synchronously (Lookup is fine).
type Observer interface {
	RouteEvent(prefix netip.Prefix, ev Event)
}

// markDirty schedules e for publication to the forwarding table at the end
// of the current event.
func (r *Router) markDirty(e *subnetEntry) {
	if !e.dirty && !e.deleted {
		e.dirty = true
		r.dirty = append(r.dirty, e)
	}
}

// flush publishes every changed entry.
func (r *Router) flush() {
	for _, e := range r.dirty {
		e.dirty = false
		if !e.deleted {
			r.publish(e)
		}
	}
	clear(r.dirty)
	r.dirty = r.dirty[:0]
}

// publish builds e's Forward, installs it and reports what changed.
func (r *Router) publish(e *subnetEntry) {
	fw := &Forward{Prefix: e.prefix, Queried: e.queried && !e.hasRoutes()}
	if e.hasRoutes() {
		fw.Key, fw.secret = e.key, e.secret
	}
	if sel := e.selected; sel != nil {
		fw.NextHop, fw.Expires = sel.nb, sel.expires()
	}
	old := e.pub
	if old != nil && old.Key == fw.Key && old.secret == fw.secret && old.NextHop == fw.NextHop &&
		old.Expires.Equal(fw.Expires) && old.Queried == fw.Queried {
		return
	}
	r.fib.set(e.prefix, fw)
	e.pub = fw
	if !old.Keyed() && fw.Keyed() {
		r.notify(e.prefix, EventKey)
	}
	if !old.Selected() && fw.Selected() {
		r.notify(e.prefix, EventSelected)
	}
	if old.Selected() && !fw.Selected() {
		r.notify(e.prefix, EventLost)
	}
}

func (r *Router) notify(p netip.Prefix, ev Event) {
	if r.obs != nil {
		r.obs.RouteEvent(p, ev)
	}
}

// entry returns the table entry for exactly p.
func (r *Router) entry(p netip.Prefix) *subnetEntry { return r.table[p] }

// newEntry adds an empty entry for p.
func (r *Router) newEntry(p netip.Prefix) *subnetEntry {
	e := &subnetEntry{prefix: p}
	e.tm = timer{idx: -1, e: e}
	r.table[p] = e
	r.markDirty(e)
	return e
}

// deleteEntry removes e from the table and the forwarding table at once.
func (r *Router) deleteEntry(e *subnetEntry) {
	r.timers.cancel(&e.tm)
	for _, rt := range e.routes {
		r.timers.cancel(&rt.tm)
		rt.nb.unindexRoute(rt)
	}
	e.routes = nil
	delete(r.table, e.prefix)
	e.deleted = true
	if e.queried {
		e.queried = false
		r.queries--
	}
	if old := e.pub; old != nil {
		r.fib.remove(e.prefix)
		e.pub = nil
		if old.Selected() {
			r.notify(e.prefix, EventLost)
		}
	}
}

// makeRouteList turns e (nil, or a Queried entry) into a route list bound
// to pub. It returns nil when pub cannot be used (low-order key).
func (r *Router) makeRouteList(p netip.Prefix, e *subnetEntry, pub identity.PublicKey) *subnetEntry {
	raw, err := r.secretFor(pub)
	if err != nil {
		r.log.Debug("refusing update with unusable key", "subnet", p, "err", err)
		r.m.UpdateDenied.Add(1)
		return nil
	}
	if e == nil {
		e = r.newEntry(p)
	}
	r.timers.cancel(&e.tm)
	if e.queried {
		e.queried = false
		r.queries--
	}
	e.key, e.secret = pub, &secretCell{raw: raw}
	r.markDirty(e)
	return e
}

// addRoute inserts a new, unselected entry from nb.
func (r *Router) addRoute(e *subnetEntry, nb *Neighbour, u *wire.Update, hold time.Duration, now time.Time) *route {
	rt := &route{e: e, nb: nb, rid: u.RouterID, metric: u.Metric, seqno: u.Seqno}
	rt.tm = timer{idx: -1, rt: rt}
	r.timers.schedule(&rt.tm, now.Add(hold))
	e.routes = append(e.routes, rt)
	nb.indexRoute(rt)
	r.markDirty(e)
	return rt
}

// removeRoute drops rt from its entry, and the entry when it is empty.
func (r *Router) removeRoute(rt *route) {
	e := rt.e
	r.timers.cancel(&rt.tm)
	if i := slices.Index(e.routes, rt); i >= 0 {
		e.routes = slices.Delete(e.routes, i, i+1)
		rt.nb.unindexRoute(rt)
	}
	if e.selected == rt {
		e.selected = nil
		rt.selected = false
	}
	r.markDirty(e)
	if len(e.routes) == 0 && !e.queried {
		r.deleteEntry(e)
	}
}

// setExpiry reschedules rt's expiry.
func (r *Router) setExpiry(rt *route, at time.Time) {
	r.timers.schedule(&rt.tm, at)
	if rt.selected {
		r.markDirty(rt.e)
	}
}

// selectRoute makes rt (nil: none) the selected route of e.
func (r *Router) selectRoute(e *subnetEntry, rt *route) {
	if e.selected == rt {
		return
	}
	if e.selected != nil {
		e.selected.selected = false
	}
	e.selected = rt
	if rt != nil {
		rt.selected = true
	}
	r.markDirty(e)
}

// holdTime is how long a route from u is kept: 3.5 times the interval, or
// RetractedHold for a retraction (spec §4.12).
func (r *Router) holdTime(u *wire.Update) time.Duration {
	if u.Metric.IsInfinite() {
		return r.cfg.RetractedHold
	}
	return time.Duration(u.Interval) * 10 * time.Millisecond * 7 / 2
}
