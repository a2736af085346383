// Package smtpd serves SMTP with go-smtp in two roles: "submission" for the
// node's own users (AUTH over TLS, sender checks, local delivery and the
// outbound queue) and "mx" for other mesh nodes (overlay only, sender
// domain bound to the connecting node's key, local recipients only).
package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mycelium-go/mycelium/adapters/mail/addr"
	"github.com/mycelium-go/mycelium/adapters/mail/internal/serve"
	"github.com/mycelium-go/mycelium/adapters/mail/store"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Authenticator checks a login (full address and password).
type Authenticator interface {
	Login(ctx context.Context, username, password string) (store.User, error)
}

// Config configures a Server.
type Config struct {
	Store    *store.Store
	Resolver *addr.Resolver
	Auth     Authenticator // submission only
	// TLS is the certificate configuration for STARTTLS or implicit TLS
	// (required for submission; optional for mx).
	TLS *tls.Config
	// AllowPlainLoopback lets loopback connections authenticate without TLS.
	AllowPlainLoopback bool
	MaxMessageBytes    int64
	MaxRecipients      int
	// Hostname is the name in the greeting and Received: headers.
	Hostname string
	// Queued is called after a message was committed to the outbound
	// queue, to wake the delivery loop. May be nil.
	Queued func()
	Log    *slog.Logger
}

// Role selects the server's behaviour.
type Role int

const (
	RoleSubmission Role = iota + 1
	RoleMX
)

// Server is one SMTP service.
type Server struct {
	cfg  Config
	role Role
}

// New validates cfg and returns a server for role.
func New(role Role, cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("new smtp server: nil store")
	case cfg.Resolver == nil:
		return nil, errors.New("new smtp server: nil resolver")
	case cfg.Log == nil:
		return nil, errors.New("new smtp server: nil logger")
	case cfg.MaxMessageBytes <= 0:
		return nil, errors.New("new smtp server: max message size must be positive")
	case role == RoleSubmission && (cfg.Auth == nil || cfg.TLS == nil):
		return nil, errors.New("new smtp server: submission needs an authenticator and TLS")
	case role != RoleSubmission && role != RoleMX:
		return nil, fmt.Errorf("new smtp server: unknown role %d", role)
	}
	if cfg.MaxRecipients <= 0 {
		cfg.MaxRecipients = 100
	}
	if cfg.Hostname == "" {
		cfg.Hostname = cfg.Resolver.Canonical()
	}
	return &Server{cfg: cfg, role: role}, nil
}

func (s *Server) newSMTP(ctx context.Context, insecure, implicitTLS bool) *smtp.Server {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return s.newSession(ctx, c)
	}))
	srv.Domain = s.cfg.Hostname
	srv.MaxMessageBytes = s.cfg.MaxMessageBytes
	srv.MaxRecipients = s.cfg.MaxRecipients
	srv.ReadTimeout = 5 * time.Minute
	srv.WriteTimeout = 5 * time.Minute
	srv.EnableSMTPUTF8 = true
	srv.AllowInsecureAuth = insecure
	srv.ErrorLog = serve.LibraryLog{Log: s.cfg.Log, What: "smtp server"}
	if !implicitTLS {
		srv.TLSConfig = s.cfg.TLS
	}
	return srv
}

// Serve serves SMTP on ln until ctx ends, then shuts down gracefully
// (waiting up to 10 s for transactions in progress).
func (s *Server) Serve(ctx context.Context, ln net.Listener, implicitTLS bool) error {
	if implicitTLS && s.cfg.TLS == nil {
		return errors.New("smtp serve: implicit TLS without a certificate")
	}
	secure := s.newSMTP(ctx, false, implicitTLS)
	secureLn := serve.NewChanListener(ln.Addr())
	servers := []*smtp.Server{secure}
	lns := []*serve.ChanListener{secureLn}
	var plainLn *serve.ChanListener
	if s.role == RoleSubmission && s.cfg.AllowPlainLoopback && !implicitTLS {
		plainLn = serve.NewChanListener(ln.Addr())
		servers = append(servers, s.newSMTP(ctx, true, false))
		lns = append(lns, plainLn)
	}
	var wg sync.WaitGroup
	for i := range servers {
		wg.Add(1)
		go func() { defer wg.Done(); servers[i].Serve(lns[i]) }()
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var err error
	for {
		c, aerr := ln.Accept()
		if aerr != nil {
			if ctx.Err() == nil && !errors.Is(aerr, net.ErrClosed) {
				err = fmt.Errorf("smtp accept: %w", aerr)
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
	// Stop accepting and let Serve return before shutting down, so no
	// connection is added while Shutdown waits.
	for _, l := range lns {
		l.Close()
	}
	wg.Wait()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, srv := range servers {
		if serr := srv.Shutdown(sctx); serr != nil {
			srv.Close()
		}
	}
	return err
}
