package identity

import (
	"math/bits"
	"net/netip"

	"github.com/zeebo/blake3"
)

// OverlayPrefix is 400::/7, the range every overlay address lies in.
var OverlayPrefix = netip.MustParsePrefix("400::/7")

// SubnetBits is the prefix length of a node's subnet.
const SubnetBits = 64

// AddressOf derives the overlay address of a public key (spec §1.2): the
// first 16 bytes of BLAKE3(key), byte 0 replaced by 0x04|parity(byte 0).
func AddressOf(k PublicKey) netip.Addr {
	sum := blake3.Sum256(k[:])
	var a [16]byte
	copy(a[:], sum[:16])
	a[0] = 0x04 | byte(bits.OnesCount8(sum[0])&1)
	return netip.AddrFrom16(a)
}

// SubnetOf returns the /64 that contains the address derived from k.
func SubnetOf(k PublicKey) netip.Prefix {
	return netip.PrefixFrom(AddressOf(k), SubnetBits).Masked()
}

// InOverlay reports whether a is an IPv6 address in 400::/7.
func InOverlay(a netip.Addr) bool {
	if !a.Is6() || a.Is4In6() {
		return false
	}
	return a.As16()[0]&0xfe == 0x04
}

// SubnetOfAddr returns the /64 containing a.
func SubnetOfAddr(a netip.Addr) netip.Prefix {
	return netip.PrefixFrom(a, SubnetBits).Masked()
}

// SameSubnet reports whether a and b lie in the same /64. It is the check
// behind "identity is the source address": an inner IPv6 source must lie in
// the /64 of the key that sealed the packet.
func SameSubnet(a, b netip.Addr) bool {
	x, y := a.As16(), b.As16()
	return [8]byte(x[:8]) == [8]byte(y[:8])
}
