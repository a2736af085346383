package socks5

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
)

// HexHost parses a host name whose first label is the 32 hex digits of an
// IPv6 address, "<32 hex digits>.<anything>" (the form of overlay mail
// domains), or just the 32 digits, and returns that address.
func HexHost(host string) (netip.Addr, bool) {
	label, _, _ := strings.Cut(host, ".")
	if len(label) != 32 {
		return netip.Addr{}, false
	}
	var a [16]byte
	if _, err := hex.Decode(a[:], []byte(label)); err != nil {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16(a), true
}

// ResolveHex is a Server.Resolve hook that accepts only names HexHost
// understands, with no DNS involved.
func ResolveHex(_ context.Context, host string) (netip.Addr, error) {
	if a, ok := HexHost(host); ok {
		return a, nil
	}
	return netip.Addr{}, fmt.Errorf("socks5: %q is not a <32 hex digits> host name", host)
}
