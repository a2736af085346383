package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/gateway/acl"
)

// forwardDialTimeout bounds dialing the remote end of a forward.
const forwardDialTimeout = 30 * time.Second

// forwardSpec is a parsed ForwardConfig.
type forwardSpec struct {
	local  netip.AddrPort
	remote netip.AddrPort // overlay address and port
}

// parseForward checks a forward: a loopback local address, and a remote
// given by key or overlay address.
func parseForward(f ForwardConfig) (forwardSpec, error) {
	local, err := netip.ParseAddrPort(f.Local)
	if err != nil {
		return forwardSpec{}, fmt.Errorf("local %q: want 127.0.0.1:port or [::1]:port: %w", f.Local, err)
	}
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	if !local.Addr().IsLoopback() || local.Port() == 0 {
		return forwardSpec{}, fmt.Errorf("local %q: forwards listen on a loopback address and port only (the remote sees this node's key)", f.Local)
	}
	remote, err := parseRemote(f.Remote)
	if err != nil {
		return forwardSpec{}, fmt.Errorf("remote %q: %w", f.Remote, err)
	}
	return forwardSpec{local: local, remote: remote}, nil
}

// parseRemote parses "<64 hex key>:port" or "[overlay address]:port".
func parseRemote(s string) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, errors.New("want <public key>:port or [overlay address]:port")
	}
	host, portStr := s[:i], s[i+1:]
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}, fmt.Errorf("bad port %q", portStr)
	}
	if len(host) == 64 && !strings.ContainsAny(host, ":[]") {
		k, err := acl.ParseKey(host)
		if err != nil {
			return netip.AddrPort{}, err
		}
		return netip.AddrPortFrom(identity.AddressOf(identity.PublicKey(k)), uint16(port)), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("want <public key>:port or [overlay address]:port: %w", err)
	}
	if !identity.InOverlay(ap.Addr()) {
		return netip.AddrPort{}, fmt.Errorf("%s is not an overlay address (400::/7)", ap.Addr())
	}
	return ap, nil
}

// forward is a running port forward.
type forward struct {
	g    *Gateway
	cfg  ForwardConfig
	spec forwardSpec
	log  *slog.Logger
	ln   net.Listener
	err  error // why it is not listening
	sem  chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	accepted, failed, active atomic.Int64
}

// startForward listens on the forward's local address and serves it. A
// listen failure is logged and shown in the status.
func (g *Gateway) startForward(fc ForwardConfig) *forward {
	spec, _ := parseForward(fc) // validated by Config.Validate
	f := &forward{g: g, cfg: fc, spec: spec, sem: make(chan struct{}, g.settings().MaxConnections)}
	f.log = g.log.With("forward", spec.local.String(), "remote", spec.remote.String())
	f.ctx, f.cancel = context.WithCancel(g.ctx)
	var lc net.ListenConfig
	f.ln, f.err = lc.Listen(f.ctx, "tcp", spec.local.String())
	if f.err != nil {
		f.log.Error("cannot listen for forward", "error", f.err)
		return f
	}
	f.log.Info("forwarding")
	context.AfterFunc(f.ctx, func() { _ = f.ln.Close() })
	f.wg.Add(1)
	go f.serve()
	return f
}

// stop closes the listener and every forwarded connection, and waits.
func (f *forward) stop() {
	f.cancel()
	f.wg.Wait()
}

func (f *forward) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			if f.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			f.log.Warn("accept failed", "error", err)
			if !sleep(f.ctx, 50*time.Millisecond) {
				return
			}
			continue
		}
		select {
		case f.sem <- struct{}{}:
		case <-f.ctx.Done():
			_ = c.Close()
			return
		}
		f.accepted.Add(1)
		f.wg.Add(1)
		go f.handle(c)
	}
}

// handle dials the remote service through the overlay and relays.
func (f *forward) handle(c net.Conn) {
	defer f.wg.Done()
	defer func() { <-f.sem }()
	defer c.Close()
	dctx, cancel := context.WithTimeout(f.ctx, forwardDialTimeout)
	remote, err := f.g.deps.Overlay.Dial(dctx, "tcp", f.spec.remote.String())
	cancel()
	if err != nil {
		f.failed.Add(1)
		f.log.Warn("forward: dial failed", "error", err)
		return
	}
	f.active.Add(1)
	defer f.active.Add(-1)
	relay(f.ctx, c, remote)
}

// relay copies both ways until both directions ended, passing each
// half-close on; when ctx ends, or a direction fails, both connections
// are closed. It closes both connections before returning.
func relay(ctx context.Context, a, b net.Conn) {
	stop := context.AfterFunc(ctx, func() {
		_ = a.Close()
		_ = b.Close()
	})
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyHalf(a, b)
	}()
	copyHalf(b, a)
	<-done
	_ = a.Close()
	_ = b.Close()
}

// copyHalf copies src to dst; at EOF it half-closes dst, on error it
// closes both.
func copyHalf(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if err == nil {
		if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			return
		}
	}
	_ = dst.Close()
	_ = src.Close()
}
