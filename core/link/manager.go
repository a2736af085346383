package link

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
)

const (
	stateNew = iota
	stateRunning
	stateClosed
)

// Manager owns a node's peer links: it dials static and discovered
// peers (redialling with backoff), accepts inbound TCP and QUIC links,
// runs link-local discovery, and hands every established link to the
// Handler.
type Manager struct {
	cfg  Config
	h    Handler
	log  *slog.Logger
	opts linkOptions

	ctx    context.Context // set by Start; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the manager started

	tcpLn net.Listener
	quic  *quicEndpoint
	disc  *discovery

	mu struct {
		sync.Mutex
		state   int
		peers   map[Endpoint]*peer // static and discovered, keyed by endpoint
		inbound map[Endpoint]*peer // inbound and AddConn links, keyed by remote
	}
	closeOnce sync.Once
	finalOnce sync.Once
}

// New validates cfg and returns a Manager that does nothing until Start.
func New(cfg Config, h Handler, log *slog.Logger) (*Manager, error) {
	if h == nil || log == nil {
		return nil, errors.New("new link manager: nil handler or logger")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, h: h, log: log.With("component", "link")}
	m.opts = cfg.linkOptions()
	m.mu.peers = make(map[Endpoint]*peer)
	m.mu.inbound = make(map[Endpoint]*peer)
	return m, nil
}

// Start binds the listeners and sockets, then starts accepting, dialling
// the static peers and discovering. Cancelling ctx stops the manager as
// Close does (Close must still be called to wait).
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.state != stateNew {
		return errors.New("start link manager: already started")
	}
	m.ctx, m.cancel = context.WithCancel(ctx)
	if err := m.bindLocked(ctx); err != nil {
		m.cancel()
		m.closeSockets()
		if m.quic != nil {
			m.quic.close()
			m.quic = nil
		}
		m.mu.state = stateClosed
		return err
	}
	m.mu.state = stateRunning
	if m.tcpLn != nil {
		m.wg.Go(m.acceptStreams)
	}
	if m.quic != nil {
		m.wg.Go(m.acceptQUIC)
	}
	if m.disc != nil {
		m.wg.Go(func() { m.disc.receiveLoop(m.ctx) })
		m.wg.Go(func() { m.disc.beaconLoop(m.ctx) })
	}
	for _, ep := range m.cfg.Peers {
		if err := m.supported(ep); err != nil {
			m.log.Warn("static peer not started", "peer", ep.String(), "err", err)
			continue
		}
		if _, ok := m.mu.peers[ep]; !ok {
			m.startPeerLocked(ep, KindStatic)
		}
	}
	m.wg.Go(func() {
		<-m.ctx.Done()
		m.shutdown()
	})
	return nil
}

func (m *Manager) bindLocked(ctx context.Context) error {
	switch {
	case m.cfg.Listener != nil:
		m.tcpLn = m.cfg.Listener
	case m.cfg.TCPListen.IsValid():
		lc := net.ListenConfig{Control: socketControl(m.cfg.FirewallMark)}
		ln, err := lc.Listen(ctx, "tcp", m.cfg.TCPListen.String())
		if err != nil {
			return fmt.Errorf("listen tcp %s: %w", m.cfg.TCPListen, err)
		}
		m.tcpLn = ln
	}
	if !m.cfg.DisableQUIC {
		q, err := listenQUIC(ctx, &m.cfg)
		if err != nil {
			return err
		}
		m.quic = q
	}
	if !m.cfg.DisableDiscovery {
		d, err := newDiscovery(ctx, m)
		if err != nil {
			return err
		}
		m.disc = d
	}
	return nil
}

// closeSockets closes every listening socket; links are closed apart.
func (m *Manager) closeSockets() {
	if m.tcpLn != nil {
		_ = m.tcpLn.Close()
	}
	if m.quic != nil {
		m.quic.closeListener()
	}
	if m.disc != nil {
		m.disc.close()
	}
}

// Close stops the manager: it closes the listeners and every link (the
// Handler gets LinkDown for each), and waits for all its goroutines. It
// is safe to call more than once, but not from a Handler callback (it
// would wait for itself).
func (m *Manager) Close() error {
	m.shutdown()
	m.wg.Wait()
	m.finalOnce.Do(func() {
		if m.quic != nil {
			m.quic.close()
		}
	})
	return nil
}

// shutdown starts closing everything without waiting.
func (m *Manager) shutdown() {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		started := m.mu.state == stateRunning
		m.mu.state = stateClosed
		var links []runner
		for _, table := range []map[Endpoint]*peer{m.mu.peers, m.mu.inbound} {
			for _, p := range table {
				if p.link != nil {
					links = append(links, p.link)
				}
			}
		}
		m.mu.Unlock()
		if !started {
			return
		}
		m.cancel()
		m.closeSockets()
		for _, l := range links {
			l.fail(ErrClosed)
		}
	})
}

// TCPAddr is the inbound stream listener's address (useful with port 0),
// or the zero AddrPort without one.
func (m *Manager) TCPAddr() netip.AddrPort {
	if m.tcpLn == nil {
		return netip.AddrPort{}
	}
	return addrPortOf(m.tcpLn.Addr())
}

// QUICAddr is the QUIC socket's address, or the zero AddrPort when QUIC
// is disabled.
func (m *Manager) QUICAddr() netip.AddrPort {
	if m.quic == nil {
		return netip.AddrPort{}
	}
	return addrPortOf(m.quic.udp.LocalAddr())
}
