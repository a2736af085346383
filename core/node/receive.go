package node

import (
	"net/netip"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/wire"
)

// Device write buffers. Packets for the device are decrypted straight into
// buffers of devBufSize bytes, so the payload starts at tunOffset and each
// buffer has room for a 64 KiB super-packet after it: wireguard-go's Linux
// TUN coalesces consecutive TCP segments of a flow (GRO) in place into the
// first buffer of the flow, and only when that buffer has this capacity.
// A batch is written once it holds devBatch packets, which bounds the
// scratch to devBatch buffers (they are allocated on first use, so a node
// that only forwards never holds them).
const (
	devBufSize = tunOffset + 65535
	devBatch   = 64
)

// fwdBufSize is the scratch that transit frames are staged in until they
// are handed to their link in one call.
const fwdBufSize = 128 << 10

// maxRxScratch bounds the spare receive scratches a node keeps: one per
// link delivering at the same time, up to this many.
const maxRxScratch = 8

// rxScratch is the per-call state of HandleData, kept in a free list so
// the receive path allocates nothing.
type rxScratch struct {
	now      time.Time
	dev      [][]byte // packets for the device, all at tunOffset
	icmp     [][]byte // buffers for ICMP packets built this batch
	nicmp    int
	open     [][]byte // devBufSize buffers; open[:nopen] hold packets of dev
	nopen    int
	frames   []byte  // transit frames staged in fwd
	fwd      txBatch // transit frames for one next hop
	src, dst statRun
}

func newRxScratch() *rxScratch {
	return &rxScratch{frames: make([]byte, 0, fwdBufSize), fwd: txBatch{wait: transitWait}}
}

// icmpBuf returns a buffer for one ICMP packet at tunOffset.
func (s *rxScratch) icmpBuf() []byte {
	if s.nicmp == len(s.icmp) {
		s.icmp = append(s.icmp, make([]byte, tunOffset+maxICMPPacket))
	}
	b := s.icmp[s.nicmp]
	s.nicmp++
	return b
}

// openBuf returns the next free devBufSize buffer; claimOpen marks it used.
func (s *rxScratch) openBuf() []byte {
	if s.nopen == len(s.open) {
		s.open = append(s.open, make([]byte, devBufSize))
	}
	return s.open[s.nopen]
}

func (s *rxScratch) claimOpen() { s.nopen++ }

// flushRx hands what s collected on: transit frames to their link,
// statistics to the tables and packets to the device.
func (n *Node) flushRx(s *rxScratch) {
	n.flushTx(&s.fwd)
	s.frames = s.frames[:0]
	s.src.flush(n.bySrc)
	s.dst.flush(n.byDst)
	n.flushDevice(s)
}

// flushDevice writes the packets collected in s to the device.
func (n *Node) flushDevice(s *rxScratch) {
	if len(s.dev) > 0 {
		if _, err := n.writeDevice(s.dev); err != nil {
			n.m.DeviceErrors.Add(1)
			n.log.Debug("device write failed", "packets", len(s.dev), "err", err)
		}
	}
	clear(s.dev)
	s.dev = s.dev[:0]
	s.nicmp = 0
	s.nopen = 0
}

// inbound routes one received data packet (spec §4.14): hop limit check,
// then local delivery or forwarding.
func (n *Node) inbound(s *rxScratch, p []byte) {
	h, err := wire.DecodeDataHeader(p)
	if err != nil || len(p) < wire.DataHeaderSize+int(h.Length) {
		n.m.Malformed.Add(1)
		return
	}
	p = p[:wire.DataHeaderSize+int(h.Length)]
	if !identity.InOverlay(h.Src) || !identity.InOverlay(h.Dst) {
		n.m.Malformed.Add(1) // no node can own these addresses
		return
	}
	s.src.add(n.bySrc, h.Src, len(p))
	s.dst.add(n.byDst, h.Dst, len(p))
	if h.HopLimit < 2 {
		n.m.RoutedTTL.Add(1)
		n.sendOOB(icmpTimeExceed, timeExceededHop, h, p[wire.DataHeaderSize:])
		return
	}
	hop := h.HopLimit - 1
	if identity.SameSubnet(h.Dst, n.addr) {
		n.m.RoutedLocal.Add(1)
		n.deliver(s, h, hop, p, true)
		return
	}
	n.forward(s, h, hop, p)
}

// forward sends a transit packet on to the selected next hop (staged in
// s, handed over by flushRx), reports "no route" to its source when routes
// exist but none is selected, and queues it while the destination is being
// queried.
func (n *Node) forward(s *rxScratch, h wire.DataHeader, hop uint8, p []byte) {
	fw := n.r.Lookup(h.Dst)
	switch {
	case fw.Selected():
		n.r.Refresh(fw, s.now)
		if cap(s.frames)-len(s.frames) < wire.OuterHeaderSize+len(p) {
			n.flushTx(&s.fwd)
			s.frames = s.frames[:0]
		}
		at := len(s.frames)
		s.frames = append(s.frames, wire.ProtocolVersion, wire.TypeData, 0, 0)
		s.frames = append(s.frames, p...)
		s.frames[at+dataHdrOff+3] = hop
		n.stage(&s.fwd, fw.NextHop, s.frames[at:])
	case fw != nil && !fw.Queried:
		n.m.RoutedNoRoute.Add(1)
		n.sendOOB(icmpUnreach, unreachNoRoute, h, p[wire.DataHeaderSize:])
	default:
		n.q.enqueueTransit(h, hop, p, s.now)
	}
}

// deliver opens a packet addressed to our /64 with the key of its outer
// source and hands the payload on by kind (spec §6.5). Without the key,
// the packet is parked (when mayPark) and the key is requested. The
// plaintext goes into the next device buffer, with the IPv6 packet at
// tunOffset, so a packet for the device needs no further copy.
func (n *Node) deliver(s *rxScratch, h wire.DataHeader, hop uint8, p []byte, mayPark bool) {
	fw := n.r.Lookup(h.Src)
	if !fw.Keyed() {
		if mayPark {
			n.q.park(h, hop, p, s.now)
		}
		return
	}
	body := p[wire.DataHeaderSize:]
	const at = tunOffset - wire.UserHeaderSize
	plain, err := fw.Secret().Open(s.openBuf()[:at], body)
	if err != nil {
		n.m.CryptoFailures.Add(1)
		return
	}
	kind, payload, err := wire.ParseUserHeader(plain[at:])
	if err != nil {
		n.m.Malformed.Add(1)
		return
	}
	switch kind {
	case wire.KindPacket:
		n.deliverPacket(s, fw.Prefix.Addr(), hop, payload)
	case wire.KindMessage:
		if hp := n.onMsg.Load(); hp != nil {
			n.m.MessagesIn.Add(1)
			(*hp)(h.Src, h.Dst, payload)
		} else {
			n.m.MessagesDropped.Add(1)
		}
	case wire.KindICMP:
		n.receiveOOB(s, h, hop, payload)
	default:
		n.m.Malformed.Add(1)
	}
}

// deliverPacket queues a decrypted IPv6 packet, which lies at tunOffset in
// the scratch's next device buffer, for the device. The inner source must
// lie in the sender key's /64 (architecture decision 3) and the inner
// destination in ours; the hop limit byte is overwritten with the data
// packet's. A full batch is written at once.
func (n *Node) deliverPacket(s *rxScratch, sender netip.Addr, hop uint8, payload []byte) {
	if len(payload) < ipv6HeaderLen || payload[0]>>4 != 6 {
		n.m.Malformed.Add(1)
		return
	}
	if !sameUpper64(payload[8:24], sender) {
		n.m.ForgedSource.Add(1)
		return
	}
	if !sameUpper64(payload[24:40], n.addr) {
		n.m.ForgedDest.Add(1)
		return
	}
	payload[7] = hop
	if n.dev == nil {
		n.m.DeviceDropped.Add(1)
		return
	}
	s.dev = append(s.dev, s.openBuf()[:tunOffset+len(payload)])
	s.claimOpen()
	if len(s.dev) >= devBatch {
		n.flushDevice(s)
	}
}
