package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
	wgtun "golang.zx2c4.com/wireguard/tun"

	"github.com/mycelium-go/mycelium/core/api"
	"github.com/mycelium-go/mycelium/core/api/nodeapi"
	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/link"
	"github.com/mycelium-go/mycelium/core/message"
	"github.com/mycelium-go/mycelium/core/metrics"
	"github.com/mycelium-go/mycelium/core/netstack"
	"github.com/mycelium-go/mycelium/core/node"
	"github.com/mycelium-go/mycelium/core/socks5"
	coretun "github.com/mycelium-go/mycelium/core/tun"
	"github.com/mycelium-go/mycelium/gateway"
)

// Run runs the node until SIGINT or SIGTERM.
func (c *RunCmd) Run(g *Globals, kctx *kong.Context) error {
	file, raw, err := loadConfigFile(g.ConfigFile)
	if err != nil {
		return err
	}
	s, err := c.mergeSettings(g, kctx, &file.fileConfig)
	if err != nil {
		return err
	}
	s.configRaw = raw
	log := stderrLogger(g)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := newDaemon(ctx, s, log)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down")
			return d.Close()
		case <-hup:
			d.reload()
		}
	}
}

// daemon is a running node with everything around it. Fields are closed in
// reverse order of creation.
type daemon struct {
	s       *settings
	log     *slog.Logger
	key     *identity.KeyPair
	stack   *netstack.Stack // nil unless device == netstack
	node    *node.Node
	links   *link.Manager
	bus     *message.Bus
	api     *api.Server
	gw      *gateway.Gateway // nil without a device
	closers []func() error
}

func newDaemon(ctx context.Context, s *settings, log *slog.Logger) (d *daemon, err error) {
	d = &daemon{s: s, log: log}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	kp, created, err := identity.LoadOrCreateKeyFile(s.keyFile)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("created a new key file", "path", s.keyFile)
	}
	d.key = kp
	if err := os.MkdirAll(s.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}

	dev, err := d.openDevice()
	if err != nil {
		return nil, err
	}
	ncfg := node.Default()
	ncfg.Key = kp
	ncfg.Router = s.router
	ncfg.BatchScheduling = s.batchSched
	n, err := node.New(ncfg, dev, log)
	if err != nil {
		if dev != nil {
			dev.Close()
		}
		return nil, err
	}
	d.node = n
	if err := n.Start(ctx); err != nil {
		return nil, err
	}
	d.closers = append(d.closers, n.Close)

	lc := s.link
	lc.RouterID = n.Router().ID()
	m, err := link.New(lc, n, log)
	if err != nil {
		return nil, err
	}
	if err := m.Start(ctx); err != nil {
		return nil, fmt.Errorf("links: %w", err)
	}
	d.links = m
	d.closers = append(d.closers, m.Close)

	if err := d.startBus(ctx); err != nil {
		return nil, err
	}
	if err := d.startSOCKS5(ctx); err != nil {
		return nil, err
	}
	if d.gw, err = d.startGateway(ctx); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if err := d.startAPI(ctx); err != nil {
		return nil, err
	}
	log.Info("mycelium node running",
		"address", kp.Address(), "subnet", kp.Subnet(), "public_key", kp.Public().String(),
		"device", s.device, "tcp", m.TCPAddr(), "quic", m.QUICAddr())
	return d, nil
}

// startBus runs the message bus on the node.
func (d *daemon) startBus(ctx context.Context) error {
	cfg := message.Default()
	cfg.Key = d.key.Public()
	if d.s.topicConfig != "" {
		topics, err := message.LoadTopicFile(d.s.topicConfig)
		if err != nil {
			return fmt.Errorf("topic config: %w", err)
		}
		cfg.Topics = topics
	}
	bus, err := message.New(cfg, d.node, d.node, d.log)
	if err != nil {
		return err
	}
	d.node.SetMessageHandler(bus.Handle)
	if err := bus.Start(ctx); err != nil {
		return err
	}
	d.bus = bus
	d.closers = append(d.closers, func() error {
		err := bus.Close()
		d.node.SetMessageHandler(nil)
		return err
	})
	return nil
}

// startAPI serves the REST and JSON-RPC APIs (with the gateway's routes)
// and, when configured, the Prometheus metrics.
func (d *daemon) startAPI(ctx context.Context) error {
	adapter := nodeapi.New(ctx, d.node, d.links, time.Now())
	cfg := api.Default()
	cfg.Addr, cfg.RPCAddr, cfg.Token = d.s.apiAddr, d.s.jsonrpcAddr, d.s.apiToken
	srv, err := api.New(cfg, api.Deps{Node: adapter, Bus: d.bus}, d.log)
	if err != nil {
		return err
	}
	if d.gw != nil {
		if err := srv.Handle("/api/v1/gateway/", d.gw.Handler(d.reloadGatewayFunc(d.gw))); err != nil {
			return err
		}
	}
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	d.api = srv
	d.closers = append(d.closers, srv.Close)

	if d.s.metricsAddr == "" {
		return nil
	}
	exp := metrics.NewExporter()
	exp.Add(adapter.NodeSamples)
	exp.Add(adapter.PeerSamples)
	exp.Add(d.bus.Samples)
	ms, err := metrics.NewServer(d.s.metricsAddr, exp, d.log)
	if err != nil {
		return err
	}
	if err := ms.Start(ctx); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	d.closers = append(d.closers, ms.Close)
	return nil
}

// openDevice creates the configured data-plane device (nil for none).
func (d *daemon) openDevice() (wgtun.Device, error) {
	switch d.s.device {
	case "tun":
		dev, err := coretun.Create(coretun.Config{Name: d.s.tunName, Addr: d.key.Address(), Logger: d.log})
		if err != nil {
			if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EPERM) {
				return nil, fmt.Errorf("create TUN device %q: %w (run as root, or use --device netstack, which needs no root)", d.s.tunName, err)
			}
			return nil, fmt.Errorf("create TUN device %q: %w", d.s.tunName, err)
		}
		return dev, nil
	case "netstack":
		st, err := netstack.New(netstack.Config{Addr: d.key.Address(), Logger: d.log})
		if err != nil {
			return nil, err
		}
		d.stack = st
		return st, nil
	default:
		return nil, nil
	}
}

// dial connects to an overlay address through the node's device: the
// userspace stack, or the kernel (whose route for 400::/7 is the TUN).
func (d *daemon) dial(ctx context.Context, network, address string) (net.Conn, error) {
	switch {
	case d.stack != nil:
		return d.stack.Dial(ctx, network, address)
	case d.s.device == "tun":
		var nd net.Dialer
		return nd.DialContext(ctx, network, address)
	default:
		return nil, errors.New("this node has no IP device (--no-tun)")
	}
}

// startSOCKS5 serves SOCKS5 into the mesh when configured.
func (d *daemon) startSOCKS5(ctx context.Context) error {
	addr := d.s.socks5Listen
	if addr == "" {
		return nil
	}
	if d.s.device == "none" {
		return errors.New("socks5_listen needs a device: with --no-tun there is nothing to dial through")
	}
	ln, err := listenLocal(addr)
	if err != nil {
		return fmt.Errorf("socks5: %w", err)
	}
	srv := &socks5.Server{Dial: d.dial, Resolve: socks5.ResolveHex, Logger: d.log.With("component", "socks5")}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ctx, ln)
	}()
	d.closers = append(d.closers, func() error {
		err := srv.Close()
		<-done
		return err
	})
	d.log.Info("socks5 listening", "addr", ln.Addr().String())
	return nil
}

// listenLocal listens on "unix:/path" or a TCP address, refusing TCP
// addresses that are not loopback: a SOCKS5 server into the mesh must not
// be open to the network.
func listenLocal(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		os.Remove(path)
		ln, err := net.Listen("unix", path)
		if err == nil {
			os.Chmod(path, 0o600)
		}
		return ln, err
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%s is not a loopback address", addr)
	}
	return net.Listen("tcp", addr)
}

// reload re-reads what can change at runtime (SIGHUP).
func (d *daemon) reload() {
	d.log.Info("reload requested")
	if err := d.reloadGateway(d.gw); err != nil {
		d.log.Error("reload failed; the running configuration is unchanged", "err", err)
		return
	}
	d.log.Info("reloaded")
}

// Close stops everything in reverse order of start.
func (d *daemon) Close() error {
	var errs []error
	for i := len(d.closers) - 1; i >= 0; i-- {
		if err := d.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	d.closers = nil
	return errors.Join(errs...)
}
