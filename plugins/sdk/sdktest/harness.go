package sdktest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// serveGrace is how long Close waits for each Serve to return.
const serveGrace = 10 * time.Second

// Options configures a Harness. Every field is optional.
type Options struct {
	// Settings is the plugin's settings: a json.RawMessage or []byte is
	// used as is, anything else is marshalled to JSON. Nil means {}.
	Settings any
	// TLS is the plugin's TLS material (see TLS). Nil means none.
	TLS *sdk.TLSMaterial
	// Host is the fake Host given to Configure. Nil means NewHost().
	Host *Host
	// Node is the hosting node; a zero PublicKey means Node(). Its
	// Services are the other plugins' services on the node; the harness
	// adds the plugin's own, as the gateway does.
	Node sdk.NodeInfo
	// DataDir is the plugin's data directory. Empty means t.TempDir().
	DataDir string
	// Logger receives the data plane's messages. Nil means t.Log.
	Logger *slog.Logger
}

// Harness is a configured plugin serving every service in-process.
type Harness struct {
	// Config is what Configure was given.
	Config sdk.Config
	// Description is what Describe returned.
	Description sdk.Description
	// Host is the fake Host the plugin got.
	Host *Host

	t       testing.TB
	plugin  sdk.Plugin
	ctx     context.Context
	cancel  context.CancelFunc
	demux   *sdk.Demux
	handoff *sdk.Handoff
	front   net.Listener // loopback TCP: the client side of Dial
	dialMu  sync.Mutex   // pairs each client with its accepted conn
	splices sync.WaitGroup
	serves  map[string]chan error
	once    sync.Once
}

// Start is New that fails the test on error.
func Start(t testing.TB, p sdk.Plugin, opts Options) *Harness {
	t.Helper()
	h, err := New(t, p, opts)
	if err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	return h
}

// New describes and configures p, and on success serves every service
// until the test ends (or Close). A Configure error is returned as is, so
// tests can check that bad settings are refused.
func New(t testing.TB, p sdk.Plugin, opts Options) (*Harness, error) {
	t.Helper()
	h := &Harness{t: t, plugin: p, Host: opts.Host, serves: map[string]chan error{}}
	if h.Host == nil {
		h.Host = NewHost()
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
	defer cancel()
	d, err := p.Describe(ctx)
	if err != nil {
		return nil, fmt.Errorf("describe: %w", err)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	h.Description = d
	if h.Config, err = buildConfig(t, d, opts); err != nil {
		return nil, err
	}
	if err := p.Configure(ctx, h.Config, h.Host); err != nil {
		return nil, err
	}
	t.Cleanup(h.Close)
	if err := h.startDataPlane(opts.Logger); err != nil {
		return nil, err
	}
	for _, s := range d.Services {
		ln, err := h.demux.Listen(s.Name)
		if err != nil {
			return nil, err
		}
		errc := make(chan error, 1)
		h.serves[s.Name] = errc
		go func() { errc <- p.Serve(h.ctx, s.Name, ln) }()
	}
	return h, nil
}

func buildConfig(t testing.TB, d sdk.Description, opts Options) (sdk.Config, error) {
	cfg := sdk.Config{DataDir: opts.DataDir, Node: opts.Node, TLS: opts.TLS, Services: map[string]sdk.ServiceBinding{}}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Node.PublicKey.IsZero() {
		svcs := cfg.Node.Services
		cfg.Node = Node()
		cfg.Node.Services = svcs
	}
	switch s := opts.Settings.(type) {
	case nil:
		cfg.Settings = json.RawMessage("{}")
	case json.RawMessage:
		cfg.Settings = s
	case []byte:
		cfg.Settings = s
	default:
		b, err := json.Marshal(s)
		if err != nil {
			return sdk.Config{}, fmt.Errorf("settings: %w", err)
		}
		cfg.Settings = b
	}
	var own []sdk.NodeService
	for _, s := range d.Services {
		var b sdk.ServiceBinding
		if s.Port != 0 {
			b.Overlay = netip.AddrPortFrom(cfg.Node.Address, s.Port)
		}
		if s.LoopbackPort != 0 {
			b.Loopback = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), s.LoopbackPort)
		}
		cfg.Services[s.Name] = b
		if b.Overlay.IsValid() || b.Loopback.IsValid() {
			own = append(own, sdk.NodeService{Plugin: d.Name, Name: s.Name, Protocol: s.Protocol, TLS: s.TLS, Overlay: b.Overlay, Loopback: b.Loopback})
		}
	}
	for _, s := range cfg.Node.Services {
		if s.Plugin != d.Name {
			own = append(own, s)
		}
	}
	sdk.SortNodeServices(own)
	cfg.Node.Services = own
	return cfg, nil
}

// startDataPlane listens on a data socket fed to a Demux, and on the
// loopback TCP port Dial connects to.
func (h *Harness) startDataPlane(log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.NewTextHandler(testWriter{h.t}, nil))
	}
	dir, err := os.MkdirTemp("", "sdkt")
	if err != nil {
		return err
	}
	h.t.Cleanup(func() { _ = os.RemoveAll(dir) })
	path := filepath.Join(dir, "d.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("data socket: %w", err)
	}
	h.demux = sdk.NewDemux(sdk.DemuxConfig{Logger: log})
	go func() { _ = h.demux.ServeStream(ln) }()
	if h.handoff, err = sdk.NewHandoff(sdk.HandoffConfig{SocketPath: path}); err != nil {
		return err
	}
	h.front, err = net.Listen("tcp", "127.0.0.1:0")
	return err
}

// Dial opens a connection to service as peer, through the real splice
// path: the preamble carries peer, with Service set to service and, when
// peer.Local is unset, Local set to the service's overlay binding (overlay
// peers) or loopback binding (loopback peers).
func (h *Harness) Dial(ctx context.Context, service string, peer sdk.Peer) (net.Conn, error) {
	b, ok := h.Config.Services[service]
	if !ok {
		return nil, fmt.Errorf("sdktest: dial %s: the plugin has no such service", service)
	}
	peer.Service = service
	if !peer.Local.IsValid() {
		peer.Local = b.Overlay
		if peer.Origin == sdk.OriginLoopback {
			peer.Local = b.Loopback
		}
		if !peer.Local.IsValid() {
			return nil, fmt.Errorf("sdktest: dial %s: no %s binding; set peer.Local", service, peer.Origin)
		}
	}
	if _, err := sdk.EncodePreamble(peer); err != nil {
		return nil, fmt.Errorf("sdktest: dial %s: %w", service, err)
	}
	client, host, err := h.pair(ctx)
	if err != nil {
		return nil, fmt.Errorf("sdktest: dial %s: %w", service, err)
	}
	h.splices.Add(1)
	go func() {
		defer h.splices.Done()
		_, _ = h.handoff.Splice(h.ctx, host, peer)
	}()
	return client, nil
}

// pair returns a connected loopback TCP pair: the client's end and the
// end the host hands off.
func (h *Harness) pair(ctx context.Context) (net.Conn, net.Conn, error) {
	h.dialMu.Lock()
	defer h.dialMu.Unlock()
	var d net.Dialer
	client, err := d.DialContext(ctx, "tcp", h.front.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	host, err := h.front.Accept()
	if err != nil {
		_ = client.Close()
		return nil, nil, err
	}
	return client, host, nil
}

// TLSClientConfig returns a client configuration trusting the CA of
// Options.TLS, for server name "localhost". It fails the test if the
// harness has no TLS material.
func (h *Harness) TLSClientConfig() *tls.Config {
	h.t.Helper()
	pool, err := h.Config.TLS.CAPool()
	if err != nil {
		h.t.Fatalf("sdktest: %v", err)
	}
	return &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

// Close stops the plugin: it cancels Serve's context, closes the
// listeners, and waits for every Serve, failing the test if one does not
// return in time or returned an error. It runs at the end of the test
// and is idempotent.
func (h *Harness) Close() {
	h.once.Do(func() {
		early := h.earlyReturns()
		h.cancel()
		_ = h.demux.Close()
		_ = h.front.Close()
		for name, errc := range h.serves {
			if err, ok := early[name]; ok {
				h.t.Errorf("sdktest: Serve(%s) returned before the test ended: %v", name, err)
				continue
			}
			select {
			case err := <-errc:
				if err != nil && !errors.Is(err, net.ErrClosed) {
					h.t.Errorf("sdktest: Serve(%s) returned %v after its context ended, want nil", name, err)
				}
			case <-time.After(serveGrace):
				h.t.Errorf("sdktest: Serve(%s) did not return within %v after its context ended", name, serveGrace)
			}
		}
		h.splices.Wait()
	})
}

// earlyReturns collects Serve calls that already returned.
func (h *Harness) earlyReturns() map[string]error {
	early := map[string]error{}
	for name, errc := range h.serves {
		select {
		case err := <-errc:
			early[name] = err
		default:
		}
	}
	return early
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}
