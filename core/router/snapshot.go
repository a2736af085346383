package router

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/link"
	"github.com/mycelium-go/mycelium/core/wire"
)

// RouteInfo describes one route entry (spec §8.1 Route).
type RouteInfo struct {
	Subnet   netip.Prefix
	NextHop  string // the next hop link's String(), as the reference shows it
	Link     link.Link
	Metric   wire.Metric // as received, without the local link cost
	Seqno    wire.SeqNo
	RouterID wire.RouterID
	Selected bool
	Expires  time.Time
}

// QueriedInfo is a subnet with a route request in flight.
type QueriedInfo struct {
	Subnet  netip.Prefix
	Expires time.Time
}

// NeighbourInfo describes a neighbour and its measured cost.
type NeighbourInfo struct {
	Link      link.Link
	Cost      wire.Metric // smoothed RTT + static cost
	RTT       uint16      // smoothed RTT part, ms
	LastHeard time.Time   // last IHU or byte received
	Since     time.Time
	TxPackets uint64
	TxBytes   uint64
	RxPackets uint64
	RxBytes   uint64
}

func routeInfo(rt *route) RouteInfo {
	return RouteInfo{
		Subnet:   rt.e.prefix,
		NextHop:  rt.nb.link.String(),
		Link:     rt.nb.link,
		Metric:   rt.metric,
		Seqno:    rt.seqno,
		RouterID: rt.rid,
		Selected: rt.selected,
		Expires:  rt.expires(),
	}
}

func sortRoutes(rs []RouteInfo) {
	slices.SortFunc(rs, func(a, b RouteInfo) int {
		if c := a.Subnet.Addr().Compare(b.Subnet.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Subnet.Bits(), b.Subnet.Bits())
	})
}

// SelectedRoutes returns every selected route, sorted by subnet.
func (r *Router) SelectedRoutes(ctx context.Context) ([]RouteInfo, error) {
	var out []RouteInfo
	err := r.do(ctx, func() {
		for _, e := range r.table {
			if e.selected != nil {
				out = append(out, routeInfo(e.selected))
			}
		}
	})
	sortRoutes(out)
	return out, err
}

// FallbackRoutes returns every route entry that is not selected.
func (r *Router) FallbackRoutes(ctx context.Context) ([]RouteInfo, error) {
	var out []RouteInfo
	err := r.do(ctx, func() {
		for _, e := range r.table {
			for _, rt := range e.routes {
				if !rt.selected {
					out = append(out, routeInfo(rt))
				}
			}
		}
	})
	sortRoutes(out)
	return out, err
}

// QueriedSubnets returns the subnets with a route request in flight.
func (r *Router) QueriedSubnets(ctx context.Context) ([]QueriedInfo, error) {
	var out []QueriedInfo
	err := r.do(ctx, func() {
		for _, e := range r.table {
			if e.queried && !e.hasRoutes() {
				out = append(out, QueriedInfo{Subnet: e.prefix, Expires: e.tm.at})
			}
		}
	})
	slices.SortFunc(out, func(a, b QueriedInfo) int { return a.Subnet.Addr().Compare(b.Subnet.Addr()) })
	return out, err
}

// Neighbours returns the live neighbours and their costs.
func (r *Router) Neighbours(ctx context.Context) ([]NeighbourInfo, error) {
	var out []NeighbourInfo
	err := r.do(ctx, func() {
		for _, nb := range r.peers {
			out = append(out, NeighbourInfo{
				Link:      nb.link,
				Cost:      nb.Cost(),
				RTT:       uint16(nb.rtt.Load()),
				LastHeard: nb.lastHeard(),
				Since:     nb.since,
				TxPackets: nb.txPackets.Load(),
				TxBytes:   nb.txBytes.Load(),
				RxPackets: nb.rxPackets.Load(),
				RxBytes:   nb.rxBytes.Load(),
			})
		}
	})
	return out, err
}

// Seqno returns our own router seqno.
func (r *Router) Seqno(ctx context.Context) (wire.SeqNo, error) {
	var s wire.SeqNo
	err := r.do(ctx, func() { s = r.seqno })
	return s, err
}

// PublicKeyOf returns the public key bound to the route for ip (GET
// /pubkey/{ip}): the key of the router id that created the route list,
// which the update filters tie to the subnet. It reads the forwarding
// table and never waits.
func (r *Router) PublicKeyOf(ip netip.Addr) (identity.PublicKey, bool) {
	fw := r.fib.lookup(ip)
	if !fw.Keyed() {
		return identity.PublicKey{}, false
	}
	return fw.Key, true
}

// Size returns the number of prefixes in the forwarding table (route lists
// and queried subnets).
func (r *Router) Size() int { return int(r.fib.size.Load()) }
