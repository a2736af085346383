package node

import (
	"encoding/binary"
	"net/netip"
)

// IPv6 and ICMPv6 constants.
const (
	ipv6HeaderLen  = 40
	icmpHeaderLen  = 8
	protoICMPv6    = 58
	minMTU         = 1280
	maxICMPQuote   = minMTU - ipv6HeaderLen - icmpHeaderLen // 1232 (spec §6.4 item 7)
	maxICMPPacket  = ipv6HeaderLen + icmpHeaderLen + maxICMPQuote
	icmpHopLimit   = 64
	icmpUnreach    = 1 // Destination Unreachable
	icmpTooBig     = 2 // Packet Too Big
	icmpTimeExceed = 3 // Time Exceeded

	unreachNoRoute  = 0
	unreachAddress  = 3
	unreachPolicy   = 5 // source address failed ingress/egress policy
	timeExceededHop = 0
)

// putICMPv6 writes into b an IPv6 packet carrying an ICMPv6 error: type,
// code, the 4-byte field after the checksum (the MTU for Packet Too Big,
// else 0), and quote truncated to 1232 bytes so the whole packet fits the
// IPv6 minimum MTU. It returns the packet length; b must hold
// maxICMPPacket bytes.
func putICMPv6(b []byte, src, dst netip.Addr, hop, typ, code uint8, field uint32, quote []byte) int {
	if len(quote) > maxICMPQuote {
		quote = quote[:maxICMPQuote]
	}
	msgLen := icmpHeaderLen + len(quote)
	putIPv6Header(b, src, dst, hop, protoICMPv6, msgLen)
	msg := b[ipv6HeaderLen : ipv6HeaderLen+msgLen]
	msg[0], msg[1], msg[2], msg[3] = typ, code, 0, 0
	binary.BigEndian.PutUint32(msg[4:8], field)
	copy(msg[icmpHeaderLen:], quote)
	binary.BigEndian.PutUint16(msg[2:4], icmpv6Checksum(src.As16(), dst.As16(), msg))
	return ipv6HeaderLen + msgLen
}

// putIPv6Header writes a 40-byte IPv6 header (traffic class and flow
// label zero).
func putIPv6Header(b []byte, src, dst netip.Addr, hop, next uint8, payloadLen int) {
	binary.BigEndian.PutUint32(b[0:4], 6<<28)
	binary.BigEndian.PutUint16(b[4:6], uint16(payloadLen))
	b[6], b[7] = next, hop
	s, d := src.As16(), dst.As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
}

// icmpv6Checksum is the ICMPv6 checksum of msg (checksum field zero) with
// the IPv6 pseudo-header (RFC 8200 §8.1).
func icmpv6Checksum(src, dst [16]byte, msg []byte) uint16 {
	sum := uint32(0)
	sum = sumWords(sum, src[:])
	sum = sumWords(sum, dst[:])
	sum += uint32(len(msg)>>16) + uint32(len(msg)&0xFFFF)
	sum += protoICMPv6
	sum = sumWords(sum, msg)
	for sum > 0xFFFF {
		sum = sum>>16 + sum&0xFFFF
	}
	return ^uint16(sum)
}

// sumWords adds b as big-endian 16-bit words (odd length padded with 0)
// to sum, folding carries.
func sumWords(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
		if sum > 0xFFFF {
			sum = sum>>16 + sum&0xFFFF
		}
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// ipv6Addrs returns the source and destination of an IPv6 packet of at
// least 40 bytes.
func ipv6Addrs(p []byte) (src, dst netip.Addr) {
	return netip.AddrFrom16([16]byte(p[8:24])), netip.AddrFrom16([16]byte(p[24:40]))
}

// sameUpper64 reports whether a and b share their upper 64 bits.
func sameUpper64(a []byte, b netip.Addr) bool {
	bb := b.As16()
	return [8]byte(a[:8]) == [8]byte(bb[:8])
}
