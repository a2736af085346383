package gateway

import (
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Status is the gateway's state, as served at /api/v1/gateway/plugins.
type Status struct {
	Plugins  []PluginStatus  `json:"plugins"`
	Forwards []ForwardStatus `json:"forwards"`
	// DialOut is the SOCKS5 socket plugins dial the overlay through; empty
	// without one.
	DialOut string `json:"dialOut,omitempty"`
}

// PluginStatus is one plugin's state.
type PluginStatus struct {
	Name     string `json:"name"`
	Path     string `json:"path"`
	Version  string `json:"version,omitempty"`  // from Describe
	Protocol int    `json:"protocol,omitempty"` // negotiated plugin protocol
	State    State  `json:"state"`
	Pid      int    `json:"pid,omitempty"`
	// Restarts counts restarts after the plugin had been running.
	Restarts  int             `json:"restarts"`
	LastError string          `json:"lastError,omitempty"`
	Since     time.Time       `json:"since"`            // when State was entered
	RetryAt   time.Time       `json:"retryAt,omitzero"` // next start attempt
	Healthy   bool            `json:"healthy"`          // last health check: configured, serving everything
	Health    string          `json:"health,omitempty"` // why not healthy
	Services  []ServiceStatus `json:"services"`
}

// ServiceStatus is one service's state.
type ServiceStatus struct {
	Name string `json:"name"`
	// State is "listening" (every listener open), "error" (a listener
	// failed to open; see Listeners), "unbound" (no overlay port and no
	// loopback address) or "disabled" (enabled = false).
	State    string `json:"state"`
	Protocol string `json:"protocol"`
	TLS      string `json:"tls"`
	// Overlay is "[address]:port" on the overlay; empty when off it.
	Overlay string `json:"overlay,omitempty"`
	// Loopback are the loopback listen addresses.
	Loopback  []string         `json:"loopback,omitempty"`
	Listeners []ListenerStatus `json:"listeners"`
	Serving   bool             `json:"serving"` // the plugin's Serve is running
	Error     string           `json:"error,omitempty"`
	Accepted  int64            `json:"accepted"` // connections accepted
	Refused   int64            `json:"refused"`  // refused by policy (or without a known key)
	Failed    int64            `json:"failed"`   // closed because the hand-off failed or no process ran
	Active    int64            `json:"active"`   // being handed off or spliced now
}

// ListenerStatus is one listening socket.
type ListenerStatus struct {
	Addr   string `json:"addr"`
	Origin string `json:"origin"` // "overlay" or "loopback"
	Error  string `json:"error,omitempty"`
}

// ForwardStatus is one port forward's state.
type ForwardStatus struct {
	Local    string `json:"local"`
	Remote   string `json:"remote"` // as configured
	Target   string `json:"target"` // resolved overlay address and port
	Error    string `json:"error,omitempty"`
	Accepted int64  `json:"accepted"`
	Failed   int64  `json:"failed"`
	Active   int64  `json:"active"`
}

// Status returns a snapshot of every plugin, service and forward.
func (g *Gateway) Status() Status {
	g.mu.Lock()
	runners, forwards := slices.Clone(g.mu.runners), slices.Clone(g.mu.forwards)
	g.mu.Unlock()
	st := Status{Plugins: []PluginStatus{}, Forwards: []ForwardStatus{}, DialOut: g.socksPath}
	for _, r := range runners {
		st.Plugins = append(st.Plugins, r.status())
	}
	for _, f := range forwards {
		st.Forwards = append(st.Forwards, f.status())
	}
	return st
}

// PluginStatus returns one plugin's status.
func (g *Gateway) PluginStatus(name string) (PluginStatus, bool) {
	for _, p := range g.Status().Plugins {
		if p.Name == name {
			return p, true
		}
	}
	return PluginStatus{}, false
}

func (r *runner) status() PluginStatus {
	r.st.Lock()
	defer r.st.Unlock()
	ps := PluginStatus{
		Name: r.cfg.Name, Path: r.path, Version: r.st.desc.Version, Protocol: r.st.protocol,
		State: r.st.state, Pid: r.st.pid, Restarts: r.st.restarts, LastError: r.st.lastErr,
		Since: r.st.since, RetryAt: r.st.retryAt, Services: []ServiceStatus{},
	}
	if h := r.st.health; h != nil && r.st.state == StateRunning {
		ps.Healthy = h.OK() && r.st.healthErr == ""
		ps.Health = healthText(*h, r.st.healthErr)
	} else if r.st.healthErr != "" {
		ps.Health = r.st.healthErr
	}
	for _, spec := range r.st.desc.Services {
		ps.Services = append(ps.Services, r.serviceStatusLocked(spec))
	}
	return ps
}

// serviceStatusLocked reports one service; r.st must be held.
func (r *runner) serviceStatusLocked(spec sdk.ServiceSpec) ServiceStatus {
	ss := ServiceStatus{Name: spec.Name, Protocol: spec.Protocol, TLS: string(spec.TLS), Listeners: []ListenerStatus{}}
	if h := r.st.health; h != nil {
		for _, sh := range h.Services {
			if sh.Name == spec.Name {
				ss.Serving, ss.Error = sh.Serving, sh.Err
			}
		}
	}
	s := r.st.services[spec.Name]
	if s == nil {
		ss.State = "disabled"
		return ss
	}
	switch {
	case len(s.lns) == 0:
		ss.State = "unbound"
	case s.healthy():
		ss.State = "listening"
	default:
		ss.State = "error"
	}
	if s.b.overlay != 0 {
		ss.Overlay = identityAddrPort(r.g, s.b.overlay)
	}
	for _, ap := range s.b.loopback {
		ss.Loopback = append(ss.Loopback, ap.String())
	}
	for _, l := range s.lns {
		ls := ListenerStatus{Addr: l.addr, Origin: l.origin.String()}
		if l.err != nil {
			ls.Error = l.err.Error()
		}
		ss.Listeners = append(ss.Listeners, ls)
	}
	ss.Accepted, ss.Refused, ss.Failed, ss.Active = s.accepted.Load(), s.refused.Load(), s.failed.Load(), s.active.Load()
	return ss
}

func identityAddrPort(g *Gateway, port uint16) string {
	return "[" + g.nodeAddr().String() + "]:" + strconv.Itoa(int(port))
}

func healthText(h sdk.Health, rpcErr string) string {
	switch {
	case rpcErr != "":
		return "health check failed: " + rpcErr
	case !h.Configured:
		return "not configured"
	case h.Err != "":
		return h.Err
	}
	for _, s := range h.Services {
		if !s.Serving {
			return "service " + s.Name + " not serving: " + s.Err
		}
	}
	return ""
}

func (f *forward) status() ForwardStatus {
	fs := ForwardStatus{
		Local: f.spec.local.String(), Remote: f.cfg.Remote, Target: f.spec.remote.String(),
		Accepted: f.accepted.Load(), Failed: f.failed.Load(), Active: f.active.Load(),
	}
	if f.err != nil {
		fs.Error = f.err.Error()
	}
	return fs
}

// settings returns the current [gateway] settings.
func (g *Gateway) settings() *Settings { return g.set.Load() }

// nodeAddr is the node's overlay address.
func (g *Gateway) nodeAddr() netip.Addr { return identity.AddressOf(g.deps.Key) }
