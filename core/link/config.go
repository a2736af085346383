package link

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mycelium-go/mycelium/core/wire"
)

// Default ports (spec §2.1).
const (
	DefaultTCPPort       = 9651
	DefaultQUICPort      = 9651
	DefaultDiscoveryPort = 9650
)

// Config configures a Manager. Start from Default.
type Config struct {
	// RouterID is this node's router ID. Its text form names the QUIC
	// server certificate and it is sent in discovery beacons; it is
	// required unless QUIC and discovery are both disabled.
	RouterID wire.RouterID

	// Peers are the static peers, dialled at Start and redialled with
	// backoff whenever their link is down.
	Peers []Endpoint

	// TCPListen is the inbound TCP listener's address; port 0 picks a
	// free port. The zero AddrPort disables the listener (and discovery
	// beacons, which announce its port). Default [::]:9651.
	TCPListen netip.AddrPort
	// Listener, when set, replaces the TCP listener: every accepted conn
	// becomes an inbound stream link. For in-memory networks in tests.
	Listener net.Listener
	// DialStream, when set, replaces TCP dialling for tcp:// endpoints.
	// For in-memory networks in tests.
	DialStream func(ctx context.Context, ep Endpoint) (net.Conn, error)

	// DisableQUIC turns QUIC off entirely: no UDP socket, and quic://
	// peers are refused with ErrUnsupported.
	DisableQUIC bool
	// QUICListen is the UDP socket used both to accept and to dial QUIC
	// links; port 0 picks a free port. Default [::]:9651.
	QUICListen netip.AddrPort
	// QUICHandshakeTimeout bounds an inbound QUIC handshake plus the wait
	// for the peer's stream (reference: 10 s).
	QUICHandshakeTimeout time.Duration
	// QUICMaxHandshakes bounds concurrent inbound QUIC handshakes
	// (reference: 10).
	QUICMaxHandshakes int

	// DisableDiscovery turns link-local peer discovery off.
	DisableDiscovery bool
	// DiscoveryPort is the UDP port for discovery beacons. Default 9650.
	DiscoveryPort uint16
	// DiscoveryInterfaces, if not empty, limits discovery to these
	// interface names.
	DiscoveryInterfaces []string
	// DiscoveryInterval is the time between beacons (reference: 60 s).
	DiscoveryInterval time.Duration
	// DiscoveredMaxFailures is how many consecutive failed connection
	// attempts make the manager forget a discovered peer (reference: 3).
	DiscoveredMaxFailures int

	// FirewallMark, if not zero, is set as SO_MARK on every socket
	// (Linux only; ignored elsewhere).
	FirewallMark uint32

	// DialTimeout bounds one outgoing connection attempt.
	DialTimeout time.Duration
	// ReconnectMin is the first delay before redialling a static peer;
	// delays double (with jitter) up to ReconnectMax.
	ReconnectMin time.Duration
	// ReconnectMax caps the redial delay.
	ReconnectMax time.Duration
	// BackoffReset: a link that stayed up at least this long resets the
	// redial delay to ReconnectMin.
	BackoffReset time.Duration

	// SendQueueBytes bounds the data bytes a link holds for its writer;
	// beyond it SendData returns ErrQueueFull. Default 1 MiB.
	SendQueueBytes int
	// ControlQueueBytes bounds queued control bytes; a link whose peer
	// does not drain this much control is torn down. Default 8 MiB.
	ControlQueueBytes int
	// WriteChunk is the largest data write between two checks for
	// queued control packets. Default 128 KiB.
	WriteChunk int
	// ReadBufferSize is each stream reader's buffer. Default 256 KiB.
	ReadBufferSize int
	// MaxDataBody bounds the body length of an incoming data packet; a
	// peer announcing more is disconnected. Default 65535 (the field's
	// maximum, which the reference accepts).
	MaxDataBody int
}

// Default returns the reference's settings: listeners on [::]:9651 (TCP
// and UDP), discovery on 9650 every 60 s, no static peers.
func Default() Config {
	return Config{
		TCPListen:             netip.AddrPortFrom(netip.IPv6Unspecified(), DefaultTCPPort),
		QUICListen:            netip.AddrPortFrom(netip.IPv6Unspecified(), DefaultQUICPort),
		QUICHandshakeTimeout:  10 * time.Second,
		QUICMaxHandshakes:     10,
		DiscoveryPort:         DefaultDiscoveryPort,
		DiscoveryInterval:     60 * time.Second,
		DiscoveredMaxFailures: 3,
		DialTimeout:           10 * time.Second,
		ReconnectMin:          time.Second,
		ReconnectMax:          30 * time.Second,
		BackoffReset:          10 * time.Second,
		SendQueueBytes:        1 << 20,
		ControlQueueBytes:     8 << 20,
		WriteChunk:            128 << 10,
		ReadBufferSize:        256 << 10,
		MaxDataBody:           wire.MaxDataBody,
	}
}

// Validate reports the first invalid setting.
func (c *Config) Validate() error {
	var zeroID wire.RouterID
	switch {
	case c.RouterID == zeroID && (!c.DisableQUIC || !c.DisableDiscovery):
		return errors.New("link config: router id is required for quic and discovery")
	case !c.DisableQUIC && !c.QUICListen.IsValid():
		return errors.New("link config: quic listen address missing (or disable quic)")
	case !c.DisableDiscovery && c.DiscoveryPort == 0:
		return errors.New("link config: discovery port 0")
	case c.QUICHandshakeTimeout <= 0 || c.QUICMaxHandshakes <= 0:
		return errors.New("link config: quic handshake timeout and limit must be positive")
	case c.DiscoveryInterval <= 0 || c.DiscoveredMaxFailures <= 0:
		return errors.New("link config: discovery interval and failure limit must be positive")
	case c.DialTimeout <= 0 || c.ReconnectMin <= 0 || c.ReconnectMax < c.ReconnectMin || c.BackoffReset < 0:
		return errors.New("link config: dial timeout and reconnect delays must be positive, min <= max")
	case c.MaxDataBody <= 0 || c.MaxDataBody > wire.MaxDataBody:
		return fmt.Errorf("link config: max data body %d not in 1..%d", c.MaxDataBody, wire.MaxDataBody)
	case c.SendQueueBytes < maxFrameSize(c.MaxDataBody):
		return fmt.Errorf("link config: send queue of %d bytes cannot hold one packet", c.SendQueueBytes)
	case c.ControlQueueBytes < maxFrameSize(0) || c.WriteChunk <= 0:
		return errors.New("link config: control queue and write chunk must hold a packet")
	case c.ReadBufferSize < maxFrameSize(c.MaxDataBody)+4096:
		return fmt.Errorf("link config: read buffer of %d bytes is smaller than a packet", c.ReadBufferSize)
	}
	for _, ep := range c.Peers {
		if ep.Proto != ProtoTCP && ep.Proto != ProtoQUIC {
			return fmt.Errorf("link config: peer %s: %w", ep, ErrUnsupported)
		}
	}
	return nil
}

func (c *Config) linkOptions() linkOptions {
	return linkOptions{
		maxBody:    c.MaxDataBody,
		readBuf:    c.ReadBufferSize,
		dataQueue:  c.SendQueueBytes,
		ctrlQueue:  c.ControlQueueBytes,
		writeChunk: c.WriteChunk,
	}
}
