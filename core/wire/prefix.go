package wire

import (
	"errors"
	"fmt"
	"net/netip"
)

// Address encodings (spec §3.3).
const (
	AEWildcard  = 0
	AEIPv4      = 1
	AEIPv6      = 2
	AELinkLocal = 3
)

// ErrAE is returned for an invalid address encoding or prefix length.
var ErrAE = errors.New("wire: bad address encoding")

// prefixBytes is the number of prefix bytes on the wire for plen bits.
func prefixBytes(plen uint8) int { return (int(plen) + 7) / 8 }

// decodePrefix reads a prefix with address encoding ae and length plen from
// b. It returns the masked prefix (the zero Prefix for a wildcard) and the
// number of bytes it consumed. Missing trailing bytes are zero, and host
// bits in a partial last byte are cleared.
func decodePrefix(ae, plen uint8, b []byte) (netip.Prefix, int, error) {
	switch ae {
	case AEWildcard:
		if plen != 0 {
			return netip.Prefix{}, 0, fmt.Errorf("%w: wildcard with prefix length %d", ErrAE, plen)
		}
		return netip.Prefix{}, 0, nil
	case AEIPv4:
		if plen > 32 {
			return netip.Prefix{}, 0, fmt.Errorf("%w: IPv4 prefix length %d", ErrAE, plen)
		}
		n := prefixBytes(plen)
		if len(b) < n {
			return netip.Prefix{}, 0, fmt.Errorf("%w: IPv4 prefix needs %d bytes", ErrShort, n)
		}
		var a [4]byte
		copy(a[:], b[:n])
		return netip.PrefixFrom(netip.AddrFrom4(a), int(plen)).Masked(), n, nil
	case AEIPv6:
		if plen > 128 {
			return netip.Prefix{}, 0, fmt.Errorf("%w: IPv6 prefix length %d", ErrAE, plen)
		}
		n := prefixBytes(plen)
		if len(b) < n {
			return netip.Prefix{}, 0, fmt.Errorf("%w: IPv6 prefix needs %d bytes", ErrShort, n)
		}
		var a [16]byte
		copy(a[:], b[:n])
		return netip.PrefixFrom(netip.AddrFrom16(a), int(plen)).Masked(), n, nil
	case AELinkLocal:
		if plen > 128 {
			return netip.Prefix{}, 0, fmt.Errorf("%w: link-local prefix length %d", ErrAE, plen)
		}
		if len(b) < 8 {
			return netip.Prefix{}, 0, fmt.Errorf("%w: link-local prefix needs 8 bytes", ErrShort)
		}
		a := [16]byte{0: 0xfe, 1: 0x80}
		copy(a[8:], b[:8])
		return netip.PrefixFrom(netip.AddrFrom16(a), int(plen)).Masked(), 8, nil
	default:
		return netip.Prefix{}, 0, fmt.Errorf("%w: AE %d", ErrAE, ae)
	}
}

// prefixAE returns the encoding we send for p: AE 0 for the zero prefix
// (wildcard), AE 1 for IPv4, AE 2 for IPv6.
func prefixAE(p netip.Prefix) uint8 {
	switch {
	case !p.IsValid():
		return AEWildcard
	case p.Addr().Is4():
		return AEIPv4
	default:
		return AEIPv6
	}
}

// appendPrefix appends the leading bytes of p's address.
func appendPrefix(dst []byte, p netip.Prefix) []byte {
	if !p.IsValid() {
		return dst
	}
	n := prefixBytes(uint8(p.Bits()))
	if p.Addr().Is4() {
		a := p.Masked().Addr().As4()
		return append(dst, a[:n]...)
	}
	a := p.Masked().Addr().As16()
	return append(dst, a[:n]...)
}

// encodedPrefixLen is the wire size of p's prefix bytes.
func encodedPrefixLen(p netip.Prefix) int {
	if !p.IsValid() {
		return 0
	}
	return prefixBytes(uint8(p.Bits()))
}

// decodeAddr reads a full address (IHU) with encoding ae.
func decodeAddr(ae uint8, b []byte) (netip.Addr, int, error) {
	switch ae {
	case AEWildcard:
		return netip.Addr{}, 0, nil
	case AEIPv4:
		if len(b) < 4 {
			return netip.Addr{}, 0, fmt.Errorf("%w: IPv4 address", ErrShort)
		}
		return netip.AddrFrom4([4]byte(b[:4])), 4, nil
	case AEIPv6:
		if len(b) < 16 {
			return netip.Addr{}, 0, fmt.Errorf("%w: IPv6 address", ErrShort)
		}
		return netip.AddrFrom16([16]byte(b[:16])), 16, nil
	case AELinkLocal:
		if len(b) < 8 {
			return netip.Addr{}, 0, fmt.Errorf("%w: link-local address", ErrShort)
		}
		a := [16]byte{0: 0xfe, 1: 0x80}
		copy(a[8:], b[:8])
		return netip.AddrFrom16(a), 8, nil
	default:
		return netip.Addr{}, 0, fmt.Errorf("%w: AE %d", ErrAE, ae)
	}
}

func addrAE(a netip.Addr) uint8 {
	switch {
	case !a.IsValid():
		return AEWildcard
	case a.Is4():
		return AEIPv4
	default:
		return AEIPv6
	}
}

func appendAddr(dst []byte, a netip.Addr) []byte {
	switch {
	case !a.IsValid():
		return dst
	case a.Is4():
		b := a.As4()
		return append(dst, b[:]...)
	default:
		b := a.As16()
		return append(dst, b[:]...)
	}
}
