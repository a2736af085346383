package netstack

import (
	"encoding/binary"

	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// rxChecksumOK verifies the transport checksum of an inbound IPv6 packet
// whose transport header follows the fixed header directly (TCP, UDP or
// ICMPv6: nearly every packet). It returns true for anything it cannot
// check (extension headers, fragments, truncated packets); the stack
// validates the headers of those, and the overlay's AEAD already guarantees
// they were not corrupted in transit.
//
// The link endpoint declares receive-checksum offload because gVisor's GRO
// only works that way (the NIC marks every packet as checked), so this is
// where corrupt checksums are caught: they are dropped before the stack.
func rxChecksumOK(pkt []byte) bool {
	if len(pkt) < header.IPv6MinimumSize {
		return true
	}
	plen := int(binary.BigEndian.Uint16(pkt[4:6]))
	if header.IPv6MinimumSize+plen > len(pkt) {
		return true
	}
	next := pkt[6]
	switch next {
	case uint8(header.TCPProtocolNumber), uint8(header.UDPProtocolNumber), uint8(header.ICMPv6ProtocolNumber):
	default:
		return true
	}
	xsum := checksum.Checksum(pkt[8:40], 0)
	xsum = checksum.Combine(xsum, uint16(plen))
	xsum = checksum.Combine(xsum, uint16(next))
	xsum = checksum.Checksum(pkt[header.IPv6MinimumSize:header.IPv6MinimumSize+plen], xsum)
	return xsum == 0xffff
}
