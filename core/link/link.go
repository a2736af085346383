// Package link carries packets between neighbouring nodes: TCP and QUIC
// transports with the reference's framing and no handshake, peer URIs,
// static peers with reconnect backoff, inbound listeners and link-local
// discovery.
//
// A Link is one live connection to a neighbour. Everything a link reads is
// handed to a Handler (the node); everything the node sends goes through
// Link methods.
//
// # Stream links
//
// A stream link (TCP, or any net.Conn via Manager.AddConn) carries the
// concatenated packets of spec §2.3. Its reader makes large reads into
// one reused buffer, splits frames with wire.FrameSize, delivers control
// packets one by one and the data packets of each read as one batch; any
// framing error, read error or EOF ends the link at once (the reason
// wraps ErrProtocol for bad bytes). Its writer is one goroutine that
// takes everything queued (double buffering) and writes it with one
// writev per chunk of whole frames; control frames have their own queue,
// are written first and are picked up again between data chunks. On
// Linux TCP_NOTSENT_LOWAT keeps the kernel's unsent backlog small, so the
// backlog stays where control can overtake it. SendData never blocks: it
// returns ErrQueueFull beyond Config.SendQueueBytes. SendDataBatch
// (BatchSender) queues a whole batch under one lock and may wait, for a
// bounded time, for the writer to make room: the node's back-pressure.
//
// # QUIC links
//
// QUIC links follow spec §2.4: one UDP socket to listen and dial, a fresh
// self-signed P-256 certificate named by the router ID, SNI
// "dummy.mycelium", no certificate verification and no ALPN. The dialler
// opens one bidirectional stream that carries control packets (and data
// packets too large for a datagram); every other data packet travels in
// one DATAGRAM frame. The dialler's stream becomes visible to the peer
// with its first write, so the Handler must send something on LinkUp (the
// node sends its Update, spec §2.2). With quic-go's 1452-byte packets the
// datagram limit is 1415 bytes, so a full-size 1472-byte overlay packet
// always takes the stream; QUICStats reports the counts.
//
// # Liveness
//
// Links detect a broken transport themselves. A silent neighbour is the
// node's to judge, from Hello/IHU timing and LastReceive; it then calls
// Close, and the Handler gets LinkDown.
package link

import (
	"errors"
	"net/netip"
	"time"
)

// ErrQueueFull is returned by SendData when the link's send queue is full.
// Data packets are unreliable; the caller drops the packet.
var ErrQueueFull = errors.New("link: send queue full")

// ErrClosed is returned by sends on a closed link.
var ErrClosed = errors.New("link: closed")

// Link is one live connection to a neighbour. All methods are safe for
// concurrent use.
type Link interface {
	// SendControl queues a complete control packet (outer header included,
	// as wire.AppendControl makes it). Control packets are never dropped
	// for back-pressure and are not stuck behind queued data longer than
	// necessary. The link copies pkt; the caller may reuse it at once.
	SendControl(pkt []byte) error
	// SendData queues a complete data packet (outer header included). It
	// never blocks: under back-pressure it returns ErrQueueFull and the
	// packet is dropped. The link copies pkt; the caller may reuse it.
	SendData(pkt []byte) error
	// StaticCost is the per-transport constant added to the measured RTT to
	// make the link cost (spec §2.8): TCP 10 (IPv6) / 15 (IPv4), QUIC 7/12.
	StaticCost() uint16
	// LastReceive is when the link last read any byte from the neighbour.
	LastReceive() time.Time
	// Info describes the link for logs and the API.
	Info() Info
	// Close tears the link down. The Handler then gets LinkDown once.
	Close() error
	// String is the reference's next-hop form, e.g.
	// "TCP [::1]:40000 <-> [::1]:9651" or "QUIC -> [2001:db8::1]:9651".
	String() string
}

// Info describes a link.
type Info struct {
	Endpoint  string         // the peer URI, e.g. "tcp://[2001:db8::1]:9651"
	Transport string         // "tcp" or "quic"
	Kind      string         // "static", "inbound" or "linkLocalDiscovery"
	Local     netip.AddrPort // local socket address
	Remote    netip.AddrPort // remote socket address
	RxBytes   uint64
	TxBytes   uint64
	Since     time.Time // when the link came up
}

// BatchSender is implemented by the links of this package (not
// necessarily by other Link implementations, such as test fakes). It is
// how the node hands a whole batch of packets it originated to a link.
type BatchSender interface {
	// SendDataBatch queues complete data packets in order, as SendData
	// would one by one, under one lock. While the send queue is full it
	// waits for the link's writer to make room, for at most wait in all
	// (zero: not at all), so a local sender is slowed down to the link's
	// pace instead of losing packets. It returns how many packets were
	// queued and, when not all, ErrQueueFull or ErrClosed. The link copies
	// the packets; the caller may reuse them.
	SendDataBatch(pkts [][]byte, wait time.Duration) (int, error)
}

// Handler receives what links read. The node implements it. Calls for one
// link come from that link's reader goroutine, in order; calls for
// different links are concurrent.
type Handler interface {
	// LinkUp is called once when a link is established, before any packet
	// from it is delivered.
	LinkUp(l Link)
	// LinkDown is called once when a link ends, with the reason.
	LinkDown(l Link, err error)
	// HandleControl delivers one control packet without the outer header
	// (starting at the control magic). pkt is valid only during the call.
	HandleControl(l Link, pkt []byte)
	// HandleData delivers a batch of data packets, each without the outer
	// header (starting at the 36-byte data header). The slices are valid
	// only during the call.
	HandleData(l Link, pkts [][]byte)
}
