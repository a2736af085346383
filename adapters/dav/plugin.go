// Package dav is the CalDAV and CardDAV plugin: it offers calendars
// (events and to-dos) and address books to overlay peers, identified by
// their public keys, and to local accounts on loopback.
//
// The plugin serves one HTTP handler (package server) on two services:
// "dav", plain HTTP (the overlay already encrypts end to end), and
// "davs", HTTPS with the certificate of the node's CA, for Apple and
// Android clients that refuse to send DAV credentials without TLS. Data
// lives in one SQLite database in the plugin's data directory (package
// store). Local accounts are managed with `mycelium dav adduser|passwd|
// deluser|list`. docs/dav.md describes client setup.
package dav

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"
	_ "time/tzdata" // IANA zones for TZID even on hosts without zoneinfo

	"github.com/mycelium-go/mycelium/adapters/dav/server"
	"github.com/mycelium-go/mycelium/adapters/dav/store"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Service names and default ports.
const (
	ServiceHTTP  = "dav"
	ServiceHTTPS = "davs"

	PortHTTP          = 5232
	PortHTTPS         = 5233
	LoopbackPortHTTP  = 15232
	LoopbackPortHTTPS = 15233

	dbFile = "dav.sqlite"
)

// Version is reported in Describe.
var Version = "dev"

// Adapter is the dav plugin.
type Adapter struct {
	log *slog.Logger

	mu struct {
		sync.Mutex
		st       *store.Store
		handler  *server.Handler
		tls      *tls.Config // nil without node CA material
		settings Settings
	}
}

// New returns an unconfigured plugin that logs to log.
func New(log *slog.Logger) (*Adapter, error) {
	if log == nil {
		return nil, errors.New("dav: nil logger")
	}
	return &Adapter{log: log.With("plugin", "dav")}, nil
}

// Describe lists the two services.
func (a *Adapter) Describe(ctx context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name:    "dav",
		Version: Version,
		Services: []sdk.ServiceSpec{
			{Name: ServiceHTTP, Protocol: "http", Port: PortHTTP, LoopbackPort: LoopbackPortHTTP, TLS: sdk.TLSNone},
			{Name: ServiceHTTPS, Protocol: "http", Port: PortHTTPS, LoopbackPort: LoopbackPortHTTPS, TLS: sdk.TLSImplicit},
		},
	}, nil
}

// Configure parses the settings, opens the database and builds the
// handler. It may be called once.
func (a *Adapter) Configure(ctx context.Context, cfg sdk.Config, host sdk.Host) error {
	s, err := ParseSettings(cfg.Settings)
	if err != nil {
		return err
	}
	if cfg.DataDir == "" {
		return errors.New("dav: configure: no data directory")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mu.st != nil {
		return errors.New("dav: configure: already configured")
	}
	var tlsCfg *tls.Config
	if cfg.TLS != nil {
		if tlsCfg, err = cfg.TLS.ServerConfig(); err != nil {
			return fmt.Errorf("dav: configure: %w", err)
		}
		tlsCfg.NextProtos = []string{"http/1.1"}
	}
	st, err := openStore(ctx, cfg.DataDir, s, a.log)
	if err != nil {
		return err
	}
	links, _ := s.links() // validated by ParseSettings
	h, err := server.New(server.Config{
		Store: st, Logger: a.log, Links: links, Realm: s.Realm, MaxResourceSize: s.MaxResourceSize,
		Defaults: server.Defaults{
			CalendarName: s.DefaultCalendar, CalendarDisplayName: s.DefaultCalendarName, CalendarColor: s.color(),
			AddressBookName: s.DefaultAddressBook, AddressBookDisplay: s.DefaultAddressBookName,
		},
	})
	if err != nil {
		st.Close()
		return fmt.Errorf("dav: configure: %w", err)
	}
	a.mu.st, a.mu.handler, a.mu.tls, a.mu.settings = st, h, tlsCfg, s
	a.log.Info("configured", "data", filepath.Join(cfg.DataDir, dbFile), "tls", tlsCfg != nil, "links", len(links))
	return nil
}

func openStore(ctx context.Context, dir string, s Settings, log *slog.Logger) (*store.Store, error) {
	st, err := store.Open(ctx, filepath.Join(dir, dbFile), store.Options{
		Logger:       log,
		TombstoneTTL: time.Duration(s.TombstoneDays) * 24 * time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("dav: %w", err)
	}
	return st, nil
}

// Serve serves service on ln until ctx ends, then shuts the HTTP server
// down gracefully and returns nil.
func (a *Adapter) Serve(ctx context.Context, service string, ln net.Listener) error {
	a.mu.Lock()
	h, tlsCfg := a.mu.handler, a.mu.tls
	a.mu.Unlock()
	if h == nil {
		return errors.New("dav: serve before configure")
	}
	switch service {
	case ServiceHTTP:
	case ServiceHTTPS:
		if tlsCfg == nil {
			return errors.New("dav: serve davs: the node has no CA certificate for this plugin")
		}
		ln = tls.NewListener(ln, tlsCfg)
	default:
		return fmt.Errorf("dav: serve: unknown service %q", service)
	}
	srv := &http.Server{
		Handler:           h,
		ConnContext:       sdk.ConnContext,
		ReadHeaderTimeout: 20 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.With("service", service).Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("serving", "service", service, "addr", ln.Addr().String())
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("dav: serve %s: %w", service, err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		srv.Close()
	}
	<-errc
	return nil
}

// Close closes the database. Call it after every Serve has returned.
func (a *Adapter) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mu.st == nil {
		return nil
	}
	err := a.mu.st.Close()
	a.mu.st, a.mu.handler = nil, nil
	return err
}

var (
	_ sdk.Plugin    = (*Adapter)(nil)
	_ sdk.Commander = (*Adapter)(nil)
)
