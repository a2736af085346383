package tun

import (
	"encoding/binary"
	"net/netip"
)

// Minimal IPv6 packet building and parsing for the device tests.

const (
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
	ipv6HdrLen  = 40
)

// ipv6Packet is a parsed IPv6 packet without extension headers.
type ipv6Packet struct {
	src, dst netip.Addr
	next     uint8
	payload  []byte
}

// parseIPv6 parses b; ok is false if b is not a well-formed IPv6 packet.
func parseIPv6(b []byte) (p ipv6Packet, ok bool) {
	if len(b) < ipv6HdrLen || b[0]>>4 != 6 {
		return p, false
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	if ipv6HdrLen+plen != len(b) {
		return p, false
	}
	p.src = netip.AddrFrom16([16]byte(b[8:24]))
	p.dst = netip.AddrFrom16([16]byte(b[24:40]))
	p.next = b[6]
	p.payload = b[ipv6HdrLen:]
	return p, true
}

// buildIPv6 returns an IPv6 packet carrying payload, whose transport checksum
// (at csumOff inside payload, if csumOff >= 0) is filled in.
func buildIPv6(src, dst netip.Addr, next uint8, payload []byte, csumOff int) []byte {
	b := make([]byte, ipv6HdrLen+len(payload))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:6], uint16(len(payload)))
	b[6] = next
	b[7] = 64
	s, d := src.As16(), dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	copy(b[ipv6HdrLen:], payload)
	if csumOff >= 0 {
		p := b[ipv6HdrLen:]
		p[csumOff], p[csumOff+1] = 0, 0
		binary.BigEndian.PutUint16(p[csumOff:], transportChecksum(src, dst, next, p))
	}
	return b
}

// transportChecksum computes the TCP/UDP/ICMPv6 checksum of payload (whose
// checksum field must be zero) with the IPv6 pseudo-header.
func transportChecksum(src, dst netip.Addr, next uint8, payload []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for len(b) >= 2 {
			sum += uint32(binary.BigEndian.Uint16(b))
			b = b[2:]
		}
		if len(b) == 1 {
			sum += uint32(b[0]) << 8
		}
	}
	s, d := src.As16(), dst.As16()
	add(s[:])
	add(d[:])
	var l [8]byte
	binary.BigEndian.PutUint32(l[0:4], uint32(len(payload)))
	l[7] = next
	add(l[:])
	add(payload)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	c := ^uint16(sum)
	if c == 0 && next == protoUDP {
		c = 0xffff
	}
	return c
}

// checksumOK reports whether the transport checksum of p verifies.
func checksumOK(p ipv6Packet) bool {
	var off int
	switch p.next {
	case protoTCP:
		off = 16
	case protoUDP:
		off = 6
	case protoICMPv6:
		off = 2
	default:
		return false
	}
	if len(p.payload) < off+2 {
		return false
	}
	c := append([]byte(nil), p.payload...)
	want := binary.BigEndian.Uint16(c[off:])
	c[off], c[off+1] = 0, 0
	return transportChecksum(p.src, p.dst, p.next, c) == want
}

// udpDatagram returns a UDP header plus data (checksum left zero).
func udpDatagram(srcPort, dstPort uint16, data []byte) []byte {
	u := make([]byte, 8+len(data))
	binary.BigEndian.PutUint16(u[0:], srcPort)
	binary.BigEndian.PutUint16(u[2:], dstPort)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	copy(u[8:], data)
	return u
}

// echoRequest returns an ICMPv6 echo request body (checksum left zero).
func echoRequest(id, seq uint16, data []byte) []byte {
	m := make([]byte, 8+len(data))
	m[0] = 128
	binary.BigEndian.PutUint16(m[4:], id)
	binary.BigEndian.PutUint16(m[6:], seq)
	copy(m[8:], data)
	return m
}

// tcpSegment is a TCP header with no payload beyond opts, plus data.
type tcpSegment struct {
	srcPort, dstPort uint16
	seq, ack         uint32
	flags            uint8
	window           uint16
	opts             []byte
	data             []byte
}

const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
)

// marshal encodes the segment (checksum left zero; opts padded to 4 bytes).
func (s tcpSegment) marshal() []byte {
	opts := s.opts
	for len(opts)%4 != 0 {
		opts = append(opts, 1) // NOP
	}
	hl := 20 + len(opts)
	b := make([]byte, hl+len(s.data))
	binary.BigEndian.PutUint16(b[0:], s.srcPort)
	binary.BigEndian.PutUint16(b[2:], s.dstPort)
	binary.BigEndian.PutUint32(b[4:], s.seq)
	binary.BigEndian.PutUint32(b[8:], s.ack)
	b[12] = uint8(hl/4) << 4
	b[13] = s.flags
	binary.BigEndian.PutUint16(b[14:], s.window)
	copy(b[20:], opts)
	copy(b[hl:], s.data)
	return b
}

// parseTCP parses a TCP segment; ok is false if b is too short.
func parseTCP(b []byte) (s tcpSegment, ok bool) {
	if len(b) < 20 {
		return s, false
	}
	hl := int(b[12]>>4) * 4
	if hl < 20 || hl > len(b) {
		return s, false
	}
	s.srcPort = binary.BigEndian.Uint16(b[0:])
	s.dstPort = binary.BigEndian.Uint16(b[2:])
	s.seq = binary.BigEndian.Uint32(b[4:])
	s.ack = binary.BigEndian.Uint32(b[8:])
	s.flags = b[13]
	s.window = binary.BigEndian.Uint16(b[14:])
	s.opts = b[20:hl]
	s.data = b[hl:]
	return s, true
}
