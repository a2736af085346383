package netstack

import (
	"encoding/binary"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// pktReader copies the bytes of a PacketBuffer out in order, across the
// views that back it, without allocating.
type pktReader struct {
	v   *buffer.View
	off int
}

// newPktReader returns a reader positioned at the first byte of pkt (its
// outermost header).
func newPktReader(pkt *stack.PacketBuffer) pktReader {
	vl, off := pkt.AsViewList()
	r := pktReader{v: vl.Front()}
	r.advance(off, nil)
	return r
}

// read fills dst and returns how many bytes it copied (less than len(dst)
// only at the end of the packet).
func (r *pktReader) read(dst []byte) int { return r.advance(len(dst), dst) }

// advance moves n bytes forward, copying them into dst if dst is not nil.
func (r *pktReader) advance(n int, dst []byte) int {
	done := 0
	for done < n && r.v != nil {
		b := r.v.AsSlice()[r.off:]
		c := min(len(b), n-done)
		if dst != nil {
			copy(dst[done:], b[:c])
		}
		done += c
		r.off += c
		if r.off == r.v.Size() {
			r.v, r.off = r.v.Next(), 0
		}
	}
	return done
}

// copyPacket copies the whole of pkt into dst and returns its length, or -1
// if dst is too small.
func copyPacket(dst []byte, pkt *stack.PacketBuffer) int {
	size := pkt.Size()
	if size > len(dst) {
		return -1
	}
	r := newPktReader(pkt)
	return r.read(dst[:size])
}

// maxHeaderLen bounds an IPv6 header (with the few extension headers gVisor
// may add) plus a TCP header with options.
const maxHeaderLen = 256

// segmenter turns one TCP super-segment produced under host GSO into
// MTU-sized IPv6 packets, the job a NIC does for TSO: it copies the headers
// in front of every slice of payload, fixes the IPv6 payload length and the
// TCP sequence number, keeps FIN and PSH for the last segment only, and
// computes the TCP checksum (the stack left only the pseudo-header sum).
type segmenter struct {
	pkt       *stack.PacketBuffer // nil when idle; holds one reference
	r         pktReader
	hdr       [maxHeaderLen]byte
	netLen    int // IPv6 header and extension headers
	hdrLen    int // netLen plus the TCP header
	mss       int
	remaining int    // payload bytes not yet emitted
	seq       uint32 // sequence number of the next segment
}

// active reports whether a super-segment is being split.
func (g *segmenter) active() bool { return g.pkt != nil }

// start takes ownership of pkt (one reference). It returns false, releasing
// pkt, if the packet is not a well-formed TCP super-segment.
func (g *segmenter) start(pkt *stack.PacketBuffer) bool {
	netLen := len(pkt.NetworkHeader().Slice())
	hdrLen := netLen + len(pkt.TransportHeader().Slice())
	mss := int(pkt.GSOOptions.MSS)
	if netLen < header.IPv6MinimumSize || hdrLen-netLen < header.TCPMinimumSize ||
		hdrLen > maxHeaderLen || mss <= 0 {
		pkt.DecRef()
		return false
	}
	g.pkt, g.netLen, g.hdrLen, g.mss = pkt, netLen, hdrLen, mss
	g.r = newPktReader(pkt)
	g.r.read(g.hdr[:hdrLen])
	g.remaining = pkt.Size() - hdrLen
	g.seq = binary.BigEndian.Uint32(g.hdr[netLen+4:])
	return true
}

// next writes the next segment into dst and returns its length, or -1 if
// dst cannot hold it (the super-segment is then dropped). When the last
// segment is out the packet is released and the segmenter is idle again.
func (g *segmenter) next(dst []byte) int {
	n := min(g.mss, g.remaining)
	size := g.hdrLen + n
	if size > len(dst) {
		g.stop()
		return -1
	}
	seg := dst[:size]
	copy(seg, g.hdr[:g.hdrLen])
	g.r.read(seg[g.hdrLen:])
	binary.BigEndian.PutUint16(seg[4:6], uint16(size-header.IPv6MinimumSize))
	tcp := seg[g.netLen:]
	binary.BigEndian.PutUint32(tcp[4:8], g.seq)
	g.remaining -= n
	g.seq += uint32(n)
	if g.remaining > 0 {
		tcp[13] &^= byte(header.TCPFlagFin | header.TCPFlagPsh)
	}
	setTCPChecksum(seg, g.netLen)
	if g.remaining <= 0 {
		g.stop()
	}
	return size
}

// stop releases the packet being split.
func (g *segmenter) stop() {
	if g.pkt != nil {
		g.pkt.DecRef()
		g.pkt = nil
	}
}

// setTCPChecksum computes the checksum of the TCP segment that starts at
// netLen in the IPv6 packet pkt, pseudo-header included.
func setTCPChecksum(pkt []byte, netLen int) {
	tcp := pkt[netLen:]
	tcp[16], tcp[17] = 0, 0
	xsum := checksum.Checksum(pkt[8:40], 0) // source and destination
	xsum = checksum.Combine(xsum, uint16(len(tcp)))
	xsum = checksum.Combine(xsum, uint16(header.TCPProtocolNumber))
	xsum = checksum.Checksum(tcp, xsum)
	binary.BigEndian.PutUint16(tcp[16:], ^xsum)
}
