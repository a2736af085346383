package link

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"
)

// peerLoop keeps one static or discovered peer connected: dial, run the
// link until it ends, wait a backoff delay, repeat. A discovered peer is
// forgotten after DiscoveredMaxFailures consecutive failed dials.
func (m *Manager) peerLoop(ctx context.Context, p *peer) {
	attempt := 0
	for ctx.Err() == nil {
		if !m.setConnecting(p) {
			return
		}
		l, err := m.dial(ctx, p.ep, p.kind)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if m.dialFailed(p, err) {
				return
			}
		} else if m.attach(p, l) {
			up := time.Now()
			m.logUp(l)
			m.logDown(l, l.run())
			m.detach(p, l)
			if time.Since(up) >= m.cfg.BackoffReset {
				attempt = 0
			}
		} else {
			l.fail(ErrClosed)
			return
		}
		if !sleepCtx(ctx, backoff(attempt, m.cfg.ReconnectMin, m.cfg.ReconnectMax)) {
			return
		}
		attempt++
	}
}

func (m *Manager) setConnecting(p *peer) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mu.state != stateRunning || m.mu.peers[p.ep] != p {
		return false
	}
	p.connecting = true
	return true
}

// dialFailed records a failed dial and reports whether the peer was
// forgotten.
func (m *Manager) dialFailed(p *peer, err error) (forget bool) {
	m.mu.Lock()
	p.connecting = false
	p.failures++
	forget = p.kind == KindDiscovered && p.failures >= m.cfg.DiscoveredMaxFailures
	if forget && m.mu.peers[p.ep] == p {
		delete(m.mu.peers, p.ep)
	}
	failures := p.failures
	m.mu.Unlock()
	if forget {
		m.log.Info("forgetting discovered peer", "peer", p.ep.String(), "failures", failures, "err", err)
	} else {
		m.log.Debug("peer dial failed", "peer", p.ep.String(), "failures", failures, "err", err)
	}
	return forget
}

// dial makes one connection attempt and wraps the result in a link.
func (m *Manager) dial(ctx context.Context, ep Endpoint, kind Kind) (runner, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.DialTimeout)
	defer cancel()
	switch ep.Proto {
	case ProtoTCP:
		conn, err := m.dialStream(ctx, ep)
		if err != nil {
			return nil, err
		}
		return newStreamLink(conn, m.h, m.opts, ep, kind), nil
	case ProtoQUIC:
		if m.quic == nil {
			return nil, fmt.Errorf("dial %s: %w", ep, ErrUnsupported)
		}
		conn, stream, err := m.quic.dial(ctx, ep.Addr)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", ep, err)
		}
		return newQUICLink(conn, stream, m.h, m.opts, ep, kind), nil
	}
	return nil, fmt.Errorf("dial %s: %w", ep, ErrUnsupported)
}

func (m *Manager) dialStream(ctx context.Context, ep Endpoint) (net.Conn, error) {
	if m.cfg.DialStream != nil {
		conn, err := m.cfg.DialStream(ctx, ep)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", ep, err)
		}
		return conn, nil
	}
	d := net.Dialer{Control: socketControl(m.cfg.FirewallMark)}
	conn, err := d.DialContext(ctx, "tcp", ep.Addr.String())
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", ep, err)
	}
	tuneTCP(conn)
	return conn, nil
}

// tuneTCP sets TCP_NODELAY (frames are already batched) and the
// platform's low-latency options on a TCP link.
func tuneTCP(c net.Conn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	_ = tc.SetNoDelay(true)
	tunePlatform(tc)
}

// backoff is the delay before redial attempt n (0-based): ReconnectMin
// doubling up to ReconnectMax, drawn uniformly from its upper half so
// that peers restarting together do not redial in lockstep.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := hi
	if n < 32 && lo<<n > 0 && lo<<n < hi {
		d = lo << n
	}
	return d/2 + rand.N(d/2+1)
}

// sleepCtx waits for d; false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (m *Manager) logUp(l Link) {
	i := l.Info()
	m.log.Info("peer link up", "peer", i.Endpoint, "kind", i.Kind, "link", l.String())
}

func (m *Manager) logDown(l Link, err error) {
	i := l.Info()
	args := []any{"peer", i.Endpoint, "kind", i.Kind, "link", l.String(),
		"rx_bytes", i.RxBytes, "tx_bytes", i.TxBytes, "up_for", time.Since(i.Since).Round(time.Millisecond), "reason", err}
	if errors.Is(err, ErrProtocol) {
		m.log.Warn("peer sent invalid data, link dropped", args...)
		return
	}
	m.log.Info("peer link down", args...)
}
