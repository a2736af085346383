// Package imapd serves IMAP (go-imap v2 imapserver) over the mail store:
// IMAP4rev1 and IMAP4rev2 with IDLE, MOVE, UIDPLUS, SPECIAL-USE, NAMESPACE,
// LIST-EXTENDED/LIST-STATUS, ESEARCH/SEARCHRES, BINARY, CHILDREN and
// APPENDLIMIT. Other sessions learn about new, expunged and re-flagged
// messages through the store's per-mailbox trackers.
package imapd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/mycelium-go/mycelium/adapters/mail/internal/serve"
	"github.com/mycelium-go/mycelium/adapters/mail/store"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Authenticator checks a login (the full address and password) and
// returns the account.
type Authenticator interface {
	Login(ctx context.Context, username, password string) (store.User, error)
}

// Config configures a Server.
type Config struct {
	Store *store.Store
	Auth  Authenticator
	// TLS is the server certificate configuration (required).
	TLS *tls.Config
	// AllowPlainLoopback lets loopback connections authenticate without
	// TLS. Overlay and TLS-less connections otherwise get LOGINDISABLED.
	AllowPlainLoopback bool
	// PreAuth returns the account an overlay peer is logged in as without
	// a password (ok false: the peer must log in).
	PreAuth func(ctx context.Context, p sdk.Peer) (store.User, bool)
	// AppendLimit is the largest message APPEND accepts, in bytes.
	AppendLimit int64
	Log         *slog.Logger
}

// Server is the IMAP service.
type Server struct {
	cfg Config
}

// New validates cfg and returns a server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("new imap server: nil store")
	case cfg.Auth == nil:
		return nil, errors.New("new imap server: nil authenticator")
	case cfg.TLS == nil:
		return nil, errors.New("new imap server: nil TLS config")
	case cfg.Log == nil:
		return nil, errors.New("new imap server: nil logger")
	case cfg.AppendLimit <= 0 || cfg.AppendLimit > 1<<32-1:
		return nil, fmt.Errorf("new imap server: append limit %d out of range", cfg.AppendLimit)
	}
	return &Server{cfg: cfg}, nil
}

var caps = imap.CapSet{
	imap.CapIMAP4rev1:        {},
	imap.CapIMAP4rev2:        {},
	imap.CapNamespace:        {},
	imap.CapUIDPlus:          {},
	imap.CapESearch:          {},
	imap.CapSearchRes:        {},
	imap.CapListExtended:     {},
	imap.CapListStatus:       {},
	imap.CapMove:             {},
	imap.CapStatusSize:       {},
	imap.CapBinary:           {},
	imap.CapChildren:         {},
	imap.CapSpecialUse:       {},
	imap.CapCreateSpecialUse: {},
	imap.CapLiteralPlus:      {},
}

// Serve serves IMAP on ln until ctx ends. implicitTLS wraps every
// connection in TLS (IMAPS); otherwise clients use STARTTLS.
func (s *Server) Serve(ctx context.Context, ln net.Listener, implicitTLS bool) error {
	newSrv := func(insecure bool) *imapserver.Server {
		opts := &imapserver.Options{
			NewSession: func(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
				return s.newSession(ctx, c)
			},
			Caps:         caps,
			Logger:       serve.LibraryLog{Log: s.cfg.Log, What: "imap server"},
			InsecureAuth: insecure,
		}
		if !implicitTLS {
			opts.TLSConfig = s.cfg.TLS
		}
		return imapserver.New(opts)
	}
	secure := newSrv(false)
	secureLn := serve.NewChanListener(ln.Addr())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); secure.Serve(secureLn) }()
	var plain *imapserver.Server
	var plainLn *serve.ChanListener
	if s.cfg.AllowPlainLoopback && !implicitTLS {
		plain = newSrv(true)
		plainLn = serve.NewChanListener(ln.Addr())
		wg.Add(1)
		go func() { defer wg.Done(); plain.Serve(plainLn) }()
	}

	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var err error
	for {
		c, aerr := ln.Accept()
		if aerr != nil {
			if ctx.Err() == nil && !errors.Is(aerr, net.ErrClosed) {
				err = fmt.Errorf("imap accept: %w", aerr)
			}
			break
		}
		if implicitTLS {
			c = tls.Server(c, s.cfg.TLS)
		}
		p, _ := sdk.PeerOf(c)
		if plainLn != nil && p.Origin == sdk.OriginLoopback {
			plainLn.Push(c)
		} else {
			secureLn.Push(c)
		}
	}
	// Stop accepting first and let Serve return, then close the
	// connections: imapserver's Close must not race with Serve's start.
	secureLn.Close()
	if plainLn != nil {
		plainLn.Close()
	}
	wg.Wait()
	secure.Close()
	if plain != nil {
		plain.Close()
	}
	return err
}
