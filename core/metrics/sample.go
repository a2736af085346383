package metrics

// Sample is one value in Prometheus terms: a metric name, at most one
// label, a help text and the value. Its fields match router.Sample, so a
// router sample converts with metrics.Sample(s).
type Sample struct {
	Name       string
	LabelName  string // empty when the metric has no label
	LabelValue string
	Help       string
	Value      uint64
}

// Source returns the current samples of one component. It is called on
// every scrape, from the scraping goroutine, and must be safe for
// concurrent use.
type Source func() []Sample

// PeerTraffic is what one peer link carried, for the per-peer metrics.
type PeerTraffic struct {
	Peer                 string // the peer's endpoint, e.g. "tcp://[2001:db8::1]:9651"
	TxBytes, RxBytes     uint64
	TxPackets, RxPackets uint64
}

// PeerSource turns a per-peer traffic listing into samples labelled by
// peer endpoint.
func PeerSource(peers func() []PeerTraffic) Source {
	return func() []Sample {
		ps := peers()
		out := make([]Sample, 0, 4*len(ps))
		for _, p := range ps {
			out = append(out,
				Sample{Name: "mycelium_peer_tx_bytes", LabelName: "peer", LabelValue: p.Peer, Help: "Bytes sent to a peer", Value: p.TxBytes},
				Sample{Name: "mycelium_peer_rx_bytes", LabelName: "peer", LabelValue: p.Peer, Help: "Bytes received from a peer", Value: p.RxBytes},
				Sample{Name: "mycelium_peer_tx_packets", LabelName: "peer", LabelValue: p.Peer, Help: "Packets sent to a peer", Value: p.TxPackets},
				Sample{Name: "mycelium_peer_rx_packets", LabelName: "peer", LabelValue: p.Peer, Help: "Packets received from a peer", Value: p.RxPackets},
			)
		}
		return out
	}
}

// PeerManagerStats are the reference's peer manager counters.
type PeerManagerStats struct {
	AddedStatic, AddedInbound, AddedLinkLocal uint64
	KnownPeers                                uint64 // gauge
	AttemptsStarted, AttemptsFinished         uint64
}

// PeerManagerSource exports PeerManagerStats under the reference's names.
func PeerManagerSource(stats func() PeerManagerStats) Source {
	return func() []Sample {
		s := stats()
		const added = "mycelium_peer_manager_peers_added"
		const attempts = "mycelium_peer_manager_connection_attempts"
		return []Sample{
			{Name: added, LabelName: "peer_type", LabelValue: "static", Help: "Peers added to the peer manager", Value: s.AddedStatic},
			{Name: added, LabelName: "peer_type", LabelValue: "inbound", Help: "Peers added to the peer manager", Value: s.AddedInbound},
			{Name: added, LabelName: "peer_type", LabelValue: "link_local", Help: "Peers added to the peer manager", Value: s.AddedLinkLocal},
			{Name: "mycelium_peer_manager_known_peers", Help: "Peers known to the peer manager", Value: s.KnownPeers},
			{Name: attempts, LabelName: "connection_state", LabelValue: "started", Help: "Outbound connection attempts", Value: s.AttemptsStarted},
			{Name: attempts, LabelName: "connection_state", LabelValue: "finished", Help: "Outbound connection attempts", Value: s.AttemptsFinished},
		}
	}
}
