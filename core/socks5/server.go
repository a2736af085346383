// Package socks5 is a SOCKS5 server (RFC 1928, with RFC 1929
// username/password) through which local applications and plugins reach the
// overlay when the node has no kernel TUN.
//
// The server only speaks the protocol; where a CONNECT goes is the business
// of its Dial function, typically (*netstack.Stack).Dial. It serves any
// net.Listener the caller opens, loopback TCP or a unix socket, several at
// once, with a shared bound on concurrent connections. Only CONNECT is
// supported; BIND and UDP ASSOCIATE are answered with "command not
// supported".
//
// Addresses: ATYP IPv6 is dialled as is. A domain name that is an IPv6
// literal (with or without brackets) is dialled too; other names go through
// the optional Resolve hook (ResolveHex maps "<32 hex digits>.<anything>",
// the overlay mail-domain form, to its address) and are refused with
// "address type not supported" without one. IPv4 destinations are refused
// the same way unless AllowIPv4 is set, since the overlay is IPv6 only.
package socks5

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Defaults for the Server's zero-valued fields.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultDialTimeout      = 30 * time.Second
	DefaultIdleTimeout      = 5 * time.Minute
	DefaultMaxConns         = 256
)

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("socks5: server closed")

// ErrNotAllowed can be returned (wrapped) by Dial or Resolve to refuse a
// destination by policy; the client gets reply 0x02.
var ErrNotAllowed = errors.New("socks5: connection not allowed by ruleset")

// Server is a SOCKS5 server configured by its exported fields, which must
// not change once Serve has been called. The zero value needs Dial set.
type Server struct {
	// Dial opens the connection for a CONNECT request; network is "tcp"
	// and address "[addr]:port". Its error decides the reply code:
	// syscall.ECONNREFUSED gives 0x05, ENETUNREACH 0x03, EHOSTUNREACH and
	// timeouts 0x04, ErrNotAllowed 0x02, anything else 0x01.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Resolve maps a domain name from a request to an address. Nil means
	// only IP literals are accepted. A failure gives reply 0x04.
	Resolve func(ctx context.Context, host string) (netip.Addr, error)
	// Authenticate, if set, requires RFC 1929 username/password
	// authentication and checks the credentials. Nil means no
	// authentication (method 0x00).
	Authenticate func(user, password string) bool
	// AllowIPv4 lets IPv4 destinations through to Dial; otherwise they are
	// refused with "address type not supported".
	AllowIPv4 bool
	// Logger receives per-connection debug messages. Nil discards them.
	Logger *slog.Logger
	// HandshakeTimeout bounds the negotiation up to the request.
	HandshakeTimeout time.Duration
	// DialTimeout bounds Dial and Resolve.
	DialTimeout time.Duration
	// IdleTimeout closes a relayed connection after no data moved in either
	// direction for this long. Negative disables it.
	IdleTimeout time.Duration
	// MaxConns bounds the connections handled at once across all Serve
	// calls; further clients wait in the listener's backlog.
	MaxConns int

	initOnce sync.Once
	log      *slog.Logger
	sem      chan struct{}
	done     chan struct{} // closed by Close
	mu       sync.Mutex
	closed   bool
	serving  sync.WaitGroup // running Serve calls
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.log = s.Logger
		if s.log == nil {
			s.log = slog.New(slog.DiscardHandler)
		}
		n := s.MaxConns
		if n <= 0 {
			n = DefaultMaxConns
		}
		s.sem = make(chan struct{}, n)
		s.done = make(chan struct{})
	})
}

// Serve accepts SOCKS5 clients on ln until ctx is done or Close is called,
// then closes ln and every connection it accepted and returns once their
// goroutines have ended. It returns nil after ctx ends, ErrServerClosed
// after Close, or the listener's error.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.Dial == nil {
		ln.Close()
		return errors.New("socks5: Server.Dial is nil")
	}
	s.init()
	if !s.enter() {
		ln.Close()
		return ErrServerClosed
	}
	defer s.serving.Done()

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
		case <-s.done:
			cancel()
		}
		ln.Close()
	}()
	return s.acceptLoop(ctx, ln, &wg)
}

// acceptLoop accepts connections while a slot is free and hands each to a
// goroutine counted in wg.
func (s *Server) acceptLoop(ctx context.Context, ln net.Listener, wg *sync.WaitGroup) error {
	for {
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return s.stopErr()
		}
		c, err := ln.Accept()
		if err != nil {
			<-s.sem
			if ctx.Err() != nil {
				return s.stopErr()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("socks5: accept on %v: %w", ln.Addr(), err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-s.sem }()
			s.handle(ctx, c)
		}()
	}
}

// stopErr is Serve's result once its context ended.
func (s *Server) stopErr() error {
	select {
	case <-s.done:
		return ErrServerClosed
	default:
		return nil
	}
}

// enter registers a Serve call unless the server is closed.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.serving.Add(1)
	return true
}

// Close stops every Serve call, closes their listeners and connections, and
// waits until all their goroutines have ended. It is idempotent.
func (s *Server) Close() error {
	s.init()
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	s.mu.Unlock()
	s.serving.Wait()
	return nil
}

func (s *Server) handshakeTimeout() time.Duration {
	return orDefault(s.HandshakeTimeout, DefaultHandshakeTimeout)
}

func (s *Server) dialTimeout() time.Duration { return orDefault(s.DialTimeout, DefaultDialTimeout) }

func (s *Server) idleTimeout() time.Duration { return orDefault(s.IdleTimeout, DefaultIdleTimeout) }

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
