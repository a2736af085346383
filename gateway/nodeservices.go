package gateway

import (
	"context"
	"net/netip"
	"slices"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Node services: which services the node's plugins offer, as plugins see
// them (sdk.NodeInfo.Services in Configure and in a subcommand's
// environment, and the sdk.NodeServiceLister host callback), so one
// plugin can tell clients about another's, e.g. the mail plugin's
// profiles about the dav plugin's CalDAV and CardDAV.
//
// The callback answers from the listeners the gateway holds: they belong
// to the gateway, not to a plugin process, so a plugin that is restarting
// keeps its services, and a stopped one (disabled, removed by a reload,
// failed before it ever ran) has none. That is what a client can reach.

// NodeServices implements sdk.NodeServiceLister for a plugin.
func (h *hostServer) NodeServices(context.Context) ([]sdk.NodeService, error) {
	return h.g.nodeServices(), nil
}

// nodeServices lists the services the gateway listens for now, sorted by
// plugin and service name.
func (g *Gateway) nodeServices() []sdk.NodeService {
	g.mu.Lock()
	runners := slices.Clone(g.mu.runners)
	g.mu.Unlock()
	var out []sdk.NodeService
	for _, r := range runners {
		out = append(out, r.nodeServices()...)
	}
	sdk.SortNodeServices(out)
	return out
}

// nodeServices lists the plugin's services that have an open listener.
func (r *runner) nodeServices() []sdk.NodeService {
	r.st.Lock()
	defer r.st.Unlock()
	var out []sdk.NodeService
	for _, s := range r.st.services {
		if ns, ok := s.nodeService(r.cfg.Name); ok {
			out = append(out, ns)
		}
	}
	return out
}

// nodeService describes s by the listeners that opened: the overlay one
// and the first loopback one. ok is false if none did. The runner's st
// lock must be held (it guards s.b).
func (s *service) nodeService(plugin string) (ns sdk.NodeService, ok bool) {
	ns = sdk.NodeService{Plugin: plugin, Name: s.name, Protocol: s.b.spec.Protocol, TLS: s.b.spec.TLS}
	for _, l := range s.lns {
		switch {
		case l.err != nil:
		case l.origin == sdk.OriginOverlay:
			ns.Overlay = l.ap
		case !ns.Loopback.IsValid():
			ns.Loopback = l.ap
		}
	}
	return ns, ns.Overlay.IsValid() || ns.Loopback.IsValid()
}

// bindingServices describes the services of a plugin's bindings as
// clients will reach them once the gateway listens. Services with neither
// an overlay port nor a loopback address are left out.
func bindingServices(plugin string, bindings map[string]binding, addr netip.Addr) []sdk.NodeService {
	var out []sdk.NodeService
	for name, b := range bindings {
		sb := b.sdk(addr)
		if !sb.Overlay.IsValid() && !sb.Loopback.IsValid() {
			continue
		}
		out = append(out, sdk.NodeService{
			Plugin: plugin, Name: name, Protocol: b.spec.Protocol, TLS: b.spec.TLS,
			Overlay: sb.Overlay, Loopback: sb.Loopback,
		})
	}
	return out
}

// withOthers returns own plus the services in others that belong to
// another plugin than plugin, sorted.
func withOthers(plugin string, own, others []sdk.NodeService) []sdk.NodeService {
	out := slices.Clone(own)
	for _, s := range others {
		if s.Plugin != plugin {
			out = append(out, s)
		}
	}
	sdk.SortNodeServices(out)
	return out
}

var _ sdk.NodeServiceLister = (*hostServer)(nil)
