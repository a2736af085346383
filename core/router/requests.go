package router

import (
	"net/netip"
	"slices"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/wire"
)

// want handles the data plane's need for a route to p (see Router.Want).
func (r *Router) want(p netip.Prefix) {
	if !requestable(p) {
		return
	}
	e := r.table[p]
	switch {
	case e == nil:
		r.originateRouteRequest(p, true)
	case !e.hasRoutes() || e.selected != nil || len(e.routes) == 0:
		// a query is in flight, or there is a route already
	default:
		// Routes exist but none is selected: ask their announcers for a
		// newer seqno. When no live announcer is left (the peer carrying
		// them died), ask everyone for the route instead: an answer that is
		// unfeasible then brings a seqno request to the answering peer.
		src := e.routes[0].source()
		for _, rt := range e.routes {
			if !rt.retracted() {
				src = rt.source()
				break
			}
		}
		if r.requestSeqno(src, nil, nil) == 0 {
			r.originateRouteRequest(p, false)
		}
	}
}

// requestable reports whether p is something a valid Update could answer:
// a prefix of at least /64 inside 400::/7.
func requestable(p netip.Prefix) bool {
	return p.IsValid() && p.Addr().Is6() && p.Bits() >= identity.SubnetBits && identity.InOverlay(p.Addr())
}

// originateRouteRequest sends RouteRequest(generation 0, p) to every
// neighbour that did not get one within the route request TTL (spec
// §4.10). With markQueried, a subnet without routes becomes Queried; such
// a new query goes to every neighbour, since whatever an earlier request
// found is gone by now.
func (r *Router) originateRouteRequest(p netip.Prefix, markQueried bool) {
	now := time.Now()
	var skip []*Neighbour
	switch {
	case markQueried && r.table[p] == nil:
		if !r.markQueried(p, now) {
			return
		}
	default:
		skip = r.rrs.suppressed(p, 0, now, r.cfg.RouteRequestRetry)
	}
	t := wire.TLV{Type: wire.TLVRouteRequest, RouteRequest: wire.RouteRequest{Prefix: p}}
	sent := 0
	for _, nb := range r.peers {
		if !slices.Contains(skip, nb) {
			r.send(nb, &t)
			sent++
		}
	}
	if sent > 0 { // a suppressed attempt must not extend the suppression
		r.rrs.sent(p, 0, slices.Clone(r.peers), now)
	}
	r.log.Debug("route request sent", "subnet", p, "suppressed", len(skip), "peers", len(r.peers))
}

// markQueried adds p as a Queried subnet, unless MaxQueries are in flight.
func (r *Router) markQueried(p netip.Prefix, now time.Time) bool {
	if r.queries >= r.cfg.MaxQueries {
		r.log.Debug("too many route queries in flight", "subnet", p)
		return false
	}
	e := r.newEntry(p)
	e.queried = true
	r.queries++
	r.timers.schedule(&e.tm, now.Add(r.cfg.QueryTimeout))
	return true
}

// handleRouteRequest answers or forwards a route request from nb (spec
// §4.10).
func (r *Router) handleRouteRequest(nb *Neighbour, rr *wire.RouteRequest, now time.Time) {
	if rr.Wildcard() {
		r.dump(nb, now)
		return
	}
	p := rr.Prefix
	if p.Bits() >= r.subnet.Bits() && r.subnet.Contains(p.Addr()) {
		r.announceOwn([]*Neighbour{nb})
		return
	}
	if !requestable(p) {
		return // no valid Update could ever answer it
	}
	if e := r.table[p]; e != nil {
		// Known routes: answer with the selected one unless nb is its next
		// hop; routes without selection or a query in flight: nothing.
		if sel := e.selected; sel != nil && sel.nb != nb {
			t := r.routeUpdate(sel, now)
			r.sources.advertised(&t.Update, now)
			r.send(nb, &t)
		}
		return
	}
	if int(rr.Generation)+1 >= maxRRGeneration {
		return
	}
	gen := rr.Generation + 1
	if !r.markQueried(p, now) {
		return
	}
	skip := r.rrs.suppressed(p, gen, now, r.cfg.RouteRequestTTL)
	t := wire.TLV{Type: wire.TLVRouteRequest, RouteRequest: wire.RouteRequest{Generation: gen, Prefix: p}}
	receivers := make([]*Neighbour, 0, len(r.peers))
	sent := 0
	for _, peer := range r.peers {
		if peer == nb {
			continue
		}
		receivers = append(receivers, peer)
		if !slices.Contains(skip, peer) {
			r.send(peer, &t)
			sent++
		}
	}
	if sent > 0 {
		r.rrs.sent(p, gen, receivers, now)
	}
}

// requestSeqno sends a seqno request for src (spec §4.11) to `to`, or to
// the announcers of src's prefix (everyone when the prefix has no routes
// and we originate the request). origin is the neighbour we forward for
// (nil when we originate). It returns how many neighbours got it.
func (r *Router) requestSeqno(src sourceKey, to, origin *Neighbour) int {
	now := time.Now()
	seq := r.sources.seqnoOf(src) + 1
	key := seqnoKey{src.rid, src.prefix, seq}
	var targets []*Neighbour
	if to != nil {
		targets = []*Neighbour{to}
	} else {
		visited := r.seqnos.recentTargets(key, now, r.cfg.SeqnoBumpInterval)
		switch e := r.table[src.prefix]; {
		case e != nil && e.hasRoutes():
			for _, rt := range e.routes {
				if !slices.Contains(visited, rt.nb) {
					targets = append(targets, rt.nb)
				}
			}
		case origin == nil:
			targets = r.peers
		}
	}
	t := wire.TLV{Type: wire.TLVSeqnoRequest, SeqnoRequest: wire.SeqnoRequest{
		Seqno: seq, HopCount: wire.SeqnoRequestHops, RouterID: src.rid, Prefix: src.prefix,
	}}
	asked := r.seqnos.sources(key)
	n := 0
	for _, nb := range targets {
		if nb.dead.Load() || slices.Contains(asked, nb) {
			continue
		}
		r.send(nb, &t)
		r.seqnos.forward(key, nb, origin, now)
		n++
	}
	r.log.Debug("seqno request sent", "subnet", src.prefix, "seqno", seq, "router_id", src.rid.String(), "targets", n)
	return n
}

// handleSeqnoRequest answers, obeys or forwards a seqno request from nb
// (spec §4.11).
func (r *Router) handleSeqnoRequest(nb *Neighbour, sr *wire.SeqnoRequest, now time.Time) {
	key := seqnoKey{sr.RouterID, sr.Prefix, sr.Seqno}
	if r.seqnos.sentWithin(key, now, r.cfg.SeqnoRetry) {
		r.log.Debug("seqno request suppressed", "subnet", sr.Prefix, "seqno", sr.Seqno, "peer", nb.link.String())
		r.m.SeqnoUnhandled.Add(1)
		return
	}
	if e := r.table[sr.Prefix]; e != nil && e.selected != nil {
		sel := e.selected
		if !sel.retracted() && (sel.rid != sr.RouterID || !sel.seqno.Less(sr.Seqno)) {
			t := r.routeUpdate(sel, now)
			r.sources.advertised(&t.Update, now)
			r.send(nb, &t)
			r.m.SeqnoReplyLocal.Add(1)
			return
		}
	}
	if sr.RouterID == r.id && sr.Prefix == r.subnet && sr.Seqno.Greater(r.seqno) {
		if wait := r.lastBump.Add(r.cfg.SeqnoBumpInterval); now.Before(wait) {
			// Too soon after the last bump: bump when allowed instead of
			// never (the reference drops the request, and the requesters'
			// 60 s duplicate suppression then delays recovery by a minute).
			if r.bumpTm.idx < 0 {
				r.timers.schedule(&r.bumpTm, wait)
			}
			return
		}
		r.bumpSeqno(now)
		return
	}
	if sr.HopCount < 2 {
		r.m.SeqnoTTLExpired.Add(1)
		return
	}
	if sr.RouterID != r.id && r.forwardSeqno(nb, sr, key, now) {
		return
	}
	r.log.Debug("seqno request unhandled", "subnet", sr.Prefix, "seqno", sr.Seqno, "peer", nb.link.String())
	r.m.SeqnoUnhandled.Add(1)
}

// forwardSeqno forwards sr with one hop less towards the prefix's origin:
// to a feasible announcer if there is one, else to any (spec §4.11 item 4).
func (r *Router) forwardSeqno(from *Neighbour, sr *wire.SeqnoRequest, key seqnoKey, now time.Time) bool {
	e := r.table[sr.Prefix]
	if e == nil || !e.hasRoutes() {
		return false
	}
	visited := r.seqnos.recentTargets(key, now, r.cfg.SeqnoBumpInterval)
	usable := func(rt *route) bool {
		return !slices.Contains(visited, rt.nb) && rt.nb != from && !rt.nb.dead.Load() && !rt.retracted()
	}
	fwd := wire.TLV{Type: wire.TLVSeqnoRequest, SeqnoRequest: *sr}
	fwd.SeqnoRequest.HopCount--
	for _, feasibleOnly := range []bool{true, false} {
		for _, rt := range e.routes {
			if !usable(rt) || (feasibleOnly && !r.sources.feasible(rt.source(), rt.seqno, rt.metric)) {
				continue
			}
			r.send(rt.nb, &fwd)
			r.seqnos.forward(key, rt.nb, from, now)
			if feasibleOnly {
				r.m.SeqnoForwardFeasible.Add(1)
			} else {
				r.m.SeqnoForwardUnfeasible.Add(1)
			}
			return true
		}
	}
	return false
}

// bumpSeqno increments our seqno by one and announces our subnet to all
// neighbours (spec §4.11 item 3).
func (r *Router) bumpSeqno(now time.Time) {
	r.timers.cancel(&r.bumpTm)
	r.seqno++
	r.lastBump = now
	r.log.Debug("seqno bumped", "seqno", r.seqno)
	r.announceOwn(r.peers)
	r.m.SeqnoBump.Add(1)
}
