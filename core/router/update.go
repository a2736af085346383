package router

import (
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/wire"
)

// allowUpdate applies the update filters of spec §4.5: the prefix lies in
// 400::/7 and is at least a /64, and unless the update is a retraction the
// prefix contains the address derived from the router id's public key
// (the binding that makes the route's key trustworthy).
func allowUpdate(u *wire.Update) bool {
	p := u.Prefix
	if !p.IsValid() || !p.Addr().Is6() || p.Bits() < identity.SubnetBits || !identity.InOverlay(p.Addr()) {
		return false
	}
	if u.Metric.IsInfinite() {
		return true
	}
	return p.Contains(identity.AddressOf(u.RouterID.PublicKey()))
}

// handleUpdate processes an Update from nb exactly as spec §4.7.
func (r *Router) handleUpdate(nb *Neighbour, u *wire.Update, now time.Time) {
	if !allowUpdate(u) {
		r.m.UpdateDenied.Add(1)
		return
	}
	if u.Prefix == r.subnet {
		return // our own subnet
	}
	src := sourceKey{u.Prefix, u.RouterID}
	feasible := r.sources.feasible(src, u.Seqno, u.Metric)
	e := r.table[u.Prefix]
	if e == nil || !e.hasRoutes() {
		if !feasible || u.Metric.IsInfinite() {
			r.log.Debug("update ignored", "subnet", u.Prefix, "seqno", u.Seqno, "metric", u.Metric, "feasible", feasible, "peer", nb.link.String())
			if !feasible {
				r.requestSeqno(src, nb, nil)
			}
			r.m.NotInterested.Add(1)
			return
		}
		if e = r.makeRouteList(u.Prefix, e, u.RouterID.PublicKey()); e == nil {
			return
		}
	}
	old := e.selected
	var oldRID wire.RouterID
	var oldMetric wire.Metric
	if old != nil {
		oldRID, oldMetric = old.rid, old.metric
	}
	if !r.applyUpdate(e, nb, u, feasible, now) {
		r.m.UpdateSkippedSelection.Add(1)
		return
	}
	r.m.RouteSelections.Add(1)
	key := seqnoKey{u.RouterID, u.Prefix, u.Seqno}
	if best := r.bestRoute(e); best != nil {
		r.selectRoute(e, r.satisfying(e, nb, best, key))
	} else if old != nil {
		r.requestSeqno(sourceKey{e.prefix, oldRID}, nil, nil)
		r.selectRoute(e, nil)
	}
	if sel := e.selected; bigChange(old != nil, oldRID, oldMetric, sel) {
		r.seqnos.take(key) // the flood reaches whoever asked
		r.triggerUpdate(e.prefix, nil)
	} else if interested := r.seqnos.take(key); len(interested) > 0 {
		r.triggerUpdate(e.prefix, interested)
	}
}

// satisfying returns the route to select: best, unless neighbours asked us
// for exactly this update (a seqno request we forwarded) and it arrived on
// a route other than best from the same origin. Then that route is taken
// despite the hysteresis: answering the askers with the old seqno of best
// would not satisfy them, and advertising a route we do not use could loop.
func (r *Router) satisfying(e *subnetEntry, nb *Neighbour, best *route, key seqnoKey) *route {
	if len(r.seqnos.sources(key)) == 0 || best.rid != key.rid || !best.seqno.Less(key.seqno) {
		return best
	}
	rt := e.routeFrom(nb)
	if rt == nil || rt.retracted() || rt.rid != key.rid || rt.seqno != key.seqno ||
		!r.sources.feasible(rt.source(), rt.seqno, rt.metric) {
		return best
	}
	return rt
}

// bigChange decides a triggered update (spec §4.7 step 5): the route was
// acquired or lost, its router id changed, or its metric moved by more
// than 10.
func bigChange(hadOld bool, oldRID wire.RouterID, oldMetric wire.Metric, sel *route) bool {
	switch {
	case !hadOld:
		return sel != nil
	case sel == nil:
		return true
	case sel.rid != oldRID:
		return true
	}
	d := int(sel.metric) - int(oldMetric)
	return d > bigMetricChange || d < -bigMetricChange
}

// applyUpdate is step 3 of spec §4.7. It reports whether route selection
// must run.
func (r *Router) applyUpdate(e *subnetEntry, nb *Neighbour, u *wire.Update, feasible bool, now time.Time) bool {
	rt := e.routeFrom(nb)
	if rt == nil {
		if u.Metric.IsInfinite() || !feasible {
			if !feasible && e.selected == nil {
				r.requestSeqno(sourceKey{u.Prefix, u.RouterID}, nb, nil)
			}
			r.m.NotInterested.Add(1)
			return false
		}
		r.addRoute(e, nb, u, r.holdTime(u), now)
		return true
	}
	if rt.selected && !feasible && rt.rid == u.RouterID {
		r.requestSeqno(rt.source(), nb, nil)
		return false
	}
	if rt.retracted() && u.Metric.IsInfinite() {
		return false
	}
	rt.seqno, rt.metric, rt.rid = u.Seqno, u.Metric, u.RouterID
	if feasible {
		r.setExpiry(rt, now.Add(r.holdTime(u)))
	}
	if !feasible {
		if !rt.selected {
			return false
		}
		r.selectRoute(e, nil)
	}
	return true
}
