// Package mail is the mail plugin: SMTP submission and IMAP for the
// node's own users, and node-to-node delivery over the mesh ("mx").
//
// Each node's canonical mail domain is the 32 hex digits of its overlay
// address under ".mycelium.internal"; aliases from the settings name other
// nodes (or this one) by key. Mail for local domains goes to local
// accounts, mail for other nodes goes through a durable queue to their mx
// service over the overlay, and anything else is refused (no open relay,
// no Internet relay). Accounts are managed with
// `mycelium mail adduser|passwd|deluser|list`, and
// `mycelium mail profile USER` writes an Apple configuration profile.
//
// Subpackages: addr (addresses, domains, the resolver), store (SQLite
// index and body files), imapd, smtpd, queue, setup (autoconfig and
// profiles).
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/mycelium-go/mycelium/adapters/mail/addr"
	"github.com/mycelium-go/mycelium/adapters/mail/imapd"
	"github.com/mycelium-go/mycelium/adapters/mail/queue"
	"github.com/mycelium-go/mycelium/adapters/mail/setup"
	"github.com/mycelium-go/mycelium/adapters/mail/smtpd"
	"github.com/mycelium-go/mycelium/adapters/mail/store"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Version is the plugin version reported by Describe.
var Version = "0.1.0"

// Service names.
const (
	SvcSubmission  = "submission"
	SvcSubmissions = "submissions"
	SvcIMAP        = "imap"
	SvcIMAPS       = "imaps"
	SvcMX          = "mx"
	SvcAutoconfig  = "autoconfig"
)

// Services is what the plugin offers, with default ports. Loopback ports
// are unprivileged; mx has no loopback listener.
var Services = []sdk.ServiceSpec{
	{Name: SvcSubmission, Protocol: "smtp", Port: 587, LoopbackPort: 1587, TLS: sdk.TLSStartTLS},
	{Name: SvcSubmissions, Protocol: "smtp", Port: 465, LoopbackPort: 1465, TLS: sdk.TLSImplicit},
	{Name: SvcIMAP, Protocol: "imap", Port: 143, LoopbackPort: 1143, TLS: sdk.TLSStartTLS},
	{Name: SvcIMAPS, Protocol: "imap", Port: 993, LoopbackPort: 1993, TLS: sdk.TLSImplicit},
	{Name: SvcMX, Protocol: "smtp", Port: 25, LoopbackPort: 0, TLS: sdk.TLSNone},
	{Name: SvcAutoconfig, Protocol: "http", Port: 8081, LoopbackPort: 18081, TLS: sdk.TLSNone},
}

// Adapter implements sdk.Plugin and sdk.Commander.
type Adapter struct {
	log *slog.Logger

	// Set by Configure.
	cfg        sdk.Config
	host       sdk.Host
	set        settings
	store      *store.Store
	res        *addr.Resolver
	queue      *queue.Queue
	submission *smtpd.Server
	mx         *smtpd.Server
	imap       *imapd.Server
	auto       http.Handler

	run struct {
		sync.Mutex
		serving int
		cancel  context.CancelFunc
		done    chan struct{}
	}
}

// New returns an unconfigured adapter logging to log.
func New(log *slog.Logger) *Adapter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Adapter{log: log.With("plugin", "mail")}
}

// Describe implements sdk.Plugin.
func (a *Adapter) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: "mail", Version: Version, Services: append([]sdk.ServiceSpec(nil), Services...)}, nil
}

// Configure implements sdk.Plugin: it validates the settings, opens the
// store and builds the servers. It starts nothing.
func (a *Adapter) Configure(ctx context.Context, cfg sdk.Config, host sdk.Host) error {
	if host == nil {
		return errors.New("mail: configure: nil host")
	}
	if a.store != nil {
		return errors.New("mail: configure: already configured")
	}
	set, err := ParseSettings(cfg.Settings)
	if err != nil {
		return err
	}
	if cfg.TLS == nil {
		return errors.New("mail: configure: no TLS material (the node CA is required: mail clients insist on TLS)")
	}
	tlsCfg, err := cfg.TLS.ServerConfig()
	if err != nil {
		return fmt.Errorf("mail: configure: %w", err)
	}
	res, err := addr.NewResolver(cfg.Node.PublicKey, cfg.Node.Address, set.aliases, host)
	if err != nil {
		return fmt.Errorf("mail: configure: %w", err)
	}
	st, err := store.Open(ctx, cfg.DataDir, a.log.With("component", "store"))
	if err != nil {
		return fmt.Errorf("mail: configure: %w", err)
	}
	a.cfg, a.host, a.set, a.store, a.res = cfg, host, set, st, res
	if err := a.build(tlsCfg, host); err != nil {
		st.Close()
		a.store = nil
		return fmt.Errorf("mail: configure: %w", err)
	}
	if n, err := st.Sweep(ctx); err != nil {
		a.log.Warn("sweep orphaned message files", "err", err)
	} else if n > 0 {
		a.log.Info("removed orphaned message files", "count", n)
	}
	a.log.Info("mail configured", "domains", res.LocalDomains(), "data_dir", cfg.DataDir)
	return nil
}

func (a *Adapter) build(tlsCfg *tls.Config, host sdk.Host) error {
	var err error
	a.queue, err = queue.New(queue.Config{
		Store: a.store, Resolver: a.res, Dialer: host,
		RetryInitial: time.Duration(a.set.RetryInitial), RetryMax: time.Duration(a.set.RetryMax),
		Expiry: time.Duration(a.set.QueueExpiry), MXPort: a.set.MXPort,
		Log: a.log.With("component", "queue"),
	})
	if err != nil {
		return err
	}
	base := smtpd.Config{
		Store: a.store, Resolver: a.res, Auth: a, TLS: tlsCfg,
		AllowPlainLoopback: a.set.AllowPlainAuthLoopback,
		MaxMessageBytes:    a.set.MaxMessageSize,
		Hostname:           a.res.Canonical(),
		Queued:             a.queue.Wake,
	}
	sub := base
	sub.Log = a.log.With("component", "submission")
	if a.submission, err = smtpd.New(smtpd.RoleSubmission, sub); err != nil {
		return err
	}
	mx := base
	mx.Auth, mx.Queued = nil, nil
	mx.Log = a.log.With("component", "mx")
	if a.mx, err = smtpd.New(smtpd.RoleMX, mx); err != nil {
		return err
	}
	a.imap, err = imapd.New(imapd.Config{
		Store: a.store, Auth: a, TLS: tlsCfg,
		AllowPlainLoopback: a.set.AllowPlainAuthLoopback,
		PreAuth:            a.preAuth,
		AppendLimit:        a.set.MaxMessageSize,
		Log:                a.log.With("component", "imap"),
	})
	if err != nil {
		return err
	}
	a.auto = &setup.AutoconfigHandler{Endpoints: a.endpointsFor, Resolver: a.res}
	return nil
}

// Serve implements sdk.Plugin. The outbound queue runs while at least one
// service is being served.
func (a *Adapter) Serve(ctx context.Context, service string, ln net.Listener) error {
	if a.store == nil {
		return errors.New("mail: serve before configure")
	}
	a.startQueue(ctx)
	defer a.stopQueue()
	var err error
	switch service {
	case SvcSubmission:
		err = a.submission.Serve(ctx, ln, false)
	case SvcSubmissions:
		err = a.submission.Serve(ctx, ln, true)
	case SvcIMAP:
		err = a.imap.Serve(ctx, ln, false)
	case SvcIMAPS:
		err = a.imap.Serve(ctx, ln, true)
	case SvcMX:
		err = a.mx.Serve(ctx, ln, false)
	case SvcAutoconfig:
		err = a.serveHTTP(ctx, ln)
	default:
		ln.Close()
		return fmt.Errorf("mail: unknown service %q", service)
	}
	if err != nil {
		return fmt.Errorf("mail: serve %s: %w", service, err)
	}
	return nil
}

func (a *Adapter) serveHTTP(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.auto,
		ConnContext:       sdk.ConnContext,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (a *Adapter) startQueue(ctx context.Context) {
	a.run.Lock()
	defer a.run.Unlock()
	a.run.serving++
	if a.run.serving > 1 {
		return
	}
	// The queue outlives this Serve call if other services still run.
	qctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	a.run.cancel, a.run.done = cancel, done
	go func() {
		defer close(done)
		a.queue.Run(qctx)
	}()
}

func (a *Adapter) stopQueue() {
	a.run.Lock()
	a.run.serving--
	var done chan struct{}
	if a.run.serving == 0 {
		a.run.cancel()
		done = a.run.done
	}
	a.run.Unlock()
	if done != nil {
		<-done
	}
}

// Close releases the store. Call it after every Serve has returned.
func (a *Adapter) Close() error {
	if a.store == nil {
		return nil
	}
	err := a.store.Close()
	a.store = nil
	return err
}

// Login implements the IMAP and SMTP authenticator: the username is the
// full address (a bare local part is accepted too), under one of the
// node's local domains.
func (a *Adapter) Login(ctx context.Context, username, password string) (store.User, error) {
	local, err := a.accountOf(username)
	if err != nil {
		return store.User{}, err
	}
	return a.store.Authenticate(ctx, local, password)
}

// accountOf maps a login or an address to the account's local part.
func (a *Adapter) accountOf(username string) (string, error) {
	if !containsAt(username) {
		return addr.NormalizeLocal(username)
	}
	ad, err := addr.Parse(username)
	if err != nil {
		return "", err
	}
	if a.res.Classify(ad.Domain) != addr.KindLocal {
		return "", fmt.Errorf("%s is not a domain of this node (its domains: %v)", ad.Domain, a.res.LocalDomains())
	}
	return ad.Local, nil
}

func containsAt(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '@' {
			return true
		}
	}
	return false
}

func (a *Adapter) preAuth(ctx context.Context, p sdk.Peer) (store.User, bool) {
	local, ok := a.set.preauth[p.Key]
	if !ok {
		return store.User{}, false
	}
	u, err := a.store.UserByLocal(ctx, local)
	if err != nil {
		a.log.Warn("preauth account missing", "peer", p.Key.String(), "user", local, "err", err)
		return store.User{}, false
	}
	return u, true
}

// endpointsFor tells a client where the services are: loopback clients
// get localhost and the loopback ports, everyone else the overlay host.
// The CalDAV/CardDAV server is the one the node runs now.
func (a *Adapter) endpointsFor(ctx context.Context, p sdk.Peer) setup.Endpoints {
	loopback := p.Origin == sdk.OriginLoopback
	host := "localhost"
	if !loopback {
		host = a.overlayHost()
	}
	ep := a.endpoints(loopback, host)
	ep.DAV, _ = davEndpoint(a.liveServices(ctx), loopback, host)
	return ep
}

func (a *Adapter) overlayHost() string {
	if a.set.Hostname != "" {
		return a.set.Hostname
	}
	if len(a.cfg.Node.Names) > 0 {
		return a.cfg.Node.Names[0]
	}
	return a.cfg.Node.Address.String()
}

func (a *Adapter) endpoints(loopback bool, host string) setup.Endpoints {
	port := func(name string) uint16 {
		var spec sdk.ServiceSpec
		for _, s := range Services {
			if s.Name == name {
				spec = s
			}
		}
		b, bound := a.cfg.Services[name]
		switch {
		case loopback && bound:
			return portOf(b.Loopback)
		case loopback:
			return spec.LoopbackPort
		case bound:
			return portOf(b.Overlay)
		default:
			return spec.Port
		}
	}
	ep := func(name string) setup.Endpoint {
		p := port(name)
		if p == 0 {
			return setup.Endpoint{}
		}
		return setup.Endpoint{Host: host, Port: p}
	}
	return setup.Endpoints{IMAPS: ep(SvcIMAPS), IMAP: ep(SvcIMAP), Submissions: ep(SvcSubmissions), Submission: ep(SvcSubmission)}
}

func portOf(ap netip.AddrPort) uint16 {
	if !ap.IsValid() {
		return 0
	}
	return ap.Port()
}

var (
	_ sdk.Plugin          = (*Adapter)(nil)
	_ sdk.Commander       = (*Adapter)(nil)
	_ imapd.Authenticator = (*Adapter)(nil)
	_ smtpd.Authenticator = (*Adapter)(nil)
)
