// Package addr parses mail addresses and maps mail domains to mesh nodes.
//
// A node's canonical mail domain is the 32 lowercase hex digits of its
// overlay address followed by ".mycelium.internal", so a recipient domain
// resolves to an overlay address without DNS. Friendly aliases map a domain
// to a node's public key; the Resolver turns either form into the overlay
// address to dial and tells which domains belong to the local node.
package addr

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Suffix is the fixed suffix of canonical node mail domains.
const Suffix = ".mycelium.internal"

// MaxAddressLen bounds an address (RFC 5321 path limit).
const MaxAddressLen = 254

// ErrSyntax is wrapped by every parse error of this package.
var ErrSyntax = errors.New("invalid mail address")

// CanonicalDomain returns the canonical mail domain of the node with
// overlay address a.
func CanonicalDomain(a netip.Addr) string {
	b := a.As16()
	return hex.EncodeToString(b[:]) + Suffix
}

// ParseCanonicalDomain returns the overlay address named by a canonical
// domain. ok is false if d is not of that form or the address is outside
// the overlay range 400::/7.
func ParseCanonicalDomain(d string) (a netip.Addr, ok bool) {
	d = strings.ToLower(d)
	label, found := strings.CutSuffix(d, Suffix)
	if !found || len(label) != 32 {
		return netip.Addr{}, false
	}
	var b [16]byte
	if _, err := hex.Decode(b[:], []byte(label)); err != nil {
		return netip.Addr{}, false
	}
	if b[0]&0xfe != 0x04 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16(b), true
}

// Address is a parsed mail address: a case-folded local part and a
// lowercase domain.
type Address struct {
	Local  string
	Domain string
}

// String returns local@domain.
func (a Address) String() string { return a.Local + "@" + a.Domain }

// Parse parses an address of the form local@domain (no angle brackets, no
// display name). The local part must be a dot-atom (UTF-8 allowed, as with
// SMTPUTF8) and is lowercased: local parts are case-insensitive here. The
// domain must be a DNS name of letters, digits and hyphens.
func Parse(s string) (Address, error) {
	if len(s) > MaxAddressLen {
		return Address{}, fmt.Errorf("%w: longer than %d bytes", ErrSyntax, MaxAddressLen)
	}
	i := strings.LastIndexByte(s, '@')
	if i < 0 {
		return Address{}, fmt.Errorf("%w: %q has no @", ErrSyntax, s)
	}
	local, domain := s[:i], s[i+1:]
	if err := checkLocal(local); err != nil {
		return Address{}, err
	}
	d, err := ParseDomain(domain)
	if err != nil {
		return Address{}, err
	}
	return Address{Local: strings.ToLower(local), Domain: d}, nil
}

// NormalizeLocal lowercases and validates a bare local part (an account name).
func NormalizeLocal(local string) (string, error) {
	if err := checkLocal(local); err != nil {
		return "", err
	}
	return strings.ToLower(local), nil
}

func checkLocal(local string) error {
	if local == "" || len(local) > 64 {
		return fmt.Errorf("%w: local part must be 1 to 64 bytes", ErrSyntax)
	}
	if !utf8.ValidString(local) {
		return fmt.Errorf("%w: local part is not valid UTF-8", ErrSyntax)
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return fmt.Errorf("%w: local part %q has a misplaced dot", ErrSyntax, local)
	}
	for _, r := range local {
		if !isAtext(r) && r != '.' {
			return fmt.Errorf("%w: character %q not allowed in local part", ErrSyntax, r)
		}
	}
	return nil
}

func isAtext(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	case r >= 0x80:
		return r != utf8.RuneError && r > 0x9f // no C1 controls
	}
	return strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
}

// ParseDomain validates a domain name and returns it lowercased, without a
// trailing dot.
func ParseDomain(d string) (string, error) {
	d = strings.TrimSuffix(strings.ToLower(d), ".")
	if d == "" || len(d) > 253 {
		return "", fmt.Errorf("%w: domain must be 1 to 253 bytes", ErrSyntax)
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 {
			return "", fmt.Errorf("%w: domain %q has an empty or overlong label", ErrSyntax, d)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "", fmt.Errorf("%w: domain label %q starts or ends with a hyphen", ErrSyntax, label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", fmt.Errorf("%w: character %q not allowed in domain %q", ErrSyntax, c, d)
			}
		}
	}
	return d, nil
}
