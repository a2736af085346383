// Package nodeapi adapts a running node and its peer manager to the
// interfaces of the API (api.Node) and of the metrics exporter, so the
// daemon wires them in a few lines:
//
//	a := nodeapi.New(ctx, n, links, time.Now())
//	srv, _ := api.New(cfg, api.Deps{Node: a, Bus: bus}, log)
//	exp.Add(a.NodeSamples); exp.Add(a.PeerSamples); exp.Add(bus.Samples)
package nodeapi

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/mycelium-go/mycelium/core/api"
	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/link"
	"github.com/mycelium-go/mycelium/core/metrics"
	"github.com/mycelium-go/mycelium/core/node"
	"github.com/mycelium-go/mycelium/core/router"
)

// Adapter is an api.Node over a node.Node and its link.Manager.
type Adapter struct {
	ctx     context.Context
	node    *node.Node
	links   *link.Manager
	started time.Time
}

// New returns the adapter. ctx bounds the router queries made for
// metrics scrapes (API requests use their own context).
func New(ctx context.Context, n *node.Node, links *link.Manager, started time.Time) *Adapter {
	return &Adapter{ctx: ctx, node: n, links: links, started: started}
}

// Info implements api.Node.
func (a *Adapter) Info() api.Info {
	return api.Info{
		NodeSubnet:    a.node.Subnet().String(),
		NodeIP:        a.node.Address().String(),
		NodePubkey:    a.node.PublicKey().String(),
		NodeStartTime: a.started.Unix(),
	}
}

// Peers implements api.Node.
func (a *Adapter) Peers() []api.PeerStats {
	now := time.Now()
	ps := a.links.Peers()
	out := make([]api.PeerStats, len(ps))
	for i, p := range ps {
		out[i] = api.PeerStats{
			Endpoint:        endpoint(p.Endpoint),
			Type:            string(p.Kind),
			ConnectionState: string(p.State),
			TxBytes:         p.TxBytes,
			RxBytes:         p.RxBytes,
			Discovered:      secondsSince(now, p.Discovered),
		}
		if !p.LastConnected.IsZero() {
			s := secondsSince(now, p.LastConnected)
			out[i].LastConnected = &s
		}
	}
	return out
}

func endpoint(e link.Endpoint) api.Endpoint {
	if e.Proto == link.ProtoVsock {
		return api.Endpoint{Proto: e.Proto.String(), Addr: api.EndpointAddr{Vsock: &api.VsockAddr{CID: e.CID, Port: e.Port}}}
	}
	return api.Endpoint{Proto: e.Proto.String(), Addr: api.EndpointAddr{Socket: e.Addr.String()}}
}

func secondsSince(now, t time.Time) uint64 {
	if t.IsZero() || now.Before(t) {
		return 0
	}
	return uint64(now.Sub(t) / time.Second)
}

// AddPeer implements api.Node.
func (a *Adapter) AddPeer(s string) error {
	ep, err := link.ParseEndpoint(s)
	if err != nil {
		return api.PeerError(api.ErrBadEndpoint, s, endpointDetail(s, err))
	}
	err = a.links.AddPeer(ep)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, link.ErrPeerExists):
		return api.PeerError(api.ErrPeerExists, ep.String(), nil)
	case errors.Is(err, link.ErrUnsupported):
		return api.PeerError(api.ErrBadEndpoint, s, endpointDetail(s, err))
	default:
		return err
	}
}

// RemovePeer implements api.Node.
func (a *Adapter) RemovePeer(s string) error {
	ep, err := link.ParseEndpoint(s)
	if err != nil {
		return api.PeerError(api.ErrBadEndpoint, s, endpointDetail(s, err))
	}
	if err := a.links.RemovePeer(ep); err != nil {
		if errors.Is(err, link.ErrPeerNotFound) {
			return api.PeerError(api.ErrPeerNotFound, ep.String(), nil)
		}
		return err
	}
	return nil
}

// endpointDetail is the part of a link error that says what is wrong,
// without the package prefix and the endpoint the sentence already names.
func endpointDetail(s string, err error) error {
	msg := err.Error()
	for _, p := range []string{"add peer " + s + ": ", "link: bad endpoint " + strconv.Quote(s) + ": ", "link: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return &detail{msg: msg, err: err}
}

// detail is an error with a shorter message than the error it wraps.
type detail struct {
	msg string
	err error
}

func (d *detail) Error() string { return d.msg }
func (d *detail) Unwrap() error { return d.err }

func routes(rs []router.RouteInfo, err error) ([]api.Route, error) {
	if err != nil {
		return nil, err
	}
	out := make([]api.Route, len(rs))
	for i, r := range rs {
		out[i] = api.Route{Subnet: r.Subnet.String(), NextHop: r.NextHop, Metric: api.Metric(r.Metric), Seqno: uint16(r.Seqno)}
	}
	return out, nil
}

// SelectedRoutes implements api.Node.
func (a *Adapter) SelectedRoutes(ctx context.Context) ([]api.Route, error) {
	return routes(a.node.Router().SelectedRoutes(ctx))
}

// FallbackRoutes implements api.Node.
func (a *Adapter) FallbackRoutes(ctx context.Context) ([]api.Route, error) {
	return routes(a.node.Router().FallbackRoutes(ctx))
}

// QueriedSubnets implements api.Node.
func (a *Adapter) QueriedSubnets(ctx context.Context) ([]api.QueriedSubnet, error) {
	qs, err := a.node.Router().QueriedSubnets(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]api.QueriedSubnet, len(qs))
	for i, q := range qs {
		left := max(q.Expires.Sub(now)/time.Second, 0)
		out[i] = api.QueriedSubnet{Subnet: q.Subnet.String(), Expiration: strconv.FormatInt(int64(left), 10)}
	}
	return out, nil
}

// PacketStatistics implements api.Node.
func (a *Adapter) PacketStatistics() api.PacketStatistics {
	ps := a.node.PacketStats()
	conv := func(in []node.IPStat) []api.PacketStatEntry {
		out := make([]api.PacketStatEntry, len(in))
		for i, s := range in {
			out[i] = api.PacketStatEntry{IP: s.IP.String(), PacketCount: s.Packets, ByteCount: s.Bytes}
		}
		return out
	}
	return api.PacketStatistics{BySource: conv(ps.BySource), ByDestination: conv(ps.ByDestination)}
}

// PublicKeyOf implements api.Node.
func (a *Adapter) PublicKeyOf(ip netip.Addr) (identity.PublicKey, bool) {
	return a.node.PublicKeyOf(ip)
}

// NodeSamples is a metrics.Source: the router's and data plane's
// counters (reference names where it has them).
func (a *Adapter) NodeSamples() []metrics.Sample {
	in := a.node.Samples()
	out := make([]metrics.Sample, len(in))
	for i, s := range in {
		out[i] = metrics.Sample(s)
	}
	return out
}

// PeerSamples is a metrics.Source: bytes per peer (every link the peer
// had) and packets per peer (its current link), labelled by endpoint.
func (a *Adapter) PeerSamples() []metrics.Sample {
	ctx, cancel := context.WithTimeout(a.ctx, 2*time.Second)
	defer cancel()
	packets := map[string][2]uint64{}
	if nbs, err := a.node.Router().Neighbours(ctx); err == nil {
		for _, nb := range nbs {
			packets[nb.Link.String()] = [2]uint64{nb.TxPackets, nb.RxPackets}
		}
	}
	var traffic []metrics.PeerTraffic
	for _, p := range a.links.Peers() {
		pk := packets[p.Link]
		traffic = append(traffic, metrics.PeerTraffic{
			Peer: p.Endpoint.String(), TxBytes: p.TxBytes, RxBytes: p.RxBytes,
			TxPackets: pk[0], RxPackets: pk[1],
		})
	}
	return metrics.PeerSource(func() []metrics.PeerTraffic { return traffic })()
}

var _ api.Node = (*Adapter)(nil)
