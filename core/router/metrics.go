package router

import "sync/atomic"

// Sample is one counter value in Prometheus terms: a metric name, at most
// one label, and the value. Counters only ever grow.
type Sample struct {
	Name       string
	LabelName  string // empty when the metric has no label
	LabelValue string
	Help       string
	Value      uint64
}

// Metrics are the router's counters, named after the reference's
// Prometheus metrics (spec §8.5). All fields are safe for concurrent use;
// Samples turns them into named values for an exporter.
type Metrics struct {
	TLVHello, TLVIHU, TLVUpdate, TLVRouteRequest, TLVWildcardRequest, TLVSeqnoRequest atomic.Uint64
	TimeHello, TimeIHU, TimeUpdate, TimeRouteRequest, TimeSeqnoRequest                atomic.Uint64 // ns

	PeerAdded, PeerRemoved, PeerDied atomic.Uint64

	RouteSelections, SourceKeyExpired atomic.Uint64
	ExpiredRemoved, ExpiredRetracted  atomic.Uint64
	SelectedRouteExpired              atomic.Uint64
	TriggeredUpdates                  atomic.Uint64

	SeqnoReplyLocal, SeqnoBump, SeqnoTTLExpired         atomic.Uint64
	SeqnoForwardFeasible, SeqnoForwardUnfeasible        atomic.Uint64
	SeqnoUnhandled                                      atomic.Uint64
	UpdateDeadPeer, ReceivedTLVs, TLVSourceDied         atomic.Uint64
	TLVDiscarded, PropagateTime                         atomic.Uint64
	UpdateSkippedSelection, UpdateDenied, NotInterested atomic.Uint64
}

// Samples returns every counter with its reference metric name.
func (m *Metrics) Samples() []Sample {
	const p = "mycelium_router_"
	tlv := func(v string, c *atomic.Uint64) Sample {
		return Sample{Name: p + "processed_tlvs", LabelName: "tlv_type", LabelValue: v, Help: "TLVs processed by the router", Value: c.Load()}
	}
	tm := func(v string, c *atomic.Uint64) Sample {
		return Sample{Name: p + "tlv_handling_time", LabelName: "tlv_type", LabelValue: v, Help: "Nanoseconds spent handling TLVs", Value: c.Load()}
	}
	seq := func(v string, c *atomic.Uint64) Sample {
		return Sample{Name: p + "seqno_handling", LabelName: "action", LabelValue: v, Help: "How seqno requests were handled", Value: c.Load()}
	}
	plain := func(name, help string, c *atomic.Uint64) Sample {
		return Sample{Name: p + name, Help: help, Value: c.Load()}
	}
	return []Sample{
		tlv("hello", &m.TLVHello), tlv("ihu", &m.TLVIHU), tlv("update", &m.TLVUpdate),
		tlv("route_request", &m.TLVRouteRequest), tlv("wildcard_route_request", &m.TLVWildcardRequest),
		tlv("seqno_request", &m.TLVSeqnoRequest),
		tm("hello", &m.TimeHello), tm("ihu", &m.TimeIHU), tm("update", &m.TimeUpdate),
		tm("route_request", &m.TimeRouteRequest), tm("seqno_request", &m.TimeSeqnoRequest),
		plain("peer_added", "Peers added to the router", &m.PeerAdded),
		plain("peer_removed", "Peers removed from the router", &m.PeerRemoved),
		plain("peer_died", "Peers declared dead by the router", &m.PeerDied),
		plain("route_selections", "Route selections run", &m.RouteSelections),
		plain("source_key_expired", "Source table entries garbage collected", &m.SourceKeyExpired),
		{Name: p + "expired_routes", LabelName: "action", LabelValue: "removed", Help: "Expired routes", Value: m.ExpiredRemoved.Load()},
		{Name: p + "expired_routes", LabelName: "action", LabelValue: "retracted", Help: "Expired routes", Value: m.ExpiredRetracted.Load()},
		plain("selected_route_expired", "Selected routes that expired", &m.SelectedRouteExpired),
		plain("triggered_updates", "Triggered updates sent", &m.TriggeredUpdates),
		seq("reply_local", &m.SeqnoReplyLocal), seq("bump_seqno", &m.SeqnoBump), seq("ttl_expired", &m.SeqnoTTLExpired),
		seq("forward_feasible", &m.SeqnoForwardFeasible), seq("forward_unfeasible", &m.SeqnoForwardUnfeasible),
		seq("unhandled", &m.SeqnoUnhandled),
		plain("update_dead_peer", "Updates not sent because the peer is dead", &m.UpdateDeadPeer),
		plain("received_tlvs", "TLVs received", &m.ReceivedTLVs),
		plain("tlv_source_died", "TLVs dropped because their sender died", &m.TLVSourceDied),
		plain("tlv_discarded", "TLVs discarded because the router queue was full", &m.TLVDiscarded),
		plain("propagate_selected_route_time", "Nanoseconds spent propagating selected routes", &m.PropagateTime),
		plain("update_skipped_route_selection", "Updates that did not need a route selection", &m.UpdateSkippedSelection),
		plain("update_denied", "Updates denied by the filters", &m.UpdateDenied),
		plain("update_not_interested", "Updates ignored as unfeasible or unknown retractions", &m.NotInterested),
	}
}
