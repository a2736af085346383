package gateway

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/node"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// NodeIdentity is the Identity of a running core/node: keys from its
// routing state (the node's inner-source check makes them sound), and
// route metrics from its router.
type NodeIdentity struct {
	Node *node.Node
}

// PublicKeyOf returns the key owning addr; it never waits.
func (n NodeIdentity) PublicKeyOf(addr netip.Addr) (identity.PublicKey, bool) {
	return n.Node.PublicKeyOf(addr)
}

// RouteMetric returns the metric of the selected route to addr as this
// node sees it: the advertised metric plus the cost of the link to the
// next hop. The node's own subnet has metric 0.
func (n NodeIdentity) RouteMetric(ctx context.Context, addr netip.Addr) (uint16, error) {
	if n.Node.Subnet().Contains(addr) {
		return 0, nil
	}
	routes, err := n.Node.Router().SelectedRoutes(ctx)
	if err != nil {
		return 0, fmt.Errorf("route metric of %s: %w", addr, err)
	}
	for _, rt := range routes {
		if !rt.Subnet.Contains(addr) || rt.Metric.IsInfinite() {
			continue
		}
		nbs, err := n.Node.Router().Neighbours(ctx)
		if err != nil {
			return 0, fmt.Errorf("route metric of %s: %w", addr, err)
		}
		for _, nb := range nbs {
			if nb.Link == rt.Link {
				return uint16(rt.Metric.Add(nb.Cost)), nil
			}
		}
		return uint16(rt.Metric), nil
	}
	return 0, fmt.Errorf("route metric of %s: no selected route: %w", addr, sdk.ErrNotFound)
}

var _ Identity = NodeIdentity{}
