package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.zx2c4.com/wireguard/tun"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/wire"
)

// Errors of the send path.
var (
	// ErrNoRoute: no selected route and the packet may not wait for one.
	ErrNoRoute = errors.New("node: no route")
	// ErrQueueFull: the packet would wait for a route, but the queue is full.
	ErrQueueFull = errors.New("node: route queue full")
	// ErrTooBig: the payload exceeds the overlay MTU.
	ErrTooBig = errors.New("node: payload too big")
)

// txState is the scratch of one goroutine that originates packets and
// writes ICMP errors back into the device. Sealed packets are staged in
// out per next hop and handed to the links by flush; the statistics of a
// batch are merged per address.
type txState struct {
	icmp     []byte
	batch    [][]byte
	out      txBatch
	src, dst statRun
}

func newTxState() *txState {
	return &txState{
		icmp:  make([]byte, tunOffset+maxICMPPacket),
		batch: make([][]byte, 1),
		out:   txBatch{wait: sendWait},
	}
}

// flush sends what is staged in st and records its statistics.
func (n *Node) flush(st *txState) {
	n.flushTx(&st.out)
	st.src.flush(n.bySrc)
	st.dst.flush(n.byDst)
}

// deviceReader reads batches from the device and originates them.
type deviceReader struct {
	n     *Node
	st    *txState
	bufs  [][]byte
	sizes []int
}

func newDeviceReader(n *Node) (*deviceReader, error) {
	if _, err := n.dev.MTU(); err != nil {
		return nil, fmt.Errorf("node: device mtu: %w", err)
	}
	// Buffers hold the largest IPv6 packet, not the device's MTU at start:
	// an administrator may raise the MTU later (ip link set mtu 9000), and
	// such packets must still be read so they can be answered with Packet
	// Too Big instead of failing the read. Fresh pages are not touched
	// until a packet that big arrives.
	mtu := 65535 - headroom - tailroom
	batch := max(n.dev.BatchSize(), 1)
	rd := &deviceReader{n: n, st: newTxState(), bufs: make([][]byte, batch), sizes: make([]int, batch)}
	for i := range rd.bufs {
		rd.bufs[i] = make([]byte, headroom+mtu+tailroom)
	}
	return rd, nil
}

func (rd *deviceReader) run(ctx context.Context) {
	n := rd.n
	for {
		k, err := n.dev.Read(rd.bufs, rd.sizes, headroom)
		now := time.Now()
		for i := range k {
			n.sendLocal(rd.st, rd.bufs[i], rd.sizes[i], now)
		}
		n.flush(rd.st)
		if err == nil {
			continue
		}
		if ctx.Err() != nil || errors.Is(err, os.ErrClosed) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
			return
		}
		n.m.DeviceErrors.Add(1)
		if errors.Is(err, tun.ErrTooManySegments) {
			continue
		}
		n.log.Warn("device read failed", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// sendLocal handles one IPv6 packet read from the device at
// buf[headroom:headroom+size] (spec §6.4), answering the local stack with
// ICMPv6 errors where the reference does, plus Packet Too Big. The sealed
// packet is staged in st; the caller flushes st once buf may be reused.
func (n *Node) sendLocal(st *txState, buf []byte, size int, now time.Time) {
	p := buf[headroom : headroom+size]
	if size < ipv6HeaderLen || p[0]>>4 != 6 {
		n.m.Malformed.Add(1)
		return
	}
	src, dst := ipv6Addrs(p)
	switch {
	case !identity.InOverlay(dst):
		n.m.NotOverlay.Add(1) // e.g. the OS's multicast listener reports on the interface
	case identity.SameSubnet(dst, n.addr):
		n.icmpToDevice(st, icmpUnreach, unreachAddress, 0, p)
	case !identity.SameSubnet(src, n.addr):
		n.icmpToDevice(st, icmpUnreach, unreachPolicy, 0, p)
	case size > n.cfg.MTU:
		n.icmpToDevice(st, icmpTooBig, 0, uint32(n.cfg.MTU), p)
	case p[7] < 2:
		n.icmpToDevice(st, icmpTimeExceed, timeExceededHop, 0, p)
	default:
		err := n.originate(st, buf, size, wire.KindPacket, p[7]-1, src, dst, now, true)
		if errors.Is(err, ErrQueueFull) {
			n.icmpToDevice(st, icmpUnreach, unreachNoRoute, 0, p)
		}
	}
}

// icmpToDevice writes an ICMPv6 error about packet p into the device, from
// our own address (we are the first router on the path).
func (n *Node) icmpToDevice(st *txState, typ, code uint8, field uint32, p []byte) {
	src, _ := ipv6Addrs(p)
	size := putICMPv6(st.icmp[tunOffset:], n.addr, src, icmpHopLimit, typ, code, field, p)
	st.batch[0] = st.icmp[:tunOffset+size]
	if _, err := n.writeDevice(st.batch); err != nil {
		n.m.DeviceErrors.Add(1)
		return
	}
	n.m.ICMPSent.Add(1)
}

// originate seals the payload at buf[headroom:headroom+size] as kind, in
// place, and sends it to dst's next hop with hop limit hop (already
// decremented for our own forwarding step, spec §4.14): staged in st when
// st is not nil (buf must then stay untouched until n.flush(st)), else at
// once. Without a selected route the payload waits in the route queue
// (when mayQueue) while the route is requested.
func (n *Node) originate(st *txState, buf []byte, size int, kind byte, hop uint8, src, dst netip.Addr, now time.Time, mayQueue bool) error {
	fw := n.r.Lookup(dst)
	if !fw.Selected() {
		if !mayQueue {
			n.m.RoutedNoRoute.Add(1)
			return ErrNoRoute
		}
		return n.q.enqueueLocal(kind, hop, src, dst, buf[headroom:headroom+size], now)
	}
	n.r.Refresh(fw, now)
	wire.PutUserHeader(buf[userHdrOff:], kind)
	body := fw.Secret().SealInPlace(buf[userHdrOff:], wire.UserHeaderSize+size)
	wire.PutDataHeader(buf[dataHdrOff:], wire.DataHeader{Length: uint16(len(body)), HopLimit: hop, Src: src, Dst: dst})
	buf[0], buf[1], buf[2], buf[3] = wire.ProtocolVersion, wire.TypeData, 0, 0
	pkt := buf[:userHdrOff+len(body)]
	if st != nil {
		n.stage(&st.out, fw.NextHop, pkt)
		st.src.add(n.bySrc, src, len(pkt))
		st.dst.add(n.byDst, dst, len(pkt))
		return nil
	}
	if err := fw.NextHop.Link().SendData(pkt); err != nil {
		n.m.LinkQueueFull.Add(1)
		return fmt.Errorf("node: send to %s: %w", fw.NextHop.Link(), err)
	}
	fw.NextHop.CountTx(1, len(pkt))
	n.bySrc.add(src, len(pkt))
	n.byDst.add(dst, len(pkt))
	n.m.RoutedForward.Add(1)
	return nil
}

// SendMessage seals a message-bus frame (user header kind 1) for dst and
// routes it like a packet: hop limit 64 (63 on the wire), waiting for a
// route request when dst is unknown. It does not block. The frame is
// copied; the caller may reuse it.
func (n *Node) SendMessage(dst netip.Addr, frame []byte) error {
	if len(frame) > n.cfg.MTU {
		return fmt.Errorf("%w: message frame of %d bytes", ErrTooBig, len(frame))
	}
	if !identity.InOverlay(dst) {
		return fmt.Errorf("%w: %s is not an overlay address", ErrNoRoute, dst)
	}
	if identity.SameSubnet(dst, n.addr) {
		// To ourselves: straight to the hook, as if it came back.
		if hp := n.onMsg.Load(); hp != nil {
			n.m.MessagesIn.Add(1)
			(*hp)(n.addr, dst, frame)
		}
		return nil
	}
	bp := n.bufPool.Get().(*[]byte)
	defer n.bufPool.Put(bp)
	buf := *bp
	copy(buf[headroom:], frame)
	if err := n.originate(nil, buf, len(frame), wire.KindMessage, icmpHopLimit-1, n.addr, dst, time.Now(), true); err != nil {
		return err
	}
	n.m.MessagesOut.Add(1)
	return nil
}
