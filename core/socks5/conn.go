package socks5

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"
)

// handle serves one client: negotiation, request, dial, reply, relay. The
// client connection is closed when it returns, and earlier if ctx ends.
func (s *Server) handle(ctx context.Context, c net.Conn) {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	log := s.log.With("client", c.RemoteAddr())

	c.SetDeadline(time.Now().Add(s.handshakeTimeout()))
	q, err := s.negotiate(c)
	if err != nil {
		s.fail(c, log, err)
		return
	}
	// The dial has its own timeout; the handshake deadline must not cut
	// the reply that follows a slow dial.
	c.SetDeadline(time.Time{})
	remote, err := s.connect(ctx, q)
	c.SetWriteDeadline(time.Now().Add(s.handshakeTimeout()))
	if err != nil {
		log.Debug("socks5 connect failed", "target", q.target(), "err", err)
		s.fail(c, log, err)
		return
	}
	stopRemote := context.AfterFunc(ctx, func() { remote.Close() })
	defer stopRemote()
	defer remote.Close()
	if _, err := c.Write(reply(ReplySucceeded, addrPortOf(remote.LocalAddr()))); err != nil {
		log.Debug("socks5 write reply", "err", err)
		return
	}
	c.SetDeadline(time.Time{})
	log.Debug("socks5 connected", "target", q.target(), "remote", remote.RemoteAddr())
	s.relay(c, remote)
}

// fail answers a failed request with its reply code (clients that do not
// speak SOCKS5 get no answer) and closes gracefully: the write side first,
// then whatever the client still sends is drained for a moment, so that the
// close is a FIN the client can read after the reply, not a RST.
func (s *Server) fail(c net.Conn, log *slog.Logger, err error) {
	var re *replyError
	if errors.As(err, &re) {
		c.Write(reply(re.code, netip.AddrPort{}))
	}
	log.Debug("socks5 request failed", "err", err)
	closeWrite(c)
	c.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.Copy(io.Discard, io.LimitReader(c, lingerBytes))
}

// Bounds of the graceful close after a failure.
const (
	lingerTimeout = time.Second
	lingerBytes   = 64 << 10
)

// negotiate runs method selection, optional authentication, and reads the
// request.
func (s *Server) negotiate(c net.Conn) (request, error) {
	methods, err := readGreeting(c)
	if err != nil {
		return request{}, err
	}
	want := byte(methodNoAuth)
	if s.Authenticate != nil {
		want = methodUserPass
	}
	if !slices.Contains(methods, want) {
		c.Write([]byte{version5, methodNoAcceptable})
		return request{}, fmt.Errorf("socks5: client offers methods %x, want %#02x", methods, want)
	}
	if _, err := c.Write([]byte{version5, want}); err != nil {
		return request{}, fmt.Errorf("socks5: write method: %w", err)
	}
	if want == methodUserPass {
		if err := s.authenticate(c); err != nil {
			return request{}, err
		}
	}
	return readRequest(c)
}

// authenticate runs the RFC 1929 subnegotiation.
func (s *Server) authenticate(c net.Conn) error {
	user, pass, err := readUserPass(c)
	if err != nil {
		return err
	}
	if !s.Authenticate(user, pass) {
		c.Write([]byte{authVersion, 0x01})
		return fmt.Errorf("socks5: authentication failed for user %q", user)
	}
	if _, err := c.Write([]byte{authVersion, 0x00}); err != nil {
		return fmt.Errorf("socks5: write auth status: %w", err)
	}
	return nil
}

// connect carries out a request: resolve, check, dial.
func (s *Server) connect(ctx context.Context, q request) (net.Conn, error) {
	if q.cmd != cmdConnect {
		return nil, replyErr(ReplyCommandNotSupported, "command %#02x", q.cmd)
	}
	ctx, cancel := context.WithTimeout(ctx, s.dialTimeout())
	defer cancel()
	addr, err := s.resolve(ctx, q)
	if err != nil {
		return nil, err
	}
	if addr = addr.Unmap(); addr.Is4() && !s.AllowIPv4 {
		return nil, replyErr(ReplyAddrNotSupported, "ipv4 destination %v", addr)
	}
	target := netip.AddrPortFrom(addr, q.port).String()
	conn, err := s.Dial(ctx, "tcp", target)
	if err != nil {
		return nil, &replyError{code: replyCode(err), err: fmt.Errorf("dial %s: %w", target, err)}
	}
	return conn, nil
}

// resolve returns the address of the request's destination.
func (s *Server) resolve(ctx context.Context, q request) (netip.Addr, error) {
	if q.host == "" {
		return q.addr, nil
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(q.host, "["), "]")); err == nil && a.Zone() == "" {
		return a, nil
	}
	if s.Resolve == nil {
		return netip.Addr{}, replyErr(ReplyAddrNotSupported, "domain name %q and no resolver", q.host)
	}
	a, err := s.Resolve(ctx, q.host)
	if err != nil {
		code := ReplyHostUnreachable
		if errors.Is(err, ErrNotAllowed) {
			code = ReplyNotAllowed
		}
		return netip.Addr{}, &replyError{code: code, err: fmt.Errorf("resolve %q: %w", q.host, err)}
	}
	return a, nil
}

// replyCode maps a dial error to a SOCKS5 reply code.
func replyCode(err error) byte {
	var ne net.Error
	switch {
	case errors.Is(err, ErrNotAllowed):
		return ReplyNotAllowed
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReplyConnectionRefused
	case errors.Is(err, syscall.ENETUNREACH):
		return ReplyNetworkUnreachable
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.EHOSTDOWN),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ReplyHostUnreachable
	}
	return ReplyGeneralFailure
}

// addrPortOf returns the IP address and port of a, or the zero value.
func addrPortOf(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	return netip.AddrPort{}
}

// StaticCredentials returns an Authenticate function that accepts exactly
// one user name and password, compared in constant time.
func StaticCredentials(user, password string) func(user, password string) bool {
	return func(gotUser, gotPass string) bool {
		u := subtle.ConstantTimeCompare([]byte(gotUser), []byte(user))
		p := subtle.ConstantTimeCompare([]byte(gotPass), []byte(password))
		return u&p == 1
	}
}
