package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/plugins/sdk"
	"github.com/mycelium-go/mycelium/plugins/sdk/launch"
)

// CommandOptions describe the node for a plugin subcommand.
type CommandOptions struct {
	// DataDir is the node's data directory (as in Deps).
	DataDir string
	// Key is the node's public key.
	Key identity.PublicKey
	// Logger receives diagnostics of the short plugin start that learns
	// the plugin's services; nil discards them.
	Logger *slog.Logger
}

// PluginCommand returns the command that runs `<plugin> args...` for
// `mycelium <plugin> args...`: the plugin's binary with the same sdk.Config
// the plugin gets from the running node (settings from cfg, data
// directory, node info, TLS material from the node's CA, service
// bindings), and the terminal's standard streams. A plugin that is not in
// cfg runs from the plugin directory with empty settings.
//
// To learn its service bindings the plugin is started once under
// go-plugin and asked to Describe itself. The binary's checksum, if
// configured, is verified first. Every other enabled plugin of cfg is
// described the same way, in parallel, for the node services in the
// Config (sdk.NodeInfo.Services); one that cannot be described is left
// out with a warning on opts.Logger.
func PluginCommand(ctx context.Context, cfg Config, opts CommandOptions, name string, args ...string) (*exec.Cmd, error) {
	cfg.Gateway.fill()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{deps: Deps{DataDir: opts.DataDir, Key: opts.Key, Logger: opts.Logger}, log: opts.Logger}
	g.set.Store(&cfg.Gateway)
	pc := PluginConfig{Name: name}
	for _, p := range cfg.Plugins {
		if p.Name == name {
			pc = p
		}
	}
	var (
		others []sdk.NodeService
		wg     sync.WaitGroup
	)
	octx, cancel := context.WithCancel(ctx)
	wg.Go(func() { others = otherServices(octx, g, cfg, name) })
	defer wg.Wait()
	defer cancel() // first: an early return stops describing the others
	path := pc.binary(g.pluginDir())
	if err := verifyBinary(path, pc); err != nil {
		return nil, err
	}
	desc, err := describe(ctx, g, pc, path)
	if err != nil {
		return nil, err
	}
	if err := g.openCA(cfg); err != nil {
		return nil, err
	}
	wg.Wait()
	scfg, _, err := g.pluginConfig(pc, desc, bindingsFor(desc, pc, opts.Logger), others, opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("gateway: plugin %s: %w", name, err)
	}
	cmd, err := launch.Command(ctx, path, scfg, args...)
	if err != nil {
		return nil, fmt.Errorf("gateway: plugin %s: %w", name, err)
	}
	return cmd, nil
}

// verifyBinary checks that path exists and, if configured, its checksum.
func verifyBinary(path string, pc PluginConfig) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("gateway: no %s plugin at %s (build it with make, or set path in its [[plugin]] entry)", pc.Name, path)
	}
	if err != nil {
		return fmt.Errorf("gateway: plugin %s: %w", pc.Name, err)
	}
	defer f.Close()
	want, _ := pc.checksum()
	if want == nil {
		return nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("gateway: plugin %s: %w", pc.Name, err)
	}
	if !bytes.Equal(h.Sum(nil), want) {
		return fmt.Errorf("gateway: plugin %s: checksum of %s does not match sha256 in the config", pc.Name, path)
	}
	return nil
}

// describe starts the plugin briefly (in a private socket directory) and
// returns its description.
func describe(ctx context.Context, g *Gateway, pc PluginConfig, path string) (sdk.Description, error) {
	sock, err := os.MkdirTemp("", "mycmd-")
	if err != nil {
		return sdk.Description{}, fmt.Errorf("gateway: plugin %s: %w", pc.Name, err)
	}
	defer os.RemoveAll(sock)
	timeout := time.Duration(g.settings().StartTimeout)
	p, err := launch.Start(ctx, launch.Config{
		Name: pc.Name, Path: path, DataDir: g.pluginDataDir(pc.Name),
		SocketDir: filepath.Join(sock, "s"), StartTimeout: timeout,
		Logger: g.deps.Logger, LogLevel: slog.LevelWarn,
	})
	if err != nil {
		return sdk.Description{}, fmt.Errorf("gateway: plugin %s: %w", pc.Name, err)
	}
	defer p.Kill()
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	desc, err := p.Client.Describe(dctx)
	if err != nil {
		return sdk.Description{}, fmt.Errorf("gateway: plugin %s: describe: %w", pc.Name, err)
	}
	return desc, nil
}

// otherServices describes every enabled plugin of cfg but self, in
// parallel, and returns their services as the running node binds them.
func otherServices(ctx context.Context, g *Gateway, cfg Config, self string) []sdk.NodeService {
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		out []sdk.NodeService
	)
	addr := g.nodeAddr()
	for _, pc := range cfg.Plugins {
		if pc.Name == self || !pc.enabled() {
			continue
		}
		wg.Go(func() {
			log := g.log.With("plugin", pc.Name)
			path := pc.binary(g.pluginDir())
			err := verifyBinary(path, pc)
			var desc sdk.Description
			if err == nil {
				desc, err = describe(ctx, g, pc, path)
			}
			if err != nil {
				log.Warn("plugin left out of the node's services for this command: cannot describe it", "error", err)
				return
			}
			svcs := bindingServices(pc.Name, bindingsFor(desc, pc, log), addr)
			mu.Lock()
			defer mu.Unlock()
			out = append(out, svcs...)
		})
	}
	wg.Wait()
	return out
}
