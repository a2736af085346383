package sdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// The preamble is a PROXY protocol version 2 header (binary form, command
// PROXY, family TCP over IPv6) followed by mycelium TLVs. The exact layout is
// in docs/plugins.md. IPv4 addresses (loopback clients) travel as
// IPv4-mapped IPv6 addresses and are unmapped on decode.
const (
	// PreambleVersion is the version of the mycelium TLV set, carried in
	// the TLVVersion TLV.
	PreambleVersion = 1
	// MaxPreambleLen bounds a preamble, header included. Longer ones are
	// rejected without being read.
	MaxPreambleLen = 512
	// MaxServiceNameLen bounds a service name.
	MaxServiceNameLen = 64

	// TLV types in the PROXY v2 custom range 0xE0-0xEF.
	TLVVersion = 0xE0 // 1 byte: PreambleVersion
	TLVOrigin  = 0xE1 // 1 byte: Origin
	TLVPeerKey = 0xE2 // 32 bytes: the peer's public key (overlay only)
	TLVService = 0xE3 // 1-64 bytes: the service name

	tlvNoop = 0x04 // PP2_TYPE_NOOP: padding, skipped

	proxyHeaderLen = 16 // signature (12), ver/cmd, family, length (2)
	proxyAddrLen   = 36 // IPv6 source, destination, source port, destination port
	verCmdProxy    = 0x21
	famTCP6        = 0x21
)

// proxySignature opens every PROXY protocol v2 header.
var proxySignature = [12]byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}

// ErrBadPreamble is wrapped by every preamble decoding error.
var ErrBadPreamble = errors.New("sdk: bad preamble")

// overlayPrefix is 400::/7, where every overlay address lives.
var overlayPrefix = netip.MustParsePrefix("400::/7")

// EncodePreamble returns the preamble announcing a connection from p. It
// rejects a peer that DecodePreamble would reject.
func EncodePreamble(p Peer) ([]byte, error) {
	if err := validatePeer(p); err != nil {
		return nil, fmt.Errorf("sdk: encode preamble: %w", err)
	}
	body := make([]byte, 0, 128)
	src, dst := p.Addr.Addr().As16(), p.Local.Addr().As16()
	body = append(body, src[:]...)
	body = append(body, dst[:]...)
	body = binary.BigEndian.AppendUint16(body, p.Addr.Port())
	body = binary.BigEndian.AppendUint16(body, p.Local.Port())
	body = appendTLV(body, TLVVersion, []byte{PreambleVersion})
	body = appendTLV(body, TLVOrigin, []byte{byte(p.Origin)})
	if p.Origin == OriginOverlay {
		body = appendTLV(body, TLVPeerKey, p.Key[:])
	}
	body = appendTLV(body, TLVService, []byte(p.Service))

	out := make([]byte, 0, proxyHeaderLen+len(body))
	out = append(out, proxySignature[:]...)
	out = append(out, verCmdProxy, famTCP6)
	out = binary.BigEndian.AppendUint16(out, uint16(len(body)))
	return append(out, body...), nil
}

func appendTLV(b []byte, typ byte, v []byte) []byte {
	b = append(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// ReadPreamble reads exactly one preamble from r, and not one byte more, so
// the protocol bytes that follow stay in r. Set a read deadline on r first:
// ReadPreamble waits for as long as r does.
func ReadPreamble(r io.Reader) (Peer, error) {
	var buf [MaxPreambleLen]byte
	if _, err := io.ReadFull(r, buf[:proxyHeaderLen]); err != nil {
		return Peer{}, fmt.Errorf("%w: read header: %w", ErrBadPreamble, err)
	}
	n, err := checkHeader(buf[:proxyHeaderLen])
	if err != nil {
		return Peer{}, err
	}
	if _, err := io.ReadFull(r, buf[proxyHeaderLen:proxyHeaderLen+n]); err != nil {
		return Peer{}, fmt.Errorf("%w: read body: %w", ErrBadPreamble, err)
	}
	return decodeBody(buf[proxyHeaderLen : proxyHeaderLen+n])
}

// DecodePreamble decodes a preamble that fills all of b: trailing bytes are
// an error. It never panics, whatever b holds.
func DecodePreamble(b []byte) (Peer, error) {
	if len(b) < proxyHeaderLen {
		return Peer{}, fmt.Errorf("%w: %d bytes is shorter than the %d-byte header", ErrBadPreamble, len(b), proxyHeaderLen)
	}
	n, err := checkHeader(b[:proxyHeaderLen])
	if err != nil {
		return Peer{}, err
	}
	if len(b) != proxyHeaderLen+n {
		return Peer{}, fmt.Errorf("%w: header announces %d bytes, got %d", ErrBadPreamble, n, len(b)-proxyHeaderLen)
	}
	return decodeBody(b[proxyHeaderLen:])
}

// checkHeader validates the fixed 16-byte header and returns the body length.
func checkHeader(h []byte) (int, error) {
	if !bytes.Equal(h[:12], proxySignature[:]) {
		return 0, fmt.Errorf("%w: no PROXY v2 signature", ErrBadPreamble)
	}
	if h[12] != verCmdProxy {
		return 0, fmt.Errorf("%w: version/command byte 0x%02x, want 0x%02x (v2 PROXY)", ErrBadPreamble, h[12], verCmdProxy)
	}
	if h[13] != famTCP6 {
		return 0, fmt.Errorf("%w: family byte 0x%02x, want 0x%02x (TCP over IPv6)", ErrBadPreamble, h[13], famTCP6)
	}
	n := int(binary.BigEndian.Uint16(h[14:16]))
	if n > MaxPreambleLen-proxyHeaderLen {
		return 0, fmt.Errorf("%w: body of %d bytes exceeds the %d-byte limit", ErrBadPreamble, n, MaxPreambleLen-proxyHeaderLen)
	}
	if n < proxyAddrLen {
		return 0, fmt.Errorf("%w: body of %d bytes is shorter than the %d-byte address block", ErrBadPreamble, n, proxyAddrLen)
	}
	return n, nil
}

// decodeBody decodes the address block and the TLVs.
func decodeBody(b []byte) (Peer, error) {
	var p Peer
	src := netip.AddrFrom16([16]byte(b[0:16])).Unmap()
	dst := netip.AddrFrom16([16]byte(b[16:32])).Unmap()
	p.Addr = netip.AddrPortFrom(src, binary.BigEndian.Uint16(b[32:34]))
	p.Local = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(b[34:36]))

	seen := map[byte]bool{}
	for rest := b[proxyAddrLen:]; len(rest) > 0; {
		if len(rest) < 3 {
			return Peer{}, fmt.Errorf("%w: truncated TLV header (%d bytes left)", ErrBadPreamble, len(rest))
		}
		typ, n := rest[0], int(binary.BigEndian.Uint16(rest[1:3]))
		if len(rest)-3 < n {
			return Peer{}, fmt.Errorf("%w: TLV 0x%02x announces %d bytes, %d left", ErrBadPreamble, typ, n, len(rest)-3)
		}
		val := rest[3 : 3+n]
		rest = rest[3+n:]
		if typ == tlvNoop {
			continue
		}
		if seen[typ] {
			return Peer{}, fmt.Errorf("%w: duplicate TLV 0x%02x", ErrBadPreamble, typ)
		}
		seen[typ] = true
		if err := decodeTLV(&p, typ, val); err != nil {
			return Peer{}, err
		}
	}
	if !seen[TLVVersion] {
		return Peer{}, fmt.Errorf("%w: no version TLV", ErrBadPreamble)
	}
	if err := validatePeer(p); err != nil {
		return Peer{}, fmt.Errorf("%w: %w", ErrBadPreamble, err)
	}
	return p, nil
}

func decodeTLV(p *Peer, typ byte, val []byte) error {
	switch typ {
	case TLVVersion:
		if len(val) != 1 || val[0] != PreambleVersion {
			return fmt.Errorf("%w: unsupported version TLV % x, want %02x", ErrBadPreamble, val, PreambleVersion)
		}
	case TLVOrigin:
		if len(val) != 1 {
			return fmt.Errorf("%w: origin TLV of %d bytes, want 1", ErrBadPreamble, len(val))
		}
		p.Origin = Origin(val[0])
	case TLVPeerKey:
		if len(val) != len(p.Key) {
			return fmt.Errorf("%w: peer key TLV of %d bytes, want %d", ErrBadPreamble, len(val), len(p.Key))
		}
		p.Key = PublicKey(val)
	case TLVService:
		p.Service = string(val)
	default:
		return fmt.Errorf("%w: unknown TLV type 0x%02x", ErrBadPreamble, typ)
	}
	return nil
}

// validatePeer checks the rules both EncodePreamble and DecodePreamble
// enforce.
func validatePeer(p Peer) error {
	if err := ValidateServiceName(p.Service); err != nil {
		return err
	}
	if !p.Addr.IsValid() || !p.Local.IsValid() {
		return errors.New("peer and local addresses must both be set")
	}
	if p.Addr.Addr().Zone() != "" || p.Local.Addr().Zone() != "" {
		return errors.New("addresses must not carry a zone")
	}
	switch p.Origin {
	case OriginOverlay:
		if p.Key.IsZero() {
			return errors.New("overlay peer without a public key")
		}
		if !overlayPrefix.Contains(p.Addr.Addr()) {
			return fmt.Errorf("overlay peer address %s is outside %s", p.Addr.Addr(), overlayPrefix)
		}
	case OriginLoopback:
		if !p.Key.IsZero() {
			return errors.New("loopback peer must not carry a public key")
		}
		if !p.Addr.Addr().Unmap().IsLoopback() {
			return fmt.Errorf("loopback peer address %s is not a loopback address", p.Addr.Addr())
		}
	default:
		return fmt.Errorf("unknown origin %d", uint8(p.Origin))
	}
	return nil
}

// ValidateServiceName reports whether name is a valid service name: 1 to
// MaxServiceNameLen characters of ASCII letters, digits, '-', '_' and '.',
// starting with a letter or digit.
func ValidateServiceName(name string) error {
	if name == "" {
		return errors.New("empty service name")
	}
	if len(name) > MaxServiceNameLen {
		return fmt.Errorf("service name of %d bytes exceeds %d", len(name), MaxServiceNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '-' && c != '_' && c != '.') {
			return fmt.Errorf("service name %q: character %q not allowed at %d", name, c, i)
		}
	}
	return nil
}
