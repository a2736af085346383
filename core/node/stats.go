package node

import (
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/mycelium-go/mycelium/core/router"
)

// IPStat is the traffic seen for one address (spec §8.1
// /admin/stats/packets).
type IPStat struct {
	IP      netip.Addr
	Packets uint64
	Bytes   uint64
}

// PacketStats is the per-source and per-destination traffic of routed
// data packets.
type PacketStats struct {
	BySource      []IPStat
	ByDestination []IPStat
	// Untracked counts packets whose address was not tracked because the
	// tables were full.
	Untracked uint64
}

type ipCounter struct{ packets, bytes atomic.Uint64 }

const statShards = 16

// ipStats counts packets per address in a bounded, sharded table. The
// steady state (known address) takes a read lock and allocates nothing.
type ipStats struct {
	limit     int64
	size      atomic.Int64
	untracked atomic.Uint64
	shards    [statShards]struct {
		sync.RWMutex
		m map[netip.Addr]*ipCounter
	}
}

func newIPStats(limit int) *ipStats {
	s := &ipStats{limit: int64(limit)}
	for i := range s.shards {
		s.shards[i].m = make(map[netip.Addr]*ipCounter)
	}
	return s
}

func (s *ipStats) add(ip netip.Addr, bytes int) { s.addN(ip, 1, bytes) }

// addN counts packets packets of bytes in total for ip.
func (s *ipStats) addN(ip netip.Addr, packets, bytes int) {
	b := ip.As16()
	sh := &s.shards[(b[15]^b[7])%statShards]
	sh.RLock()
	c := sh.m[ip]
	sh.RUnlock()
	if c == nil {
		sh.Lock()
		if c = sh.m[ip]; c == nil {
			if s.size.Load() >= s.limit {
				sh.Unlock()
				s.untracked.Add(uint64(packets))
				return
			}
			c = &ipCounter{}
			sh.m[ip] = c
			s.size.Add(1)
		}
		sh.Unlock()
	}
	c.packets.Add(uint64(packets))
	c.bytes.Add(uint64(bytes))
}

func (s *ipStats) snapshot() []IPStat {
	var out []IPStat
	for i := range s.shards {
		sh := &s.shards[i]
		sh.RLock()
		for ip, c := range sh.m {
			out = append(out, IPStat{IP: ip, Packets: c.packets.Load(), Bytes: c.bytes.Load()})
		}
		sh.RUnlock()
	}
	slices.SortFunc(out, func(a, b IPStat) int { return a.IP.Compare(b.IP) })
	return out
}

// queueCounters are the reference's packet queue events.
type queueCounters struct {
	Enqueued, Dequeued, DroppedTimeout, FullGlobal, FullSubnet atomic.Uint64
}

// Metrics are the node's data-plane counters.
type Metrics struct {
	RoutedLocal, RoutedForward, RoutedTTL, RoutedNoRoute atomic.Uint64

	Outbound, Incoming queueCounters

	CryptoFailures  atomic.Uint64 // sealed bodies that failed to open
	ForgedSource    atomic.Uint64 // inner source outside the sender's /64 (dropped)
	ForgedDest      atomic.Uint64 // inner destination outside our /64 (dropped)
	Malformed       atomic.Uint64 // undecodable data/control packets or payloads
	NotOverlay      atomic.Uint64 // device packets for destinations outside 400::/7 (dropped)
	LinkQueueFull   atomic.Uint64 // data packets dropped by a full link queue
	ICMPSent        atomic.Uint64 // ICMPv6 errors written to the device
	OOBSent         atomic.Uint64 // out-of-band ICMP reports sent to a source
	DeviceDropped   atomic.Uint64 // packets for the device without one (--no-tun)
	DeviceErrors    atomic.Uint64 // device read and write errors
	MessagesIn      atomic.Uint64 // kind-1 payloads delivered to the message hook
	MessagesOut     atomic.Uint64 // kind-1 payloads sent
	MessagesDropped atomic.Uint64 // kind-1 payloads without a handler
}

func (q *queueCounters) samples(name string) []router.Sample {
	s := func(ev string, c *atomic.Uint64) router.Sample {
		return router.Sample{Name: name, LabelName: "event", LabelValue: ev, Help: "Packet queue events", Value: c.Load()}
	}
	return []router.Sample{
		s("enqueued", &q.Enqueued), s("dequeued", &q.Dequeued), s("dropped_query_timeout", &q.DroppedTimeout),
		s("queue_full_global", &q.FullGlobal), s("queue_full_subnet", &q.FullSubnet),
	}
}

func (m *Metrics) samples() []router.Sample {
	routed := func(v string, c *atomic.Uint64) router.Sample {
		return router.Sample{Name: "mycelium_router_packets_routed", LabelName: "verdict", LabelValue: v, Help: "Data packets routed", Value: c.Load()}
	}
	plain := func(name, help string, c *atomic.Uint64) router.Sample {
		return router.Sample{Name: "mycelium_node_" + name, Help: help, Value: c.Load()}
	}
	out := []router.Sample{
		routed("local", &m.RoutedLocal), routed("forward", &m.RoutedForward),
		routed("ttl_expired", &m.RoutedTTL), routed("no_route", &m.RoutedNoRoute),
	}
	out = append(out, m.Outbound.samples("mycelium_router_outbound_packet_queue")...)
	out = append(out, m.Incoming.samples("mycelium_router_incoming_packet_queue")...)
	return append(out,
		plain("crypto_failures", "Data packets that failed authentication", &m.CryptoFailures),
		plain("forged_source_dropped", "Packets dropped because the inner source is outside the sender's /64", &m.ForgedSource),
		plain("forged_destination_dropped", "Packets dropped because the inner destination is outside our /64", &m.ForgedDest),
		plain("malformed_packets", "Undecodable packets or payloads", &m.Malformed),
		plain("not_overlay_dropped", "Device packets for destinations outside 400::/7", &m.NotOverlay),
		plain("link_queue_full", "Data packets dropped by a full link queue", &m.LinkQueueFull),
		plain("icmp_sent", "ICMPv6 errors written to the device", &m.ICMPSent),
		plain("oob_icmp_sent", "Out-of-band ICMP reports sent", &m.OOBSent),
		plain("device_dropped", "Packets dropped for lack of a device", &m.DeviceDropped),
		plain("device_errors", "Device read and write errors", &m.DeviceErrors),
		plain("messages_in", "Message-bus payloads received", &m.MessagesIn),
		plain("messages_out", "Message-bus payloads sent", &m.MessagesOut),
		plain("messages_dropped", "Message-bus payloads without a handler", &m.MessagesDropped),
	)
}
