package socks5

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
)

// Protocol constants of RFC 1928 and RFC 1929.
const (
	version5    = 0x05
	authVersion = 0x01

	methodNoAuth       = 0x00
	methodUserPass     = 0x02
	methodNoAcceptable = 0xff

	cmdConnect      = 0x01
	cmdBind         = 0x02
	cmdUDPAssociate = 0x03

	atypIPv4   = 0x01
	atypDomain = 0x03
	atypIPv6   = 0x04
)

// Reply codes (RFC 1928 section 6).
const (
	ReplySucceeded           byte = 0x00
	ReplyGeneralFailure      byte = 0x01
	ReplyNotAllowed          byte = 0x02
	ReplyNetworkUnreachable  byte = 0x03
	ReplyHostUnreachable     byte = 0x04
	ReplyConnectionRefused   byte = 0x05
	ReplyTTLExpired          byte = 0x06
	ReplyCommandNotSupported byte = 0x07
	ReplyAddrNotSupported    byte = 0x08
)

// errBadVersion marks a client that does not speak SOCKS5; it gets no
// reply, the connection is just closed.
var errBadVersion = errors.New("socks5: not a SOCKS5 client")

// replyError is a request failure that is answered with a reply code.
type replyError struct {
	code byte
	err  error
}

func (e *replyError) Error() string { return fmt.Sprintf("socks5: reply %#02x: %v", e.code, e.err) }
func (e *replyError) Unwrap() error { return e.err }

func replyErr(code byte, format string, args ...any) error {
	return &replyError{code: code, err: fmt.Errorf(format, args...)}
}

// readGreeting reads the client's version/method-selection message and
// returns the offered methods.
func readGreeting(r io.Reader) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("socks5: read greeting: %w", err)
	}
	if hdr[0] != version5 {
		return nil, errBadVersion
	}
	if hdr[1] == 0 {
		return nil, fmt.Errorf("socks5: greeting offers no methods")
	}
	methods := make([]byte, hdr[1])
	if _, err := io.ReadFull(r, methods); err != nil {
		return nil, fmt.Errorf("socks5: read greeting methods: %w", err)
	}
	return methods, nil
}

// readUserPass reads an RFC 1929 username/password request.
func readUserPass(r io.Reader) (user, pass string, err error) {
	var ver [1]byte
	if _, err := io.ReadFull(r, ver[:]); err != nil {
		return "", "", fmt.Errorf("socks5: read auth: %w", err)
	}
	if ver[0] != authVersion {
		return "", "", fmt.Errorf("socks5: auth version %d, want 1", ver[0])
	}
	if user, err = readString(r); err != nil {
		return "", "", err
	}
	if pass, err = readString(r); err != nil {
		return "", "", err
	}
	return user, pass, nil
}

// readString reads a length-prefixed string of 1..255 bytes.
func readString(r io.Reader) (string, error) {
	var n [1]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return "", fmt.Errorf("socks5: read length: %w", err)
	}
	if n[0] == 0 {
		return "", fmt.Errorf("socks5: empty string field")
	}
	b := make([]byte, n[0])
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("socks5: read string: %w", err)
	}
	return string(b), nil
}

// request is a parsed SOCKS5 request. Exactly one of addr and host is set.
type request struct {
	cmd  byte
	addr netip.Addr // ATYP IPv4 or IPv6
	host string     // ATYP domain name
	port uint16
}

// target is the destination as text, for logs.
func (q request) target() string {
	if q.host != "" {
		return q.host + ":" + strconv.Itoa(int(q.port))
	}
	return netip.AddrPortFrom(q.addr, q.port).String()
}

// readRequest reads a SOCKS5 request. Errors that deserve a reply (unknown
// address type) are *replyError; a wrong version is errBadVersion.
func readRequest(r io.Reader) (request, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return request{}, fmt.Errorf("socks5: read request: %w", err)
	}
	if hdr[0] != version5 {
		return request{}, errBadVersion
	}
	q := request{cmd: hdr[1]}
	switch hdr[3] {
	case atypIPv4:
		var a [4]byte
		if _, err := io.ReadFull(r, a[:]); err != nil {
			return request{}, fmt.Errorf("socks5: read ipv4 address: %w", err)
		}
		q.addr = netip.AddrFrom4(a)
	case atypIPv6:
		var a [16]byte
		if _, err := io.ReadFull(r, a[:]); err != nil {
			return request{}, fmt.Errorf("socks5: read ipv6 address: %w", err)
		}
		q.addr = netip.AddrFrom16(a)
	case atypDomain:
		host, err := readString(r)
		if err != nil {
			return request{}, err
		}
		q.host = host
	default:
		return request{}, replyErr(ReplyAddrNotSupported, "address type %#02x", hdr[3])
	}
	var port [2]byte
	if _, err := io.ReadFull(r, port[:]); err != nil {
		return request{}, fmt.Errorf("socks5: read port: %w", err)
	}
	q.port = binary.BigEndian.Uint16(port[:])
	return q, nil
}

// marshal encodes q as a client would send it (tests and fuzzing).
func (q request) marshal() []byte {
	b := []byte{version5, q.cmd, 0}
	switch {
	case q.host != "":
		b = append(b, atypDomain, byte(len(q.host)))
		b = append(b, q.host...)
	case q.addr.Is4():
		a := q.addr.As4()
		b = append(append(b, atypIPv4), a[:]...)
	default:
		a := q.addr.As16()
		b = append(append(b, atypIPv6), a[:]...)
	}
	return binary.BigEndian.AppendUint16(b, q.port)
}

// reply encodes a reply with the bound address bnd (the zero AddrPort
// encodes as 0.0.0.0:0).
func reply(code byte, bnd netip.AddrPort) []byte {
	b := []byte{version5, code, 0}
	a := bnd.Addr().Unmap()
	switch {
	case a.Is6():
		a16 := a.As16()
		b = append(append(b, atypIPv6), a16[:]...)
	case a.Is4():
		a4 := a.As4()
		b = append(append(b, atypIPv4), a4[:]...)
	default:
		b = append(b, atypIPv4, 0, 0, 0, 0)
	}
	return binary.BigEndian.AppendUint16(b, bnd.Port())
}
