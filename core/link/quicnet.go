package link

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/quic-go/quic-go"
)

// quicEndpoint is the one UDP socket a node uses to accept and to dial
// QUIC links (spec §2.4).
type quicEndpoint struct {
	udp    net.PacketConn
	tr     *quic.Transport
	ln     *quic.Listener
	client *tls.Config
	conf   *quic.Config
}

func listenQUIC(ctx context.Context, cfg *Config) (*quicEndpoint, error) {
	server, client, err := quicTLS(cfg.RouterID.String())
	if err != nil {
		return nil, err
	}
	lc := net.ListenConfig{Control: socketControl(cfg.FirewallMark)}
	udp, err := lc.ListenPacket(ctx, "udp", cfg.QUICListen.String())
	if err != nil {
		return nil, fmt.Errorf("listen quic %s: %w", cfg.QUICListen, err)
	}
	q := &quicEndpoint{
		udp:    udp,
		tr:     &quic.Transport{Conn: udp},
		client: client,
		// quic-go aborts a handshake after twice its idle timeout
		conf: quicConfig(cfg.QUICHandshakeTimeout / 2),
	}
	q.ln, err = q.tr.Listen(server, q.conf)
	if err != nil {
		_ = udp.Close()
		return nil, fmt.Errorf("listen quic %s: %w", cfg.QUICListen, err)
	}
	return q, nil
}

// dial connects and opens the link's bidirectional stream. quic-go sends
// the stream's first frame with the first write, which the link's writer
// makes as soon as the Handler queues its Update on LinkUp.
func (q *quicEndpoint) dial(ctx context.Context, addr netip.AddrPort) (*quic.Conn, *quic.Stream, error) {
	conn, err := q.tr.Dial(ctx, net.UDPAddrFromAddrPort(addr), q.client, q.conf)
	if err != nil {
		return nil, nil, err
	}
	stream, err := conn.OpenStreamSync(ctx)
	if err != nil {
		_ = conn.CloseWithError(0, "open stream")
		return nil, nil, fmt.Errorf("open stream: %w", err)
	}
	return conn, stream, nil
}

// acceptStream waits, within timeout, for the bidirectional stream the
// connecting side opens (and materialises with its first packet).
func (q *quicEndpoint) acceptStream(ctx context.Context, conn *quic.Conn, timeout time.Duration) (*quic.Stream, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stream, err := conn.AcceptStream(ctx)
	if err != nil {
		_ = conn.CloseWithError(0, "no stream")
		return nil, fmt.Errorf("accept quic stream: %w", err)
	}
	return stream, nil
}

// closeListener stops accepting; existing links keep running.
func (q *quicEndpoint) closeListener() { _ = q.ln.Close() }

// close ends the transport and the socket once every link is closed.
func (q *quicEndpoint) close() {
	_ = q.tr.Close()
	_ = q.udp.Close()
}
