package router

import (
	"slices"
	"time"

	"github.com/mycelium-go/mycelium/core/wire"
)

// fireTimers handles every timer due at now.
func (r *Router) fireTimers(now time.Time) {
	for t := r.timers.popDue(now); t != nil; t = r.timers.popDue(now) {
		switch {
		case t.rt != nil:
			r.routeExpired(t.rt, now)
		case t.e != nil:
			r.queryExpired(t.e)
		case t == &r.bumpTm:
			r.bumpSeqno(now)
		case t == &r.costTm:
			r.costDue(now)
		}
	}
}

// routeExpired implements spec §4.12: an unselected entry goes away; a
// selected one is retracted, held for RetractedHold, and selection runs
// again with a triggered update.
func (r *Router) routeExpired(rt *route, now time.Time) {
	if !rt.selected {
		r.m.ExpiredRemoved.Add(1)
		r.removeRoute(rt)
		return
	}
	r.m.ExpiredRetracted.Add(1)
	r.m.SelectedRouteExpired.Add(1)
	rt.metric = wire.MetricInfinite
	r.setExpiry(rt, now.Add(r.cfg.RetractedHold))
	r.reselect(rt.e, false)
}

// queryExpired gives up a route request that got no answer.
func (r *Router) queryExpired(e *subnetEntry) {
	if !e.queried || e.hasRoutes() {
		return
	}
	r.log.Debug("route query timed out", "subnet", e.prefix)
	r.deleteEntry(e)
	r.notify(e.prefix, EventQueryTimeout)
}

// removePeer drops nb and fails over its routes (spec §4.13): unselected
// entries through it go away; selected ones are retracted and selection
// runs at once, so a feasible fallback takes over with a triggered update.
func (r *Router) removePeer(nb *Neighbour) {
	i := slices.Index(r.peers, nb)
	if i < 0 {
		return
	}
	r.peers = slices.Delete(r.peers, i, i+1)
	nb.dead.Store(true)
	r.m.PeerRemoved.Add(1)
	r.log.Debug("peer removed", "peer", nb.link.String())
	now := time.Now()
	var reselect []*subnetEntry
	for rt := nb.routes; rt != nil; {
		next := rt.nbNext // removing rt never removes another route through nb
		if rt.selected {
			rt.metric = wire.MetricInfinite
			r.setExpiry(rt, now.Add(r.cfg.RetractedHold))
			reselect = append(reselect, rt.e)
		} else {
			r.removeRoute(rt)
		}
		rt = next
	}
	for _, e := range reselect {
		r.reselect(e, true)
	}
}

// reselect runs route selection for e after its selected route went bad
// and sends a triggered update (a retraction when nothing is left). With
// seqnoOnLoss, losing the route also sends a seqno request to the
// remaining announcers.
func (r *Router) reselect(e *subnetEntry, seqnoOnLoss bool) {
	r.m.RouteSelections.Add(1)
	old := e.selected
	best := r.bestRoute(e)
	switch {
	case best != nil && best == old:
		return
	case best != nil:
		r.selectRoute(e, best)
	case old != nil:
		if seqnoOnLoss {
			r.requestSeqno(old.source(), nil, nil)
		}
		r.selectRoute(e, nil)
	}
	r.triggerUpdate(e.prefix, nil)
}

// bestRoute implements spec §4.8: the feasible finite route with the least
// metric plus link cost, keeping the current one unless the best is
// better by more than 10 or directly connected (metric 0).
func (r *Router) bestRoute(e *subnetEntry) *route {
	var best *route
	var bestTotal wire.Metric
	cur := e.selected
	consider := func(rt *route) {
		if rt.retracted() || !r.sources.feasible(rt.source(), rt.seqno, rt.metric) {
			return
		}
		if t := rt.total(); best == nil || t < bestTotal {
			best, bestTotal = rt, t
		}
	}
	if cur != nil {
		consider(cur) // ties keep the current route
	}
	for _, rt := range e.routes {
		if rt != cur {
			consider(rt)
		}
	}
	if best == nil || cur == nil || best == cur {
		return best
	}
	if bestTotal < cur.total().Sub(significantImprovement) || best.metric == 0 {
		return best
	}
	return cur
}

// Reference constants (spec §4.2).
const (
	significantImprovement wire.Metric = 10
	bigMetricChange                    = 10
	maxRRGeneration                    = 16
)
