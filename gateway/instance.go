package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/mycelium-go/mycelium/gateway/ca"
	"github.com/mycelium-go/mycelium/plugins/sdk"
	"github.com/mycelium-go/mycelium/plugins/sdk/launch"
)

// instance is one running process of a plugin.
type instance struct {
	p        *launch.Plugin
	desc     sdk.Description
	bindings map[string]binding // by service name; disabled services absent
	renewAt  time.Time          // when its TLS leaf is due; zero without TLS
}

func (i *instance) kill() { i.p.Kill() }

// exited reports whether the process has exited.
func (i *instance) exited() bool {
	select {
	case <-i.p.Done():
		return true
	default:
		return false
	}
}

// start launches a process and takes it through Describe and Configure,
// then opens (or keeps) the service listeners. On error the process is
// gone.
func (r *runner) start(ctx context.Context) (*instance, error) {
	set := r.g.settings()
	sum, _ := r.cfg.checksum() // validated by Config.Validate
	p, err := launch.Start(ctx, launch.Config{
		Name:         r.cfg.Name,
		Path:         r.path,
		SHA256:       sum,
		DataDir:      r.g.pluginDataDir(r.cfg.Name),
		SocketDir:    r.g.socketDir,
		StartTimeout: time.Duration(set.StartTimeout),
		Logger:       r.g.deps.Logger,
		LogLevel:     r.g.deps.LogLevel,
	})
	if err != nil {
		return nil, err
	}
	inst := &instance{p: p}
	if err := r.configure(ctx, inst); err != nil {
		p.Kill()
		return nil, err
	}
	r.reconcile(inst.bindings)
	return inst, nil
}

// configure runs Describe and Configure on a fresh process.
func (r *runner) configure(ctx context.Context, inst *instance) error {
	timeout := time.Duration(r.g.settings().StartTimeout)
	dctx, cancel := context.WithTimeout(ctx, timeout)
	desc, err := inst.p.Client.Describe(dctx)
	cancel()
	if err != nil {
		return fmt.Errorf("describe: %w", err)
	}
	if desc.Name != r.cfg.Name {
		r.log.Warn("plugin describes itself under another name", "described", desc.Name)
	}
	for _, s := range desc.Services {
		if err := r.g.claimService(s.Name, r.cfg.Name); err != nil {
			return fmt.Errorf("%w (%w)", err, errPermanent)
		}
	}
	inst.desc = desc
	bindings := r.bindings(desc)
	inst.bindings = bindings
	cfg, renewAt, err := r.g.pluginConfig(r.cfg, desc, bindings, r.g.nodeServices(), r.log)
	if err != nil {
		return err
	}
	inst.renewAt = renewAt
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host := sdk.HostServices{Callbacks: &hostServer{g: r.g, plugin: r.cfg.Name}, SOCKSPath: r.g.socksPath}
	if err := inst.p.Client.Configure(cctx, cfg, host); err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	return nil
}

// pluginConfig builds the sdk.Config a plugin gets in Configure (and its
// subcommands in their environment). Its node services are the plugin's
// own, from bindings, and the other plugins' in others. renewAt is when
// its TLS leaf is due.
func (g *Gateway) pluginConfig(pc PluginConfig, desc sdk.Description, bindings map[string]binding, others []sdk.NodeService, log *slog.Logger) (cfg sdk.Config, renewAt time.Time, err error) {
	settings, err := pc.settingsJSON()
	if err != nil {
		return cfg, renewAt, fmt.Errorf("%w (%w)", err, errPermanent)
	}
	names := g.settings().Names
	addr := g.nodeAddr()
	cfg = sdk.Config{
		Settings: settings,
		DataDir:  g.pluginDataDir(pc.Name),
		Node:     g.deps.nodeInfo(names),
		Services: map[string]sdk.ServiceBinding{},
	}
	for name, b := range bindings {
		cfg.Services[name] = b.sdk(addr)
	}
	cfg.Node.Services = withOthers(pc.Name, bindingServices(pc.Name, bindings, addr), others)
	if g.ca == nil || !servesTLS(desc) {
		return cfg, renewAt, nil
	}
	leaf, err := g.ca.Leaf(leafRequest(pc.Name, addr, names))
	if err != nil {
		return cfg, renewAt, fmt.Errorf("TLS certificate: %w", err)
	}
	for _, n := range leaf.Skipped {
		log.Warn("node name left out of the TLS certificate: the CA's name constraints do not cover it; move the CA directory away to create a new CA (clients must then trust the new one)", "name", n, "ca_dir", g.ca.Dir())
	}
	cfg.TLS = &sdk.TLSMaterial{CertPEM: leaf.CertPEM, KeyPEM: leaf.KeyPEM, CAPEM: g.ca.CertPEM()}
	return cfg, leaf.RenewAt(), nil
}

// leafRequest asks for a certificate valid for every way a client may
// name the node: the overlay address, loopback, the node's names and its
// mail domain.
func leafRequest(plugin string, addr netip.Addr, names []string) ca.LeafRequest {
	dns := append([]string{"localhost", ca.MailDomain(addr)}, names...)
	return ca.LeafRequest{
		Name:     plugin,
		DNSNames: dns,
		IPs:      []netip.Addr{addr, netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()},
	}
}

// servesTLS reports whether any service of desc uses TLS.
func servesTLS(desc sdk.Description) bool {
	for _, s := range desc.Services {
		if s.TLS != sdk.TLSNone {
			return true
		}
	}
	return false
}

func (g *Gateway) pluginDataDir(name string) string {
	return filepath.Join(g.deps.DataDir, "plugins", name)
}
