package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/mycelium-go/mycelium/gateway/acl"
	"github.com/mycelium-go/mycelium/gateway/ca"
)

// socksName is the dial-out socket's name in the socket directory; plugin
// names cannot start with a dot, so it never clashes with a data socket.
const socksName = ".socks5"

// ErrClosed is returned by Start and Reload after Close.
var ErrClosed = errors.New("gateway: closed")

// Gateway supervises the plugins, their listeners and the forwards. Use
// New, then Start; Close stops everything.
type Gateway struct {
	deps Deps
	log  *slog.Logger

	set      atomic.Pointer[Settings] // [gateway], defaults filled in
	policy   atomic.Pointer[acl.Policy]
	reloadMu sync.Mutex // serializes Reload
	conns    connRegistry

	mu struct {
		sync.Mutex
		cfg      Config
		runners  []*runner         // in start order
		forwards []*forward        // in config order
		claims   map[string]string // service name -> plugin owning it
		topics   map[string]string // message topic -> plugin receiving it
		started  bool
		closed   bool
	}

	ca        *ca.CA // nil when disabled
	socketDir string
	ownSocket bool // socketDir was created by Start and is removed by Close
	socksPath string

	ctx    context.Context // lives from Start to Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the dial-out server
}

// New validates cfg and deps. Nothing runs until Start.
func New(cfg Config, deps Deps) (*Gateway, error) {
	if err := deps.validate(); err != nil {
		return nil, fmt.Errorf("gateway: new: %w", err)
	}
	cfg.Gateway.fill()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pol, err := cfg.policy()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	g := &Gateway{deps: deps, log: deps.Logger.With("component", "gateway")}
	set := cfg.Gateway
	g.set.Store(&set)
	g.policy.Store(pol)
	g.mu.cfg = cfg
	g.mu.claims = map[string]string{}
	g.mu.topics = map[string]string{}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	return g, nil
}

// Start opens the CA and the socket directory, starts the dial-out server
// and the forwards, and launches every enabled plugin in its own
// supervisor. It does not wait for the plugins: watch Status. A plugin
// that fails to start is reported there and retried with backoff; it
// never blocks Start. ctx bounds only Start itself.
func (g *Gateway) Start(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.mu.closed:
		return ErrClosed
	case g.mu.started:
		return errors.New("gateway: already started")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gateway: start: %w", err)
	}
	if err := g.openCA(g.mu.cfg); err != nil {
		return err
	}
	if err := g.openSocketDir(g.mu.cfg.Gateway.SocketDir); err != nil {
		return err
	}
	if err := g.startDialOut(); err != nil {
		g.removeSocketDir()
		return err
	}
	g.mu.started = true
	g.warnOpenServices(g.policy.Load())
	for _, fc := range g.mu.cfg.Forwards {
		g.mu.forwards = append(g.mu.forwards, g.startForward(fc))
	}
	for _, pc := range g.mu.cfg.Plugins {
		g.mu.runners = append(g.mu.runners, g.startRunner(pc))
	}
	return nil
}

func (g *Gateway) openCA(cfg Config) error {
	if cfg.CA.Disabled {
		return nil
	}
	c, err := ca.Open(filepath.Join(g.deps.DataDir, "ca"), ca.Options{
		CommonName: "Mycelium node CA " + g.nodeAddr().String(),
		Names:      cfg.Gateway.Names,
	})
	if err != nil {
		return fmt.Errorf("gateway: start: %w", err)
	}
	g.ca = c
	return nil
}

// openSocketDir creates the private socket directory.
func (g *Gateway) openSocketDir(dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "myc-")
		if err != nil {
			return fmt.Errorf("gateway: start: socket directory: %w", err)
		}
		g.socketDir, g.ownSocket = d, true
	} else {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("gateway: start: socket directory: %w", err)
		}
		g.socketDir = dir
	}
	if err := os.Chmod(g.socketDir, 0o700); err != nil {
		g.removeSocketDir()
		return fmt.Errorf("gateway: start: socket directory: %w", err)
	}
	return nil
}

func (g *Gateway) removeSocketDir() {
	if g.ownSocket {
		_ = os.RemoveAll(g.socketDir)
	}
}

// startDialOut serves SOCKS5 on <socket dir>/.socks5, dialing through the
// overlay.
func (g *Gateway) startDialOut() error {
	path := filepath.Join(g.socketDir, socksName)
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("gateway: start: dial-out socket: %w", err)
	}
	srv := g.deps.newDialOut(g.deps.Overlay.Dial, g.log)
	g.socksPath = path
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := srv.Serve(g.ctx, ln); err != nil && g.ctx.Err() == nil {
			g.log.Error("dial-out server stopped", "error", err)
		}
	}()
	return nil
}

// Close stops the forwards, then the plugins in reverse start order
// (listeners first, then the process), closes spliced connections, and
// waits for every goroutine. It is idempotent.
func (g *Gateway) Close() error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	g.mu.Lock()
	if g.mu.closed {
		g.mu.Unlock()
		return nil
	}
	g.mu.closed = true
	runners, forwards := g.mu.runners, g.mu.forwards
	g.mu.Unlock()
	for _, f := range forwards {
		f.stop()
	}
	for i := len(runners) - 1; i >= 0; i-- {
		runners[i].stop()
	}
	g.cancel()
	g.wg.Wait()
	g.removeSocketDir()
	return nil
}

// warnOpenServices logs services that admit any key.
func (g *Gateway) warnOpenServices(p *acl.Policy) {
	for _, s := range p.Services() {
		if p.Open(s) {
			g.log.Warn("service open to every overlay node (\"*\" in its allow list)", "service", s)
		}
	}
}

// claimService reserves a service name for a plugin; two plugins cannot
// offer the same service (the policy is keyed by service name).
func (g *Gateway) claimService(service, plugin string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if owner, ok := g.mu.claims[service]; ok && owner != plugin {
		return fmt.Errorf("service %q is already offered by plugin %q", service, owner)
	}
	g.mu.claims[service] = plugin
	return nil
}

// releaseClaims drops every service and topic claim of plugin.
func (g *Gateway) releaseClaims(plugin string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for s, p := range g.mu.claims {
		if p == plugin {
			delete(g.mu.claims, s)
		}
	}
	for t, p := range g.mu.topics {
		if p == plugin {
			delete(g.mu.topics, t)
		}
	}
}

// pluginDir is where plugin binaries without a path are found.
func (g *Gateway) pluginDir() string {
	if d := g.settings().PluginDir; d != "" {
		return d
	}
	return defaultPluginDir()
}

// allow reports whether key may reach service over the overlay now.
func (g *Gateway) allow(service string, key acl.Key) bool {
	return g.policy.Load().Allow(service, key)
}
