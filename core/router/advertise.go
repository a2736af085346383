package router

import (
	"net/netip"
	"time"

	"github.com/mycelium-go/mycelium/core/wire"
)

// notRepeating is the interval of an Update that will not be repeated: a
// selected route that is retracted and past its expiry (spec §4.12; 6 ms
// in the reference, 0 on the wire).
const notRepeating = 0

// advertisedInterval is the interval field for an Update about rt.
func (r *Router) advertisedInterval(rt *route, now time.Time) uint16 {
	if rt.retracted() && !rt.expires().After(now) {
		return notRepeating
	}
	return centis(r.cfg.UpdateInterval)
}

// routeUpdate is the Update advertising rt: its metric plus the cost of
// its next hop.
func (r *Router) routeUpdate(rt *route, now time.Time) wire.TLV {
	return wire.TLV{Type: wire.TLVUpdate, Update: wire.Update{
		Interval: r.advertisedInterval(rt, now),
		Seqno:    rt.seqno,
		Metric:   rt.metric.Add(rt.nb.Cost()),
		Prefix:   rt.e.prefix,
		RouterID: rt.rid,
	}}
}

// ownUpdate is the Update for our own subnet.
func (r *Router) ownUpdate() wire.TLV {
	return wire.TLV{Type: wire.TLVUpdate, Update: wire.Update{
		Interval: centis(r.cfg.UpdateInterval),
		Seqno:    r.seqno,
		Metric:   0,
		Prefix:   r.subnet,
		RouterID: r.id,
	}}
}

// announceOwn sends our own subnet to peers (spec §4.9).
func (r *Router) announceOwn(peers []*Neighbour) {
	t := r.ownUpdate()
	r.sources.advertised(&t.Update, time.Now())
	for _, nb := range peers {
		r.send(nb, &t)
	}
}

// triggerUpdate propagates p's selected route to peers (nil: all
// neighbours), never to its own next hop (split horizon). Without a
// selected route it floods a retraction with our router id and seqno
// (spec §4.9).
func (r *Router) triggerUpdate(p netip.Prefix, peers []*Neighbour) {
	start := time.Now()
	r.m.TriggeredUpdates.Add(1)
	var t wire.TLV
	var skip *Neighbour
	if e := r.table[p]; e != nil && e.selected != nil {
		t = r.routeUpdate(e.selected, start)
		skip = e.selected.nb
	} else {
		t = wire.TLV{Type: wire.TLVUpdate, Update: wire.Update{
			Interval: centis(r.cfg.UpdateInterval),
			Seqno:    r.seqno,
			Metric:   wire.MetricInfinite,
			Prefix:   p,
			RouterID: r.id,
		}}
	}
	r.sources.advertised(&t.Update, start)
	if peers == nil {
		peers = r.peers
	}
	for _, nb := range peers {
		if nb != skip {
			r.send(nb, &t)
		}
	}
	r.m.PropagateTime.Add(uint64(time.Since(start)))
}

// dump answers a wildcard route request: every selected route not going
// through nb, then our own subnet (spec §4.9).
func (r *Router) dump(nb *Neighbour, now time.Time) {
	for _, e := range r.table {
		sel := e.selected
		if sel == nil || sel.nb == nb {
			continue
		}
		t := r.routeUpdate(sel, now)
		r.sources.advertised(&t.Update, now)
		r.send(nb, &t)
	}
	r.announceOwn([]*Neighbour{nb})
}
