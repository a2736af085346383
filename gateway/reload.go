package gateway

import (
	"fmt"
	"reflect"
	"slices"
)

// Reload applies a new configuration while the gateway runs (SIGHUP, or
// POST /api/v1/gateway/reload):
//
//   - the access policy and groups are swapped atomically; connections
//     the gateway still carries (spliced: userspace stack) whose key the
//     new policy refuses are closed at once, allowed ones are untouched.
//     Connections handed off by descriptor (kernel TUN) belong to the
//     plugin and run until they end; only new connections see the policy;
//   - forwards that were removed or changed stop, new ones start;
//   - plugins that were added start, removed ones stop, and changed ones
//     (settings, path, checksum, services, enabled) restart with the new
//     configuration; so does a plugin whose configuration was rejected;
//   - [gateway] settings apply to what starts afterwards, except
//     socket_dir and [ca], which need a node restart.
//
// An invalid configuration changes nothing and returns the error.
func (g *Gateway) Reload(cfg Config) error {
	cfg.Gateway.fill()
	if err := cfg.Validate(); err != nil {
		return err
	}
	pol, err := cfg.policy()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	g.mu.Lock()
	if g.mu.closed {
		g.mu.Unlock()
		return ErrClosed
	}
	old := g.mu.cfg
	started := g.mu.started
	g.mu.cfg = cfg
	runners, forwards := g.mu.runners, g.mu.forwards
	g.mu.Unlock()

	g.warnRestartNeeded(old, cfg)
	set := cfg.Gateway
	set.SocketDir = old.Gateway.SocketDir
	g.set.Store(&set)
	g.policy.Store(pol)
	g.warnOpenServices(pol)
	if n := g.conns.revoke(pol); n > 0 {
		g.log.Info("closed connections whose key the new policy refuses", "count", n)
	}
	if !started {
		return nil
	}
	forwards = g.reloadForwards(forwards, cfg.Forwards)
	runners = g.reloadPlugins(runners, cfg.Plugins)
	g.mu.Lock()
	g.mu.runners, g.mu.forwards = runners, forwards
	g.mu.Unlock()
	g.log.Info("configuration reloaded", "plugins", len(runners), "forwards", len(forwards))
	return nil
}

func (g *Gateway) warnRestartNeeded(old, cfg Config) {
	if old.Gateway.SocketDir != cfg.Gateway.SocketDir {
		g.log.Warn("gateway.socket_dir changed: restart the node to apply it")
	}
	if old.CA != cfg.CA {
		g.log.Warn("[ca] changed: restart the node to apply it")
	}
}

// reloadForwards keeps unchanged forwards, stops removed ones and starts
// new ones, in the new config's order.
func (g *Gateway) reloadForwards(old []*forward, want []ForwardConfig) []*forward {
	var next []*forward
	kept := map[*forward]bool{}
	for _, fc := range want {
		i := slices.IndexFunc(old, func(f *forward) bool { return f.cfg == fc && f.err == nil && !kept[f] })
		if i >= 0 {
			kept[old[i]] = true
			next = append(next, old[i])
			continue
		}
		next = append(next, nil) // started below, after the old ones freed their ports
	}
	for _, f := range old {
		if !kept[f] {
			f.stop()
		}
	}
	for i, fc := range want {
		if next[i] == nil {
			next[i] = g.startForward(fc)
		}
	}
	return next
}

// reloadPlugins keeps runners whose configuration did not change, stops
// the others (in reverse order), and starts the new and changed ones.
func (g *Gateway) reloadPlugins(old []*runner, want []PluginConfig) []*runner {
	byName := map[string]*runner{}
	for _, r := range old {
		byName[r.cfg.Name] = r
	}
	keep := map[string]bool{}
	for _, pc := range want {
		if r := byName[pc.Name]; r != nil && reflect.DeepEqual(r.cfg, pc) && !r.permanentlyFailed() {
			keep[pc.Name] = true
		}
	}
	for i := len(old) - 1; i >= 0; i-- {
		if !keep[old[i].cfg.Name] {
			old[i].log.Info("stopping plugin for the new configuration")
			old[i].stop()
		}
	}
	next := make([]*runner, 0, len(want))
	for _, pc := range want {
		if keep[pc.Name] {
			next = append(next, byName[pc.Name])
			continue
		}
		next = append(next, g.startRunner(pc))
	}
	return next
}

// permanentlyFailed reports a plugin that will not be retried as is.
func (r *runner) permanentlyFailed() bool {
	r.st.Lock()
	defer r.st.Unlock()
	return r.st.state == StateFailed && r.st.retryAt.IsZero()
}
