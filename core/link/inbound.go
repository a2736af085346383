package link

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// acceptStreams turns every accepted TCP (or Config.Listener) conn into
// an inbound link.
func (m *Manager) acceptStreams() {
	for {
		conn, err := m.tcpLn.Accept()
		if err != nil {
			if m.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			m.log.Warn("accept tcp", "err", err)
			if !sleepCtx(m.ctx, 50*time.Millisecond) {
				return
			}
			continue
		}
		tuneTCP(conn)
		ep := Endpoint{Proto: ProtoTCP, Addr: addrPortOf(conn.RemoteAddr())}
		l := newStreamLink(conn, m.h, m.opts, ep, KindInbound)
		m.wg.Go(func() { m.runOnce(l, ep, KindInbound) })
	}
}

// acceptQUIC accepts QUIC connections, at most QUICMaxHandshakes of
// which may be waiting for their stream at once.
func (m *Manager) acceptQUIC() {
	sem := make(chan struct{}, m.cfg.QUICMaxHandshakes)
	for {
		select {
		case sem <- struct{}{}:
		case <-m.ctx.Done():
			return
		}
		conn, err := m.quic.ln.Accept(m.ctx)
		if err != nil {
			<-sem
			if m.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			m.log.Warn("accept quic", "err", err)
			if !sleepCtx(m.ctx, 50*time.Millisecond) {
				return
			}
			continue
		}
		m.wg.Go(func() {
			stream, err := m.quic.acceptStream(m.ctx, conn, m.cfg.QUICHandshakeTimeout)
			<-sem
			if err != nil {
				m.log.Debug("inbound quic handshake failed", "remote", conn.RemoteAddr().String(), "err", err)
				return
			}
			ep := Endpoint{Proto: ProtoQUIC, Addr: addrPortOf(conn.RemoteAddr())}
			m.runOnce(newQUICLink(conn, stream, m.h, m.opts, ep, KindInbound), ep, KindInbound)
		})
	}
}

// AddConn runs a stream link over conn, an established connection to the
// neighbour named by ep, and hands it to the Handler like any other link.
// No redial happens when it ends; the table entry then goes away. With
// KindInbound an existing inbound entry for ep is replaced (as a real
// inbound connection would be); otherwise an existing entry for ep is an
// error wrapping ErrPeerExists. Use it for in-memory links in tests
// (linktest) or for connections made elsewhere.
func (m *Manager) AddConn(conn net.Conn, ep Endpoint, kind Kind) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.state != stateRunning {
		return fmt.Errorf("add conn %s: %w", ep, ErrNotRunning)
	}
	if kind != KindInbound {
		if _, ok := m.mu.peers[ep]; ok {
			return fmt.Errorf("add conn %s: %w", ep, ErrPeerExists)
		}
	}
	l := newStreamLink(conn, m.h, m.opts, ep, kind)
	p := m.registerLocked(l, ep, kind)
	m.wg.Go(func() { m.runRegistered(p, l) })
	return nil
}

// runOnce registers l as a one-link entry, runs it and removes the entry
// when it ends.
func (m *Manager) runOnce(l runner, ep Endpoint, kind Kind) {
	m.mu.Lock()
	if m.mu.state != stateRunning {
		m.mu.Unlock()
		l.fail(ErrClosed)
		return
	}
	p := m.registerLocked(l, ep, kind)
	m.mu.Unlock()
	m.runRegistered(p, l)
}

// registerLocked adds a one-link entry. An inbound entry with the same
// endpoint is replaced and its link killed (spec §2.9: with QUIC port
// reuse a reconnecting peer shows up under the same address).
func (m *Manager) registerLocked(l runner, ep Endpoint, kind Kind) *peer {
	table := m.mu.peers
	if kind == KindInbound {
		table = m.mu.inbound
	}
	if old, ok := table[ep]; ok && old.link != nil {
		old.link.fail(errReplaced)
	}
	now := time.Now()
	p := &peer{ep: ep, kind: kind, discovered: now, link: l, lastConnected: now}
	table[ep] = p
	return p
}

var errReplaced = errors.New("link: replaced by a new connection from the same address")

func (m *Manager) runRegistered(p *peer, l runner) {
	m.logUp(l)
	m.logDown(l, l.run())
	m.mu.Lock()
	for _, table := range []map[Endpoint]*peer{m.mu.peers, m.mu.inbound} {
		if table[p.ep] == p {
			delete(table, p.ep)
		}
	}
	p.link = nil
	m.mu.Unlock()
}
