package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mycelium-go/mycelium/gateway/acl"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// service is the gateway side of one plugin service: its listeners, which
// outlive plugin restarts, and the hand-off of every accepted connection
// to whichever process of the plugin is running.
type service struct {
	r    *runner
	name string
	b    binding
	log  *slog.Logger
	sem  chan struct{} // bounds connections being handed off or spliced

	ctx    context.Context // ends when the service closes
	cancel context.CancelFunc
	wg     sync.WaitGroup
	lns    []*svcListener

	accepted, refused, failed, active atomic.Int64
}

// svcListener is one listening socket of a service.
type svcListener struct {
	addr   string         // ap as text
	ap     netip.AddrPort // where it listens
	origin sdk.Origin
	ln     net.Listener // nil if opening failed
	err    error
}

// openService opens the listeners of a binding and starts accepting.
// Listeners that fail to open are reported in the status.
func (r *runner) openService(name string, b binding) *service {
	s := &service{r: r, name: name, b: b, sem: make(chan struct{}, r.g.settings().MaxConnections)}
	s.log = r.log.With("service", name)
	s.ctx, s.cancel = context.WithCancel(r.ctx)
	if b.overlay != 0 {
		ap := netip.AddrPortFrom(r.g.nodeAddr(), b.overlay)
		l := &svcListener{addr: ap.String(), ap: ap, origin: sdk.OriginOverlay}
		l.ln, l.err = r.g.deps.Overlay.Listen(s.ctx, b.overlay, s.admit)
		s.lns = append(s.lns, l)
	}
	for _, ap := range b.loopback {
		l := &svcListener{addr: ap.String(), ap: ap, origin: sdk.OriginLoopback}
		var lc net.ListenConfig
		l.ln, l.err = lc.Listen(s.ctx, "tcp", ap.String())
		s.lns = append(s.lns, l)
	}
	context.AfterFunc(s.ctx, s.closeListeners)
	for _, l := range s.lns {
		if l.err != nil {
			s.log.Error("cannot listen", "addr", l.addr, "origin", l.origin.String(), "error", l.err)
			continue
		}
		s.log.Info("listening", "addr", l.addr, "origin", l.origin.String())
		s.wg.Add(1)
		go s.serve(l)
	}
	return s
}

// healthy reports whether every listener opened.
func (s *service) healthy() bool {
	for _, l := range s.lns {
		if l.err != nil {
			return false
		}
	}
	return true
}

// close stops the listeners, closes spliced connections and waits for
// every goroutine of the service.
func (s *service) close() {
	s.cancel()
	s.closeListeners()
	s.wg.Wait()
}

func (s *service) closeListeners() {
	for _, l := range s.lns {
		if l.ln != nil {
			_ = l.ln.Close()
		}
	}
}

// admit is the overlay listener's admission check: the key owning the
// remote address must be allowed. It runs at SYN time on the userspace
// stack.
func (s *service) admit(remote netip.AddrPort) bool {
	key, ok := s.r.g.deps.Identity.PublicKeyOf(remote.Addr())
	if ok && s.r.g.allow(s.name, acl.Key(key)) {
		return true
	}
	s.refused.Add(1)
	s.log.Debug("connection refused by policy", "addr", remote.String(), "peer", keyString(key, ok))
	return false
}

// serve accepts on one listener until the service closes.
func (s *service) serve(l *svcListener) {
	defer s.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("accept failed", "addr", l.addr, "error", err)
			if !sleep(s.ctx, 50*time.Millisecond) {
				return
			}
			continue
		}
		select {
		case s.sem <- struct{}{}:
		case <-s.ctx.Done():
			_ = c.Close()
			return
		}
		s.accepted.Add(1)
		s.wg.Add(1)
		go s.handle(c, l.origin)
	}
}

// handle identifies the peer, re-checks the policy, waits for a running
// plugin process if it is restarting, and hands the connection over.
func (s *service) handle(c net.Conn, origin sdk.Origin) {
	defer s.wg.Done()
	defer func() { <-s.sem }()
	peer, err := s.identify(c, origin)
	if err != nil {
		s.refused.Add(1)
		s.log.Debug("connection refused", "addr", c.RemoteAddr().String(), "error", err)
		reset(c)
		return
	}
	log := s.log.With("peer", keyString(peer.Key, origin == sdk.OriginOverlay), "addr", peer.Addr.String())
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	entry := s.r.g.conns.add(s.name, peer, cancel)
	defer s.r.g.conns.remove(entry)
	s.active.Add(1)
	defer s.active.Add(-1)
	wait := time.Duration(s.r.g.settings().RestartWait)
	for attempt := 1; ; attempt++ {
		inst, err := s.r.current(ctx, wait)
		if err != nil {
			s.failed.Add(1)
			log.Warn("connection closed: plugin not running", "error", err)
			_ = c.Close()
			return
		}
		log.Debug("handing off connection", "path", handoffPath(c), "attempt", attempt)
		err = inst.p.Handoff.TryDeliver(ctx, c, peer)
		if errors.Is(err, sdk.ErrNotDelivered) && attempt == 1 && ctx.Err() == nil {
			// The process went away between current and the hand-off
			// (a crash, kill -9): the connection is still unread, so it
			// goes to the restarted process instead of being lost. Wait
			// for this one to be reaped so current does not return it.
			log.Debug("hand-off failed, waiting for the plugin to restart", "error", err)
			select {
			case <-inst.p.Done():
				continue
			case <-time.After(wait):
			case <-ctx.Done():
			}
		}
		if errors.Is(err, sdk.ErrNotDelivered) {
			_ = c.Close()
		}
		if err != nil && ctx.Err() == nil {
			s.failed.Add(1)
			log.Warn("hand-off failed", "error", err)
		}
		return
	}
}

// identify builds the peer identity of an accepted connection. Overlay
// connections must come from an address whose key the policy allows.
func (s *service) identify(c net.Conn, origin sdk.Origin) (sdk.Peer, error) {
	remote, ok1 := tcpAddrPort(c.RemoteAddr())
	local, ok2 := tcpAddrPort(c.LocalAddr())
	if !ok1 || !ok2 {
		return sdk.Peer{}, fmt.Errorf("connection without TCP addresses (%v, %v)", c.RemoteAddr(), c.LocalAddr())
	}
	p := sdk.Peer{Addr: remote, Local: local, Origin: origin, Service: s.name}
	if origin == sdk.OriginLoopback {
		return p, nil
	}
	key, ok := s.r.g.deps.Identity.PublicKeyOf(remote.Addr())
	if !ok {
		return p, fmt.Errorf("no key known for %s", remote.Addr())
	}
	if !s.r.g.allow(s.name, acl.Key(key)) {
		return p, fmt.Errorf("key %s not allowed", key)
	}
	p.Key = sdk.PublicKey(key)
	return p, nil
}

// handoffPath names the path Deliver takes for c: kernel sockets are
// passed by descriptor, anything else is spliced.
func handoffPath(c net.Conn) string {
	if _, ok := c.(*net.TCPConn); ok {
		return "fd"
	}
	return "splice"
}

// reset closes c, with a TCP reset when it is a kernel socket.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

func keyString(k [32]byte, ok bool) string {
	if !ok || k == ([32]byte{}) {
		return "none"
	}
	return acl.Key(k).String()
}

// reconcile makes the listeners match the bindings of a freshly
// configured process: unchanged services keep their listeners (and the
// connections waiting on them), changed or failed ones are reopened,
// removed ones closed.
func (r *runner) reconcile(want map[string]binding) {
	r.st.Lock()
	services := r.st.services
	r.st.Unlock()
	next := make(map[string]*service, len(want))
	for name, s := range services {
		b, ok := want[name]
		if ok && b.sameListeners(s.b) && s.healthy() {
			next[name] = s
			continue
		}
		s.close()
	}
	for name, b := range want {
		if next[name] == nil {
			next[name] = r.openService(name, b)
		}
	}
	r.st.Lock()
	for name, s := range next {
		s.b = want[name] // the spec may have changed; guarded by r.st
	}
	r.st.services = next
	r.st.Unlock()
}

// closeServices closes every listener of the plugin.
func (r *runner) closeServices() {
	r.st.Lock()
	services := r.st.services
	r.st.services = map[string]*service{}
	r.st.Unlock()
	for _, s := range services {
		s.close()
	}
}
