package link

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/mycelium-go/mycelium/core/wire"
)

// datagramReprobe is how long a learned datagram size limit is trusted
// before a larger packet is offered to quic-go again (path MTU discovery
// raises the limit a few seconds into a connection).
const datagramReprobe = time.Second

// fallbackFlush bounds how many bytes of oversize data packets wait for
// the end of a batch before being written to the stream.
const fallbackFlush = 64 << 10

// quicLink is a Link over a QUIC connection and the one bidirectional
// stream the connecting side opened (spec §2.4). Control packets go on
// the stream; each data packet goes in one DATAGRAM frame when it fits
// and on the stream when it does not.
type quicLink struct {
	linkBase
	conn   *quic.Conn
	stream *quic.Stream
	name   string

	// hmu serialises Handler calls from the stream and datagram readers,
	// keeping the contract that calls for one link never overlap.
	hmu sync.Mutex
	one [1][]byte // datagram batch of one, used under hmu

	// writer-owned
	noDatagrams bool         // the peer did not enable DATAGRAM frames
	limit       atomic.Int64 // datagram limit quic-go last reported, 0 if none yet
	limitAt     int64        // monoNow() when limit was learned
	largest     atomic.Int64 // largest datagram sent
	ctrl        []byte       // control frames being written
	fallback    []byte       // oversize data frames for the stream

	dgramTx, dgramRx, fallbacks atomic.Uint64
}

// QUICStats are a QUIC link's datagram counters.
type QUICStats struct {
	DatagramsSent     uint64 // data packets sent as DATAGRAM frames
	DatagramsReceived uint64
	StreamFallbacks   uint64 // data packets sent on the stream because they did not fit
	// MaxDatagram is the datagram payload limit quic-go reported when
	// it last refused a packet (0: it never refused one).
	MaxDatagram int
	// LargestDatagram is the largest datagram payload sent.
	LargestDatagram int
}

// QUICStats returns the link's datagram counters. Type-assert a Link to
// interface{ QUICStats() QUICStats } to read them.
func (l *quicLink) QUICStats() QUICStats {
	return QUICStats{
		DatagramsSent:     l.dgramTx.Load(),
		DatagramsReceived: l.dgramRx.Load(),
		StreamFallbacks:   l.fallbacks.Load(),
		MaxDatagram:       int(l.limit.Load()),
		LargestDatagram:   int(l.largest.Load()),
	}
}

func newQUICLink(conn *quic.Conn, stream *quic.Stream, h Handler, opts linkOptions, ep Endpoint, kind Kind) *quicLink {
	l := &quicLink{conn: conn, stream: stream}
	info := Info{
		Endpoint:  ep.String(),
		Transport: "quic",
		Kind:      string(kind),
		Local:     addrPortOf(conn.LocalAddr()),
		Remote:    addrPortOf(conn.RemoteAddr()),
	}
	l.initBase(h, opts, info, func() { _ = conn.CloseWithError(0, "link closed") })
	l.name = "QUIC -> " + addrString(info.Remote)
	l.noDatagrams = !conn.ConnectionState().SupportsDatagrams.Remote
	return l
}

// run announces the link, reads the stream and datagrams until the link
// fails, reports LinkDown and returns the reason.
func (l *quicLink) run() error {
	var wg sync.WaitGroup
	wg.Go(l.writeLoop)
	l.h.LinkUp(l)
	wg.Go(l.datagramLoop)
	l.fail(l.readStream(l.stream, l))
	wg.Wait()
	l.h.LinkDown(l, l.cause)
	return l.cause
}

func (l *quicLink) deliverControl(pkt []byte) {
	l.hmu.Lock()
	l.h.HandleControl(l, pkt)
	l.hmu.Unlock()
}

func (l *quicLink) deliverData(pkts [][]byte) {
	l.hmu.Lock()
	l.h.HandleData(l, pkts)
	l.hmu.Unlock()
}

// datagramLoop reads one packet per datagram. Trailing bytes are ignored;
// a datagram without a complete packet tears the link down, as in the
// reference.
func (l *quicLink) datagramLoop() {
	ctx := l.conn.Context()
	for {
		d, err := l.conn.ReceiveDatagram(ctx)
		if err != nil {
			l.fail(fmt.Errorf("receive datagram: %w", err))
			return
		}
		l.received(len(d))
		l.dgramRx.Add(1)
		n, typ, err := wire.FrameSize(d, l.opts.maxBody)
		if err == nil && n == 0 {
			err = fmt.Errorf("datagram of %d bytes holds no complete packet", len(d))
		}
		if err != nil {
			l.fail(fmt.Errorf("%w: %w", ErrProtocol, err))
			return
		}
		pkt := d[wire.OuterHeaderSize:n]
		l.hmu.Lock()
		if typ == wire.TypeData {
			l.one[0] = pkt
			l.h.HandleData(l, l.one[:])
			l.one[0] = nil
		} else {
			l.h.HandleControl(l, pkt)
		}
		l.hmu.Unlock()
	}
}

// writeLoop is the link's only writer.
func (l *quicLink) writeLoop() {
	var (
		data []byte
		ok   bool
	)
	for {
		l.ctrl, data, ok = l.q.take(l.ctrl, data)
		if !ok {
			return
		}
		if err := l.writeBatch(data); err != nil {
			l.fail(err)
			return
		}
	}
}

func (l *quicLink) writeBatch(data []byte) error {
	if err := l.writeStream(l.ctrl); err != nil {
		return err
	}
	l.fallback = l.fallback[:0]
	for off := 0; off < len(data); {
		n := frameLen(data[off:])
		f := data[off : off+n]
		off += n
		sent, err := l.sendDatagram(f)
		if err != nil {
			return err
		}
		if !sent {
			l.fallbacks.Add(1)
			l.fallback = append(l.fallback, f...)
		}
		if len(l.fallback) >= fallbackFlush || l.q.ctrlPending.Load() {
			if err := l.flushStream(); err != nil {
				return err
			}
		}
	}
	return l.flushStream()
}

// flushStream writes pending control frames, then the oversize data
// packets collected so far.
func (l *quicLink) flushStream() error {
	if l.q.ctrlPending.Load() {
		l.ctrl = l.q.takeCtrl(l.ctrl)
		if err := l.writeStream(l.ctrl); err != nil {
			return err
		}
	}
	err := l.writeStream(l.fallback)
	l.fallback = l.fallback[:0]
	return err
}

func (l *quicLink) writeStream(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	n, err := l.stream.Write(b)
	l.tx.Add(uint64(n))
	if err != nil {
		return fmt.Errorf("write stream: %w", err)
	}
	return nil
}

// sendDatagram sends f as one DATAGRAM frame if it fits. sent is false
// when f must go on the stream instead.
func (l *quicLink) sendDatagram(f []byte) (sent bool, err error) {
	if l.noDatagrams {
		return false, nil
	}
	limit := int(l.limit.Load())
	if limit > 0 && len(f) > limit && monoNow()-l.limitAt < int64(datagramReprobe) {
		return false, nil
	}
	err = l.conn.SendDatagram(f)
	if err == nil {
		l.tx.Add(uint64(len(f)))
		l.dgramTx.Add(1)
		if int64(len(f)) > l.largest.Load() {
			l.largest.Store(int64(len(f)))
		}
		return true, nil
	}
	var tooLarge *quic.DatagramTooLargeError
	if errors.As(err, &tooLarge) {
		l.limit.Store(tooLarge.MaxDatagramPayloadSize)
		l.limitAt = monoNow()
		return false, nil
	}
	return false, fmt.Errorf("send datagram: %w", err)
}

// SendControl implements Link.
func (l *quicLink) SendControl(pkt []byte) error {
	if err := checkFrame(pkt, wire.TypeControl, 0xFFFF); err != nil {
		return fmt.Errorf("send control: %w", err)
	}
	if err := l.q.putCtrl(pkt); err != nil {
		if err == errControlOverflow {
			l.fail(err)
			return ErrClosed
		}
		return err
	}
	return nil
}

// SendData implements Link.
func (l *quicLink) SendData(pkt []byte) error {
	if err := checkFrame(pkt, wire.TypeData, wire.MaxDataBody); err != nil {
		return fmt.Errorf("send data: %w", err)
	}
	return l.q.putData(pkt)
}

// String implements Link.
func (l *quicLink) String() string { return l.name }

var (
	_ Link        = (*quicLink)(nil)
	_ BatchSender = (*quicLink)(nil)
)
