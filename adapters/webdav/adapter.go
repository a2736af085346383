// Package webdav is the WebDAV file-share plugin: every identity gets a
// private file tree, overlay peers by public key and local users by
// account and password, with shared folders between identities.
//
// It serves two services: "webdav" (plain HTTP; overlay port 80,
// loopback port 18080) and "webdavs" (HTTP over implicit TLS with the
// node CA's certificate; overlay port 443, loopback port 18443).
// Overlay connections carry the peer's proven key and need no password;
// loopback connections authenticate with HTTP Basic against the plugin's
// local accounts, managed with `mycelium webdav adduser|passwd|deluser|list`.
//
// The protocol handler (internal/dav) implements RFC 4918 classes 1, 2
// and 3 with exclusive and shared locks and persistent dead properties,
// on trees confined with os.Root (internal/store). See docs/webdav.md.
package webdav

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mycelium-go/mycelium/adapters/webdav/internal/accounts"
	"github.com/mycelium-go/mycelium/adapters/webdav/internal/dav"
	"github.com/mycelium-go/mycelium/adapters/webdav/internal/locks"
	"github.com/mycelium-go/mycelium/adapters/webdav/internal/store"
	"github.com/mycelium-go/mycelium/plugins/sdk"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Service names and default ports.
const (
	ServiceHTTP  = "webdav"
	ServiceHTTPS = "webdavs"

	PortHTTP          = 80
	PortHTTPS         = 443
	LoopbackPortHTTP  = 18080
	LoopbackPortHTTPS = 18443
)

// shutdownGrace bounds how long Serve waits for requests in flight
// after its context ends.
const shutdownGrace = 10 * time.Second

// Adapter implements sdk.Plugin and sdk.Commander.
type Adapter struct {
	version string
	log     *slog.Logger

	// Set by Configure, read-only afterwards.
	settings Settings
	db       *sql.DB
	trees    *store.Trees
	accounts *accounts.DB
	dav      *dav.Handler
	tls      *tls.Config

	mu     sync.Mutex
	closed bool
}

// New returns an unconfigured adapter of the given build version that
// logs to log (nil discards).
func New(version string, log *slog.Logger) *Adapter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Adapter{version: version, log: log.With("plugin", "webdav")}
}

// Describe implements sdk.Plugin.
func (a *Adapter) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{
		Name:    "webdav",
		Version: a.version,
		Services: []sdk.ServiceSpec{
			{Name: ServiceHTTP, Protocol: "http", Port: PortHTTP, LoopbackPort: LoopbackPortHTTP, TLS: sdk.TLSNone},
			{Name: ServiceHTTPS, Protocol: "https", Port: PortHTTPS, LoopbackPort: LoopbackPortHTTPS, TLS: sdk.TLSImplicit},
		},
	}, nil
}

// Configure implements sdk.Plugin: it validates the settings and opens
// the database and trees under cfg.DataDir.
func (a *Adapter) Configure(ctx context.Context, cfg sdk.Config, _ sdk.Host) error {
	s, err := ParseSettings(cfg.Settings)
	if err != nil {
		return err
	}
	if cfg.DataDir == "" {
		return errors.New("webdav: configure: no data directory")
	}
	if a.db != nil {
		return errors.New("webdav: configure: already configured")
	}
	var tlsCfg *tls.Config
	if cfg.TLS != nil {
		if tlsCfg, err = cfg.TLS.ServerConfig(); err != nil {
			return fmt.Errorf("webdav: configure: %w", err)
		}
		// HTTP/1.1 only, which every WebDAV client speaks; nothing is
		// gained from negotiating HTTP/2 for file transfers.
		tlsCfg.NextProtos = []string{"http/1.1"}
	}
	db, err := openDB(ctx, cfg.DataDir)
	if err != nil {
		return err
	}
	if err := a.open(ctx, db, cfg.DataDir, s); err != nil {
		db.Close()
		return err
	}
	a.tls = tlsCfg
	return nil
}

func (a *Adapter) open(ctx context.Context, db *sql.DB, dataDir string, s Settings) error {
	props, err := store.NewProps(ctx, db)
	if err != nil {
		return err
	}
	trees, err := store.NewTrees(filepath.Join(dataDir, "trees"), props)
	if err != nil {
		return err
	}
	lockStore, err := locks.NewSQLStore(ctx, db)
	if err != nil {
		return err
	}
	lm, err := locks.New(ctx, lockStore, nil)
	if err != nil {
		return err
	}
	acc, err := accounts.Open(ctx, db)
	if err != nil {
		return err
	}
	h, err := dav.New(dav.Config{
		Locks: lm, Logger: a.log,
		DefaultLockTimeout: time.Duration(s.LockTimeout), MaxLockTimeout: time.Duration(s.MaxLockTimeout),
		AllowDepthInfinity: s.PropfindInfinity, HideQuota: !s.ReportQuota,
	})
	if err != nil {
		return err
	}
	a.settings, a.db, a.trees, a.accounts, a.dav = s, db, trees, acc, h
	return nil
}

// openDB opens (creating) the plugin's SQLite database in WAL mode with
// synchronous=FULL: a success reply for a property or lock change is
// only sent after the change is on disk.
func openDB(ctx context.Context, dataDir string) (*sql.DB, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("webdav: create data directory: %w", err)
	}
	dsn := "file:" + filepath.Join(dataDir, "webdav.db") +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("webdav: open database: %w", err)
	}
	db.SetMaxOpenConns(4)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("webdav: open database: %w", err)
	}
	return db, nil
}

// Serve implements sdk.Plugin: it serves HTTP (or HTTPS for "webdavs")
// on ln until ctx ends, then shuts down gracefully and returns nil.
func (a *Adapter) Serve(ctx context.Context, service string, ln net.Listener) error {
	if a.dav == nil {
		return errors.New("webdav: serve before configure")
	}
	ln = fastListener{ln}
	switch service {
	case ServiceHTTP:
	case ServiceHTTPS:
		if a.tls == nil {
			return errors.New("webdav: service webdavs needs TLS material from the node CA")
		}
		ln = tls.NewListener(ln, a.tls)
	default:
		return fmt.Errorf("webdav: unknown service %q", service)
	}
	srv := &http.Server{
		Handler:           a,
		ConnContext:       sdk.ConnContext,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("webdav serving", "service", service, "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("webdav: serve %s: %w", service, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("webdav: serve %s: %w", service, err)
	}
	return nil
}

// Close releases the database and the trees. Serve must have returned.
func (a *Adapter) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || a.db == nil {
		return nil
	}
	a.closed = true
	return errors.Join(a.trees.Close(), a.db.Close())
}

// ServeHTTP authenticates the request and hands it to the DAV handler
// with the caller's view. Identity comes only from the connection:
// overlay peers by their proven key, loopback clients by HTTP Basic
// against the local accounts. Headers never carry identity.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	peer, ok := sdk.PeerFromContext(r.Context())
	var id identity
	switch {
	case !ok:
		http.Error(w, "403 Forbidden: connection without identity", http.StatusForbidden)
		return
	case peer.Origin == sdk.OriginOverlay && !peer.Key.IsZero():
		id = overlayIdentity(&a.settings, peer.Key)
	case peer.Origin == sdk.OriginLoopback:
		name, ok := a.basicAuth(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="`+a.settings.Realm+`", charset="UTF-8"`)
			http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
			return
		}
		id = accountIdentity(name)
	default:
		http.Error(w, "403 Forbidden", http.StatusForbidden)
		return
	}
	v, err := view(&a.settings, a.trees, id)
	if err != nil {
		a.log.Error("webdav view", "principal", id.home, "err", err)
		http.Error(w, "500 Internal Server Error", http.StatusInternalServerError)
		return
	}
	a.accessLog(w, r, id.home, func(w http.ResponseWriter) { a.dav.ServeDAV(w, r, v) })
}

// basicAuth checks HTTP Basic credentials and returns the account name.
// A Windows-style "HOST\user" name is reduced to "user".
func (a *Adapter) basicAuth(r *http.Request) (string, bool) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return "", false
	}
	if i := strings.LastIndexByte(user, '\\'); i >= 0 {
		user = user[i+1:]
	}
	if !accounts.ValidName(user) {
		return "", false
	}
	ok, err := a.accounts.Verify(r.Context(), user, pass)
	if err != nil {
		a.log.Error("webdav password check", "account", user, "err", err)
		return "", false
	}
	if !ok {
		a.log.Info("webdav login failed", "account", user, "addr", r.RemoteAddr)
	}
	return user, ok
}

var (
	_ sdk.Plugin    = (*Adapter)(nil)
	_ sdk.Commander = (*Adapter)(nil)
	_ http.Handler  = (*Adapter)(nil)
)
