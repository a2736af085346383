package link

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mycelium-go/mycelium/core/wire"
)

// streamLink is a Link over a byte stream: TCP, or any net.Conn (tests
// run it over in-memory conns). There is no handshake: both sides send
// framed packets as soon as the connection exists (spec §2.2, §2.3).
type streamLink struct {
	linkBase
	conn   net.Conn
	name   string        // String(), fixed at creation
	direct *directWriter // nil: every write goes through the writer

	// writer-owned scratch, kept in the struct so a writev does not
	// allocate: iov backs bufs, which WriteTo consumes.
	iov  [2][]byte
	bufs net.Buffers

	writes int // write calls made; writer-owned, for benchmarks
}

// newStreamLink wraps conn. The link does nothing until run is called.
func newStreamLink(conn net.Conn, h Handler, opts linkOptions, ep Endpoint, kind Kind) *streamLink {
	l := &streamLink{conn: conn, direct: newDirectWriter(conn)}
	info := Info{
		Endpoint:  ep.String(),
		Transport: "tcp",
		Kind:      string(kind),
		Local:     addrPortOf(conn.LocalAddr()),
		Remote:    addrPortOf(conn.RemoteAddr()),
	}
	if !info.Remote.IsValid() {
		info.Remote = ep.Addr
	}
	l.initBase(h, opts, info, func() { _ = conn.Close() })
	l.name = "TCP " + addrString(info.Local) + " <-> " + addrString(info.Remote)
	return l
}

// addrPortOf extracts the socket address of a TCP or UDP net.Addr, with
// IPv4-mapped addresses unmapped.
func addrPortOf(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case *net.UDPAddr:
		ap = a.AddrPort()
	default:
		if a != nil {
			ap, _ = netip.ParseAddrPort(a.String())
		}
	}
	if ap.Addr().Is4In6() {
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return ap
}

// run announces the link, reads until it fails, then reports LinkDown and
// returns the reason. It returns only after the writer has exited.
func (l *streamLink) run() error {
	var wg sync.WaitGroup
	wg.Go(l.writeLoop)
	l.h.LinkUp(l)
	l.fail(l.readStream(l.conn, l))
	wg.Wait()
	l.h.LinkDown(l, l.cause)
	return l.cause
}

func (l *streamLink) deliverControl(pkt []byte) { l.h.HandleControl(l, pkt) }
func (l *streamLink) deliverData(pkts [][]byte) { l.h.HandleData(l, pkts) }

// writeLoop is the link's only writer. It takes everything queued at
// once and writes control frames first, then data in chunks of whole
// frames, picking up newly queued control between chunks.
func (l *streamLink) writeLoop() {
	var (
		ctrl, data []byte
		ok         bool
	)
	for {
		ctrl, data, ok = l.q.take(ctrl, data)
		if !ok {
			return
		}
		for off := 0; ; {
			end := chunkEnd(data, off, l.opts.writeChunk)
			l.iov[0], l.iov[1] = ctrl, data[off:end]
			l.bufs = l.iov[:]
			n, err := l.bufs.WriteTo(l.conn)
			l.writes++
			l.tx.Add(uint64(n))
			if err != nil {
				l.fail(fmt.Errorf("write: %w", err))
				return
			}
			off = end
			ctrl = ctrl[:0]
			if off == len(data) {
				break
			}
			if l.q.ctrlPending.Load() {
				ctrl = l.q.takeCtrl(ctrl)
			}
		}
	}
}

// SendControl implements Link.
func (l *streamLink) SendControl(pkt []byte) error {
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
func (l *streamLink) SendData(pkt []byte) error {
	if err := checkFrame(pkt, wire.TypeData, wire.MaxDataBody); err != nil {
		return fmt.Errorf("send data: %w", err)
	}
	return l.q.putData(pkt)
}

// SendDataBatch implements BatchSender. While the writer goroutine is
// idle and nothing is queued, the batch is written directly from the
// caller's goroutine with one non-blocking writev; what the socket does
// not take is queued (never waiting: the queue was empty).
func (l *streamLink) SendDataBatch(pkts [][]byte, wait time.Duration) (int, error) {
	bytes, err := checkBatch(pkts)
	if err != nil {
		return 0, err
	}
	if l.direct == nil || len(pkts) == 0 || len(pkts) > maxDirectFrames || !l.q.beginDirect(bytes) {
		return l.q.putDataBatch(pkts, wait)
	}
	n, err := l.direct.write(pkts)
	l.tx.Add(uint64(n))
	if err != nil {
		l.q.endDirect(nil, nil)
		l.fail(fmt.Errorf("write: %w", err))
		return 0, ErrClosed
	}
	i := 0
	for i < len(pkts) && n >= len(pkts[i]) {
		n -= len(pkts[i])
		i++
	}
	var head []byte
	if n > 0 {
		head = pkts[i][n:]
		i++
	}
	l.q.endDirect(head, pkts[i:])
	return len(pkts), nil
}

// String implements Link.
func (l *streamLink) String() string { return l.name }

var (
	_ Link        = (*streamLink)(nil)
	_ BatchSender = (*streamLink)(nil)
)
