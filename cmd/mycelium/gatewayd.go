package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/mycelium-go/mycelium/gateway"
)

// startGateway starts the gateway on the node's device: the userspace
// stack, or kernel sockets on the overlay address with TUN. Without a
// device there is nothing to serve on and it returns nil. The gateway is
// closed with the daemon.
//
// Wiring (daemon.go): after the node and links start,
//
//	gw, err := d.startGateway(ctx)   // mount gw.Handler(d.reloadGatewayFunc(gw)) on the API at /api/v1/gateway/
//
// and on SIGHUP call d.reloadGateway(gw).
func (d *daemon) startGateway(ctx context.Context) (*gateway.Gateway, error) {
	cfg, err := parseGatewayConfig(d.s.configRaw)
	if err != nil {
		return nil, err
	}
	var ov gateway.Overlay
	switch {
	case d.stack != nil:
		ov = gateway.NetstackOverlay{Stack: d.stack}
	case d.s.device == "tun":
		ov = &gateway.KernelOverlay{Addr: d.key.Address()}
	default:
		if len(cfg.Plugins) > 0 || len(cfg.Forwards) > 0 {
			d.log.Warn("gateway not started: plugins and forwards need a device (tun or netstack)")
		}
		return nil, nil
	}
	level := slog.LevelInfo
	if d.log.Enabled(ctx, slog.LevelDebug) {
		level = slog.LevelDebug
	}
	g, err := gateway.New(cfg, gateway.Deps{
		DataDir:  d.s.dataDir,
		Key:      d.key.Public(),
		Overlay:  ov,
		Identity: gateway.NodeIdentity{Node: d.node},
		Bus:      gateway.MessageBus{Bus: d.bus},
		Logger:   d.log,
		LogLevel: level,
	})
	if err != nil {
		return nil, err
	}
	if err := g.Start(ctx); err != nil {
		return nil, err
	}
	d.closers = append(d.closers, g.Close)
	return g, nil
}

// reloadGateway re-reads the config file and applies its gateway tables.
func (d *daemon) reloadGateway(g *gateway.Gateway) error {
	if g == nil {
		return nil
	}
	path := d.s.configFilePath
	if path == "" {
		path = defaultConfigFile()
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	if _, err := parseConfig(raw); err != nil {
		return fmt.Errorf("reload: config file %s: %w", path, err)
	}
	cfg, err := parseGatewayConfig(raw)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	return g.Reload(cfg)
}

// reloadGatewayFunc is the reload hook of the gateway's API handler.
func (d *daemon) reloadGatewayFunc(g *gateway.Gateway) gateway.ReloadFunc {
	return func(context.Context) error { return d.reloadGateway(g) }
}
