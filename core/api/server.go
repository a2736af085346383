package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// ErrConfig is wrapped by configuration errors.
var ErrConfig = errors.New("api: bad config")

// Config configures the API listeners.
type Config struct {
	// Addr is the REST listen address (reference default
	// 127.0.0.1:8989); empty disables REST.
	Addr string
	// RPCAddr is the JSON-RPC listen address (127.0.0.1:8990); empty
	// disables JSON-RPC.
	RPCAddr string
	// Token, if set, must be sent as "Authorization: Bearer <token>" on
	// every request. It is required when a listener is not on loopback.
	Token string
	// MaxMessageSize bounds message payloads; request bodies are bounded
	// by its base64 size.
	MaxMessageSize int
	// StartTime is reported by GET /admin when the Node does not set it.
	StartTime time.Time
}

// Default returns the reference's addresses and a 16 MiB message limit.
func Default() Config {
	return Config{Addr: "127.0.0.1:8989", RPCAddr: "127.0.0.1:8990", MaxMessageSize: 16 << 20}
}

// Validate refuses a non-loopback listener without a token.
func (c *Config) Validate() error {
	if c.MaxMessageSize <= 0 {
		return fmt.Errorf("%w: max message size must be positive", ErrConfig)
	}
	for _, a := range []struct{ name, addr string }{{"api address", c.Addr}, {"json-rpc address", c.RPCAddr}} {
		if a.addr == "" {
			continue
		}
		loop, err := isLoopback(a.addr)
		if err != nil {
			return fmt.Errorf("%w: %s %q: %v", ErrConfig, a.name, a.addr, err)
		}
		if !loop && c.Token == "" {
			return fmt.Errorf("%w: %s %s is not a loopback address; set an API token (api_token in the config file) to expose the API beyond this machine", ErrConfig, a.name, a.addr)
		}
	}
	return nil
}

// isLoopback reports whether host:port binds only to loopback.
func isLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false, nil // a host name: may resolve anywhere
	}
	return ip.IsLoopback(), nil
}

// Deps are the components the API serves. Proxy may be nil.
type Deps struct {
	Node  Node
	Bus   MessageBus
	Proxy Proxy
}

// Server serves the REST and JSON-RPC APIs.
type Server struct {
	cfg   Config
	deps  Deps
	log   *slog.Logger
	mux   *http.ServeMux
	rest  http.Handler
	rpc   http.Handler
	rpcer *rpcServer

	mu        sync.Mutex
	cancel    context.CancelFunc // ends the requests' base context
	servers   []*http.Server
	listeners []net.Listener
	wg        sync.WaitGroup
	closed    bool
}

// New validates cfg and builds the handlers.
func New(cfg Config, deps Deps, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Node == nil || deps.Bus == nil || log == nil {
		return nil, fmt.Errorf("%w: nil node, bus or logger", ErrConfig)
	}
	if deps.Proxy == nil {
		deps.Proxy = noProxy{}
	}
	if cfg.StartTime.IsZero() {
		cfg.StartTime = time.Now()
	}
	s := &Server{cfg: cfg, deps: deps, log: log.With("component", "api"), mux: http.NewServeMux()}
	s.routes()
	s.rest = s.auth(s.mux)
	s.rpcer = newRPCServer(s)
	s.rpc = s.auth(s.rpcer)
	return s, nil
}

// gatewayPrefix is where other components may add routes.
const gatewayPrefix = "/api/v1/gateway/"

// Handle adds a REST route under /api/v1/gateway/ (pattern as for
// http.ServeMux, optionally with a method: "GET /api/v1/gateway/x").
// Routes get the same authentication as the rest of the API. It may be
// called before or after Start.
func (s *Server) Handle(pattern string, h http.Handler) error {
	path := pattern
	if _, p, ok := strings.Cut(pattern, " "); ok {
		path = strings.TrimSpace(p)
	}
	if !strings.HasPrefix(path, gatewayPrefix) {
		return fmt.Errorf("api: route %q is not under %s", pattern, gatewayPrefix)
	}
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("api: route %q: %v", pattern, r)
			}
		}()
		s.mux.Handle(pattern, h)
	}()
	return err
}

// Handler is the REST API (authentication included).
func (s *Server) Handler() http.Handler { return s.rest }

// RPCHandler is the JSON-RPC API (authentication included).
func (s *Server) RPCHandler() http.Handler { return s.rpc }

// Start binds the configured listeners and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	for _, l := range []struct {
		addr string
		h    http.Handler
	}{{s.cfg.Addr, s.rest}, {s.cfg.RPCAddr, s.rpc}} {
		if l.addr == "" {
			continue
		}
		if err := s.listen(ctx, l.addr, l.h); err != nil {
			s.Close()
			return err
		}
	}
	return nil
}

func (s *Server) listen(ctx context.Context, addr string, h http.Handler) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("api: listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		ln.Close()
		return errors.New("api: server closed")
	}
	s.servers = append(s.servers, srv)
	s.listeners = append(s.listeners, ln)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("api server stopped", "addr", addr, "err", err)
		}
	}()
	s.log.Info("api listening", "addr", ln.Addr().String())
	return nil
}

// Addrs returns the bound addresses (REST first), after Start.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, len(s.listeners))
	for i, ln := range s.listeners {
		out[i] = ln.Addr()
	}
	return out
}

// Close stops the listeners, ends open requests and waits.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	servers := s.servers
	s.servers = nil
	if s.cancel != nil {
		s.cancel() // ends long polls and WebSocket sessions
	}
	s.mu.Unlock()
	var errs []error
	for _, srv := range servers {
		errs = append(errs, srv.Close())
	}
	s.wg.Wait()
	s.rpcer.close()
	s.rpcer.ws.Wait()
	return errors.Join(errs...)
}
