package openai

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mycelium-go/mycelium/adapters/openai/client"
	"github.com/mycelium-go/mycelium/adapters/openai/serve"
	"github.com/mycelium-go/mycelium/adapters/openai/wire"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Service names.
const (
	ServiceServe = "openai"       // the serve role, on the overlay
	ServiceLocal = "openai-local" // the client role, on loopback
)

// shutdownGrace is how long Serve lets running requests finish after its
// context ends before it closes their connections.
const shutdownGrace = 5 * time.Second

// Plugin is the openai plugin. It implements sdk.Plugin.
type Plugin struct {
	version string
	log     *slog.Logger

	mu        sync.Mutex // guards the fields below, set by Configure
	metrics   *prometheus.Registry
	serve     *serve.Handler
	announcer *serve.Announcer
	client    *client.Handler
}

// New returns the plugin. version is informational; a nil log discards.
func New(version string, log *slog.Logger) *Plugin {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Plugin{version: version, log: log.With("component", "openai")}
}

// Describe implements sdk.Plugin.
func (p *Plugin) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name:    "openai",
		Version: p.version,
		Services: []sdk.ServiceSpec{
			{Name: ServiceServe, Protocol: "http", Port: DefaultServePort, TLS: sdk.TLSNone},
			{Name: ServiceLocal, Protocol: "http", LoopbackPort: DefaultLocalPort, TLS: sdk.TLSNone},
		},
	}, nil
}

// Configure implements sdk.Plugin. It may be called once.
func (p *Plugin) Configure(_ context.Context, cfg sdk.Config, host sdk.Host) error {
	settings, err := ParseSettings(cfg.Settings)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.metrics != nil {
		return errors.New("openai: already configured")
	}
	reg := prometheus.NewRegistry()
	if settings.Serve != nil {
		if err := p.configureServe(settings.Serve, cfg, host, reg); err != nil {
			return err
		}
	}
	if settings.Client != nil {
		if err := p.configureClient(settings.Client, host, reg); err != nil {
			return err
		}
	}
	p.metrics = reg
	return nil
}

func (p *Plugin) configureServe(s *ServeSettings, cfg sdk.Config, host sdk.Host, reg *prometheus.Registry) error {
	sc, err := s.serveConfig()
	if err != nil {
		return fmt.Errorf("openai: %w", err)
	}
	if !strings.HasSuffix(strings.TrimSuffix(sc.Upstream.Path, "/"), "/v1") {
		p.log.Warn("serve.upstream does not end in /v1: requests go to <upstream>/chat/completions", "upstream", s.Upstream)
	}
	if p.serve, err = serve.New(sc, p.log.With("role", "serve"), reg); err != nil {
		return fmt.Errorf("openai: %w", err)
	}
	to, err := s.announceTo()
	if err != nil || len(to) == 0 {
		return err
	}
	if host == nil {
		return errors.New("openai: serve.announce_to needs the host's message bus")
	}
	port := DefaultServePort
	if b := cfg.Services[ServiceServe]; b.Overlay.IsValid() {
		port = b.Overlay.Port()
	}
	p.announcer, err = serve.NewAnnouncer(host, to, port, s.AnnounceInterval.or(time.Minute), p.log.With("role", "announce"))
	if err != nil {
		return fmt.Errorf("openai: %w", err)
	}
	return nil
}

func (p *Plugin) configureClient(s *ClientSettings, host sdk.Host, reg *prometheus.Registry) error {
	cc, err := s.clientConfig()
	if err != nil {
		return fmt.Errorf("openai: %w", err)
	}
	if host == nil {
		return errors.New("openai: the client role needs the host to dial the mesh")
	}
	if p.client, err = client.New(cc, host, p.log.With("role", "client"), reg); err != nil {
		return fmt.Errorf("openai: %w", err)
	}
	return nil
}

// Serve implements sdk.Plugin: it serves one service on ln until ctx ends,
// together with the role's background work (the client role's node
// checker, the serve role's announcements).
func (p *Plugin) Serve(ctx context.Context, service string, ln net.Listener) error {
	svc, err := p.service(service)
	if err != nil {
		return err
	}
	defer svc.close()
	srv := &http.Server{
		Handler:           svc.handler,
		ConnContext:       sdk.ConnContext,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	if svc.background != nil {
		wg.Go(func() { svc.background(ctx) })
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	p.log.Info("serving", "service", service, "addr", ln.Addr().String())
	select {
	case err := <-served:
		if ctx.Err() != nil && errors.Is(err, net.ErrClosed) {
			return nil // the host closed the listener while stopping us
		}
		return fmt.Errorf("openai: serve %s: %w", service, err)
	case <-ctx.Done():
	}
	stop, stopCancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer stopCancel()
	if err := srv.Shutdown(stop); err != nil {
		srv.Close() // streams still running after the grace period
	}
	<-served
	return nil
}

// service is what Serve runs for one service.
type service struct {
	handler    http.Handler
	background func(context.Context) // nil: none
	close      func()                // releases idle outgoing connections
}

// service returns the handler and background work of a service.
func (p *Plugin) service(name string) (service, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.metrics == nil {
		return service{}, errors.New("openai: Serve before Configure")
	}
	svc := service{close: func() {}}
	switch name {
	case ServiceServe:
		svc.handler = notConfigured("serve", "serve.upstream")
		if p.serve != nil {
			svc.handler, svc.close = p.serve, p.serve.Close
		}
		if p.announcer != nil {
			svc.background = p.announcer.Run
		}
	case ServiceLocal:
		svc.handler = notConfigured("client", "client.nodes and client.api_key")
		if p.client != nil {
			svc.handler, svc.background, svc.close = p.client, p.client.Run, p.client.Close
		}
	default:
		return service{}, fmt.Errorf("openai: unknown service %q", name)
	}
	svc.handler = withMetrics(svc.handler, p.metrics)
	return svc, nil
}

// notConfigured answers every request of a role that is off with 503.
func notConfigured(role, keys string) http.Handler {
	e := &wire.Error{Status: http.StatusServiceUnavailable, Type: wire.TypeServer, Code: wire.CodeNotConfigured,
		Message: fmt.Sprintf("The openai %s role is not configured on this node (settings: %s).", role, keys)}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { e.Write(w) })
}

// withMetrics serves GET /metrics (Prometheus text format) to loopback
// callers and everything else with next.
func withMetrics(next http.Handler, g prometheus.Gatherer) http.Handler {
	metrics := promhttp.HandlerFor(g, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			next.ServeHTTP(w, r)
			return
		}
		if peer, ok := sdk.PeerFromContext(r.Context()); !ok || peer.Origin != sdk.OriginLoopback {
			(&wire.Error{Status: http.StatusForbidden, Type: wire.TypePermission, Code: wire.CodeForbidden,
				Message: "Metrics are served to loopback callers only."}).Write(w)
			return
		}
		metrics.ServeHTTP(w, r)
	})
}

var _ sdk.Plugin = (*Plugin)(nil)
