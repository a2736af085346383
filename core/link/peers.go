package link

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Kind says how the manager learned of a peer (spec §2.9).
type Kind string

// Peer kinds, spelled as the reference's API spells them.
const (
	KindStatic     Kind = "static"
	KindInbound    Kind = "inbound"
	KindDiscovered Kind = "linkLocalDiscovery"
)

// State is a peer's connection state as the API reports it.
type State string

// Connection states, spelled as the reference's API spells them.
const (
	StateAlive      State = "alive"
	StateConnecting State = "connecting"
	StateDead       State = "dead"
)

// Errors of the peer table; the API maps them to HTTP statuses.
var (
	ErrPeerExists   = errors.New("link: peer already exists")      // 409
	ErrPeerNotFound = errors.New("link: peer not found")           // 404
	ErrNotRunning   = errors.New("link: peer manager not running") // 503
)

// PeerStats describes one entry of the peer table (the reference's
// PeerStats, spec §8.1).
type PeerStats struct {
	Endpoint Endpoint
	Kind     Kind
	State    State
	// TxBytes and RxBytes count every link this entry had.
	TxBytes, RxBytes uint64
	// Discovered is when the entry was added to the table.
	Discovered time.Time
	// LastConnected is when the entry's last link came up; zero if it
	// never connected.
	LastConnected time.Time
	// Link is the current link's String(), empty when not connected.
	Link string
}

// runner is a Link the manager can run: run announces it to the Handler,
// blocks until it ends and returns the reason.
type runner interface {
	Link
	run() error
	fail(err error)
}

// peer is one entry of the peer table. Fields after the first block are
// guarded by Manager.mu.
type peer struct {
	ep         Endpoint
	kind       Kind
	discovered time.Time
	// stop ends the goroutine that dials this peer; nil for entries that
	// only live as long as one link (inbound, AddConn).
	stop context.CancelFunc

	link          runner
	connecting    bool
	lastConnected time.Time
	rx, tx        uint64 // bytes of links that have ended
	failures      int    // consecutive failed dials
}

func (p *peer) statsLocked() PeerStats {
	s := PeerStats{
		Endpoint:      p.ep,
		Kind:          p.kind,
		State:         StateDead,
		RxBytes:       p.rx,
		TxBytes:       p.tx,
		Discovered:    p.discovered,
		LastConnected: p.lastConnected,
	}
	switch {
	case p.link != nil:
		s.State = StateAlive
		i := p.link.Info()
		s.RxBytes += i.RxBytes
		s.TxBytes += i.TxBytes
		s.Link = p.link.String()
	case p.connecting:
		s.State = StateConnecting
	}
	return s
}

// Peers lists the peer table, static and discovered peers first, each
// group sorted by endpoint.
func (m *Manager) Peers() []PeerStats {
	m.mu.Lock()
	out := make([]PeerStats, 0, len(m.mu.peers)+len(m.mu.inbound))
	for _, p := range m.mu.peers {
		out = append(out, p.statsLocked())
	}
	for _, p := range m.mu.inbound {
		out = append(out, p.statsLocked())
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b PeerStats) int {
		return cmp.Or(
			cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind)),
			cmp.Compare(a.Endpoint.String(), b.Endpoint.String()),
		)
	})
	return out
}

func kindOrder(k Kind) int {
	switch k {
	case KindStatic:
		return 0
	case KindDiscovered:
		return 1
	default:
		return 2
	}
}

// AddPeer adds a static peer and starts connecting to it. It returns an
// error wrapping ErrPeerExists if the endpoint is already in the table,
// ErrUnsupported for tls://, vsock:// and (with QUIC disabled) quic://.
func (m *Manager) AddPeer(ep Endpoint) error {
	if err := m.supported(ep); err != nil {
		return fmt.Errorf("add peer %s: %w", ep, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.state != stateRunning {
		return fmt.Errorf("add peer %s: %w", ep, ErrNotRunning)
	}
	if _, ok := m.mu.peers[ep]; ok {
		return fmt.Errorf("add peer %s: %w", ep, ErrPeerExists)
	}
	m.startPeerLocked(ep, KindStatic)
	return nil
}

// RemovePeer forgets a peer and kills its connection. It returns an error
// wrapping ErrPeerNotFound if the endpoint is not in the table.
func (m *Manager) RemovePeer(ep Endpoint) error {
	m.mu.Lock()
	p, ok := m.mu.peers[ep]
	if ok {
		delete(m.mu.peers, ep)
	} else if p, ok = m.mu.inbound[ep]; ok {
		delete(m.mu.inbound, ep)
	}
	var l runner
	if ok {
		l = p.link
	}
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("remove peer %s: %w", ep, ErrPeerNotFound)
	}
	if p.stop != nil {
		p.stop()
	}
	if l != nil {
		l.fail(errRemoved)
	}
	m.log.Info("peer removed", "peer", ep.String(), "kind", string(p.kind))
	return nil
}

var errRemoved = errors.New("link: peer removed")

func (m *Manager) supported(ep Endpoint) error {
	switch {
	case ep.Proto != ProtoVsock && (!ep.Addr.IsValid() || ep.Addr.Port() == 0):
		return fmt.Errorf("%w: no socket address", ErrEndpoint)
	case ep.Proto == ProtoTCP:
		return nil
	case ep.Proto == ProtoQUIC && !m.cfg.DisableQUIC:
		return nil
	case ep.Proto == ProtoQUIC:
		return fmt.Errorf("%w: quic is disabled", ErrUnsupported)
	case ep.Proto == ProtoTLS:
		return fmt.Errorf("%w: tls is only for private networks, which this node does not run", ErrUnsupported)
	default:
		return fmt.Errorf("%w: %s", ErrUnsupported, ep.Proto)
	}
}

// startPeerLocked adds a dialled peer (static or discovered) and starts
// its connect loop.
func (m *Manager) startPeerLocked(ep Endpoint, kind Kind) {
	ctx, stop := context.WithCancel(m.ctx)
	p := &peer{ep: ep, kind: kind, discovered: time.Now(), stop: stop}
	m.mu.peers[ep] = p
	m.wg.Go(func() {
		defer stop()
		m.peerLoop(ctx, p)
	})
}

// attach records l as p's live link. It fails if p left the table or the
// manager is closing; the caller then drops l.
func (m *Manager) attach(p *peer, l runner) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	p.connecting = false
	if m.mu.state != stateRunning || m.mu.peers[p.ep] != p {
		return false
	}
	p.link = l
	p.failures = 0
	p.lastConnected = time.Now()
	return true
}

// detach clears p's link after it ended, keeping its byte counts.
func (m *Manager) detach(p *peer, l runner) {
	i := l.Info()
	m.mu.Lock()
	defer m.mu.Unlock()
	p.rx += i.RxBytes
	p.tx += i.TxBytes
	if p.link == l {
		p.link = nil
	}
}
