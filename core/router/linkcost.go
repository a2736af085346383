package router

import (
	"time"

	"github.com/mycelium-go/mycelium/core/wire"
)

// Link cost changes (spec §2.8, §4.8).
//
// The reference runs route selection only when an Update arrives, so a
// neighbour whose link got faster (or a new link, whose cost starts at
// 1000) is not used until the next Update about each subnet, which may be
// 300 s or more away; traffic does not come back to a restored direct
// link. We also run route selection when a neighbour's cost changes:
//
//   - The link's reader (HandleTLV, IHU) compares the new cost with the
//     cost at the last re-evaluation and posts an evCost only when it moved
//     by more than the hysteresis (10), and only one at a time
//     (Neighbour.costMoved). A cost jittering by a few ms costs nothing.
//   - The router goroutine re-evaluates one neighbour at most once per
//     CostInterval; a change inside the interval is deferred to its end
//     (costTm), so a link whose cost keeps moving costs one walk per
//     interval.
//   - A re-evaluation walks only the routes through that neighbour (an
//     intrusive list, two pointers per route) and reruns selection, with
//     the reference's hysteresis, for each subnet that has a selected
//     route: the neighbour's route may now beat the selected one, or the
//     selected one through it may now lose. A change of selection sends a
//     triggered update exactly as for an Update (spec §4.7 step 5).
//   - When the cost went down, a selected route through the neighbour whose
//     metric is now lower by more than 10 than the lowest we advertised for
//     its seqno is advertised again (improved). Without this, the metrics
//     a new link advertised during its first RTT (cost 1000) stayed in the
//     network and steered neighbours onto longer paths.
//
// On the wire these are ordinary Updates; the reference sends the same
// ones when its selection changes.

// indexRoute adds rt to the routes through n.
func (n *Neighbour) indexRoute(rt *route) {
	rt.nbPrev, rt.nbNext = nil, n.routes
	if n.routes != nil {
		n.routes.nbPrev = rt
	}
	n.routes = rt
}

// unindexRoute removes rt from the routes through n; it does nothing when
// rt is not in the list.
func (n *Neighbour) unindexRoute(rt *route) {
	switch {
	case rt.nbPrev != nil:
		rt.nbPrev.nbNext = rt.nbNext
	case n.routes == rt:
		n.routes = rt.nbNext
	default:
		return
	}
	if rt.nbNext != nil {
		rt.nbNext.nbPrev = rt.nbPrev
	}
	rt.nbPrev, rt.nbNext = nil, nil
}

// costChanged handles evCost: nb's cost moved by more than the hysteresis.
// The routes through nb are re-evaluated now, or when CostInterval has
// passed since their last re-evaluation.
func (r *Router) costChanged(nb *Neighbour, now time.Time) {
	if nb.dead.Load() {
		nb.evalQueued.Store(false)
		return
	}
	if wait := nb.lastEval.Add(r.cfg.CostInterval); now.Before(wait) {
		r.costWait = append(r.costWait, nb)
		if r.costTm.idx < 0 || wait.Before(r.costTm.at) {
			r.timers.schedule(&r.costTm, wait)
		}
		return
	}
	r.reevaluate(nb, now)
}

// costDue runs the deferred re-evaluations that are due and schedules
// costTm for the next one.
func (r *Router) costDue(now time.Time) {
	var next time.Time
	keep := r.costWait[:0]
	for _, nb := range r.costWait {
		switch wait := nb.lastEval.Add(r.cfg.CostInterval); {
		case nb.dead.Load():
			nb.evalQueued.Store(false)
		case !now.Before(wait):
			r.reevaluate(nb, now)
		default:
			keep = append(keep, nb)
			if next.IsZero() || wait.Before(next) {
				next = wait
			}
		}
	}
	clear(r.costWait[len(keep):])
	r.costWait = keep
	if !next.IsZero() {
		r.timers.schedule(&r.costTm, next)
	}
}

// reevaluate reruns route selection for every subnet with a route through
// nb, at nb's current cost.
func (r *Router) reevaluate(nb *Neighbour, now time.Time) {
	cost := nb.Cost()
	cheaper := uint32(cost) < nb.evalCost.Load()
	nb.lastEval = now
	nb.evalCost.Store(uint32(cost))
	nb.evalQueued.Store(false) // later IHUs compare with cost
	r.reevaluations++
	switched, announced := 0, 0
	for rt := nb.routes; rt != nil; rt = rt.nbNext {
		sw, an := r.reselectForCost(rt, cheaper)
		if sw {
			switched++
		}
		if an {
			announced++
		}
	}
	r.log.Debug("link cost changed", "peer", nb.link.String(), "cost", cost, "switched", switched, "announced", announced)
}

// reselectForCost reruns route selection for rt's subnet after the cost of
// rt's neighbour changed (cheaper: it went down), and reports whether the
// selection changed and whether a triggered update went out.
//
// A subnet without a selected route is skipped: a cost does not make a
// route feasible, and selection already found none. Selection runs only
// when the totals allow a switch (canReplace), so most routes cost a few
// additions and no source table lookup. A change of selection sends the
// triggered update of spec §4.7 step 5. When the cost went down and the
// selected route goes through nb, its advertised metric may now be far
// below anything we told our neighbours (typically: routes advertised
// while a new link still had the initial cost of 1000); then it is
// advertised again (improved).
func (r *Router) reselectForCost(rt *route, cheaper bool) (switched, announced bool) {
	e := rt.e
	old := e.selected
	if old == nil || rt.retracted() || rt != old && !canReplace(rt, old) {
		return false, false
	}
	if rt != old || challenged(e, old) {
		r.m.RouteSelections.Add(1)
		if best := r.bestRoute(e); best != nil && best != old {
			oldRID, oldMetric := old.rid, old.metric
			r.selectRoute(e, best)
			switched = true
			if bigChange(true, oldRID, oldMetric, best) {
				r.triggerUpdate(e.prefix, nil)
				return true, true
			}
		}
	}
	if cheaper && e.selected.nb == rt.nb && r.improved(e.selected) {
		r.triggerUpdate(e.prefix, nil)
		announced = true
	}
	return switched, announced
}

// improved reports whether the metric we would advertise for sel is lower,
// by more than a big change, than the lowest metric we advertised for its
// source and seqno (the feasibility distance): our neighbours then hold a
// much worse metric from us than we have. Sending it lowers the
// feasibility distance, so a route is advertised again only when it
// reaches a new low for its seqno: a cost that goes up and down again
// sends nothing.
func (r *Router) improved(sel *route) bool {
	fd, ok := r.sources[sel.source()]
	return ok && fd.seqno == sel.seqno && int(sel.total()) < int(fd.metric)-bigMetricChange
}

// canReplace reports whether rt's totals allow route selection to pick it
// over the selected route cur (spec §4.8): strictly better, and better by
// more than the hysteresis or directly connected. Feasibility is not
// checked, so a false answer is final and a true one needs selection.
func canReplace(rt, cur *route) bool {
	if rt.retracted() {
		return false
	}
	t, c := rt.total(), cur.total()
	return t < c && (t < c.Sub(significantImprovement) || rt.metric == 0)
}

// challenged reports whether some other route of e might replace the
// selected route cur.
func challenged(e *subnetEntry, cur *route) bool {
	for _, rt := range e.routes {
		if rt != cur && canReplace(rt, cur) {
			return true
		}
	}
	return false
}

// wildcardRequest asks a new neighbour for all its selected routes.
//
// The reference sends only its own subnet on link up, so a neighbour's
// routes are learned only from Updates flooded after the link came up:
// when a better path appears (a new or restored link), route selection
// cannot find it until the next flood about each subnet. A wildcard route
// request (TLV 9, AE 0) is a standard reference TLV, and both the
// reference and we answer it with a dump of every selected route not
// going through the asker, plus the own subnet (spec §4.9, §4.10). One
// request per link up costs one TLV; the answer is bounded by the
// neighbour's table. Route requests for the subnets we use would cost one
// TLV per subnet, and a neighbour that does not know a subnet forwards the
// request to all its peers, so they would multiply through the network.
//
// A router without routes (just started) sends none: it has no path a new
// neighbour could improve, and it learns subnets on demand, as the
// reference does, instead of pulling in (and computing an X25519 for)
// every subnet of the network at once.
func (r *Router) wildcardRequest(nb *Neighbour) {
	r.send(nb, &wire.TLV{Type: wire.TLVRouteRequest, RouteRequest: wire.RouteRequest{}})
}

// haveRoutes reports whether any live neighbour carries a route for us.
func (r *Router) haveRoutes() bool {
	for _, nb := range r.peers {
		if nb.routes != nil {
			return true
		}
	}
	return false
}
