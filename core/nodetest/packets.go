package nodetest

import (
	"encoding/binary"
	"net/netip"
)

// IPv6 next-header values used by the builders.
const (
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// UDP builds an IPv6 packet carrying a UDP datagram with a valid
// checksum.
func UDP(src, dst netip.Addr, sport, dport uint16, hop uint8, payload []byte) []byte {
	pkt := make([]byte, 40+8+len(payload))
	ipv6(pkt, src, dst, ProtoUDP, hop, 8+len(payload))
	u := pkt[40:]
	binary.BigEndian.PutUint16(u[0:2], sport)
	binary.BigEndian.PutUint16(u[2:4], dport)
	binary.BigEndian.PutUint16(u[4:6], uint16(8+len(payload)))
	copy(u[8:], payload)
	c := Checksum(src, dst, ProtoUDP, u)
	if c == 0 {
		c = 0xFFFF
	}
	binary.BigEndian.PutUint16(u[6:8], c)
	return pkt
}

// Echo builds an ICMPv6 echo request.
func Echo(src, dst netip.Addr, id, seq uint16, hop uint8, payload []byte) []byte {
	pkt := make([]byte, 40+8+len(payload))
	ipv6(pkt, src, dst, ProtoICMPv6, hop, 8+len(payload))
	m := pkt[40:]
	m[0] = 128
	binary.BigEndian.PutUint16(m[4:6], id)
	binary.BigEndian.PutUint16(m[6:8], seq)
	copy(m[8:], payload)
	binary.BigEndian.PutUint16(m[2:4], Checksum(src, dst, ProtoICMPv6, m))
	return pkt
}

func ipv6(pkt []byte, src, dst netip.Addr, next, hop uint8, payloadLen int) {
	binary.BigEndian.PutUint32(pkt[0:4], 6<<28)
	binary.BigEndian.PutUint16(pkt[4:6], uint16(payloadLen))
	pkt[6], pkt[7] = next, hop
	s, d := src.As16(), dst.As16()
	copy(pkt[8:24], s[:])
	copy(pkt[24:40], d[:])
}

// Checksum is the upper-layer checksum of msg (checksum field included as
// is) over the IPv6 pseudo-header; a packet with a correct checksum sums
// to 0.
func Checksum(src, dst netip.Addr, proto uint8, msg []byte) uint16 {
	s, d := src.As16(), dst.As16()
	var sum uint64
	add := func(b []byte) {
		for len(b) >= 2 {
			sum += uint64(binary.BigEndian.Uint16(b))
			b = b[2:]
		}
		if len(b) == 1 {
			sum += uint64(b[0]) << 8
		}
	}
	add(s[:])
	add(d[:])
	sum += uint64(len(msg)) + uint64(proto)
	add(msg)
	for sum > 0xFFFF {
		sum = sum>>16 + sum&0xFFFF
	}
	return ^uint16(sum)
}

// Packet is a parsed IPv6 packet.
type Packet struct {
	Src, Dst   netip.Addr
	Next       uint8
	HopLimit   uint8
	Payload    []byte // after the IPv6 header
	SrcPort    uint16 // UDP only
	DstPort    uint16 // UDP only
	UDPPayload []byte // UDP only
	ICMPType   uint8  // ICMPv6 only
	ICMPCode   uint8  // ICMPv6 only
	ChecksumOK bool   // UDP and ICMPv6
}

// Parse decodes an IPv6 packet with a UDP or ICMPv6 payload.
func Parse(pkt []byte) (Packet, bool) {
	if len(pkt) < 40 || pkt[0]>>4 != 6 {
		return Packet{}, false
	}
	n := int(binary.BigEndian.Uint16(pkt[4:6]))
	if len(pkt) < 40+n {
		return Packet{}, false
	}
	p := Packet{
		Src:      netip.AddrFrom16([16]byte(pkt[8:24])),
		Dst:      netip.AddrFrom16([16]byte(pkt[24:40])),
		Next:     pkt[6],
		HopLimit: pkt[7],
		Payload:  pkt[40 : 40+n],
	}
	switch {
	case p.Next == ProtoUDP && n >= 8:
		p.SrcPort = binary.BigEndian.Uint16(p.Payload[0:2])
		p.DstPort = binary.BigEndian.Uint16(p.Payload[2:4])
		p.UDPPayload = p.Payload[8:]
		p.ChecksumOK = Checksum(p.Src, p.Dst, ProtoUDP, p.Payload) == 0
	case p.Next == ProtoICMPv6 && n >= 8:
		p.ICMPType, p.ICMPCode = p.Payload[0], p.Payload[1]
		p.ChecksumOK = Checksum(p.Src, p.Dst, ProtoICMPv6, p.Payload) == 0
	}
	return p, true
}
