package gateway

import (
	"log/slog"
	"net/netip"
	"slices"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// binding is where one service listens.
type binding struct {
	spec     sdk.ServiceSpec
	overlay  uint16           // port on the overlay address; 0: none
	loopback []netip.AddrPort // loopback listen addresses
}

// sdk returns the binding as the plugin sees it: the overlay address and
// the first loopback address.
func (b binding) sdk(addr netip.Addr) sdk.ServiceBinding {
	var sb sdk.ServiceBinding
	if b.overlay != 0 {
		sb.Overlay = netip.AddrPortFrom(addr, b.overlay)
	}
	if len(b.loopback) > 0 {
		sb.Loopback = b.loopback[0]
	}
	return sb
}

// sameListeners reports whether b and o open the same listeners.
func (b binding) sameListeners(o binding) bool {
	return b.overlay == o.overlay && slices.Equal(b.loopback, o.loopback)
}

// bindings applies the config's per-service overrides to the plugin's
// defaults. Disabled services are left out.
func (r *runner) bindings(desc sdk.Description) map[string]binding {
	return bindingsFor(desc, r.cfg, r.log)
}

// bindingsFor applies pc's per-service overrides to desc's defaults and
// warns about overrides of services desc does not have.
func bindingsFor(desc sdk.Description, pc PluginConfig, log *slog.Logger) map[string]binding {
	out := make(map[string]binding, len(desc.Services))
	for _, spec := range desc.Services {
		sc := pc.Services[spec.Name]
		if sc.Enabled != nil && !*sc.Enabled {
			continue
		}
		b := binding{spec: spec, overlay: spec.Port}
		if sc.Port != nil {
			b.overlay = *sc.Port
		}
		if addrs, _ := sc.loopbackAddrs(); sc.Loopback != nil {
			b.loopback = addrs // validated by Config.Validate
		} else if spec.LoopbackPort != 0 {
			b.loopback = []netip.AddrPort{
				netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), spec.LoopbackPort),
				netip.AddrPortFrom(netip.IPv6Loopback(), spec.LoopbackPort),
			}
		}
		out[spec.Name] = b
	}
	for name := range pc.Services {
		if !slices.ContainsFunc(desc.Services, func(s sdk.ServiceSpec) bool { return s.Name == name }) {
			log.Warn("config overrides a service the plugin does not offer", "service", name)
		}
	}
	return out
}
