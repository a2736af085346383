package link

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Proto is a peer transport named in an endpoint URI.
type Proto uint8

// The transports an endpoint can name. TLS and vsock parse (the reference
// knows them) but the manager refuses them: TLS exists only for private
// networks, which this node does not implement, and vsock is not built.
const (
	ProtoTCP Proto = iota + 1
	ProtoQUIC
	ProtoTLS
	ProtoVsock
)

var protoNames = [...]string{ProtoTCP: "tcp", ProtoQUIC: "quic", ProtoTLS: "tls", ProtoVsock: "vsock"}

// String is the lowercase scheme name, e.g. "tcp".
func (p Proto) String() string {
	if p == 0 || int(p) >= len(protoNames) {
		return "proto(" + strconv.Itoa(int(p)) + ")"
	}
	return protoNames[p]
}

// ErrEndpoint is returned for a peer URI that does not parse.
var ErrEndpoint = errors.New("link: bad endpoint")

// ErrUnsupported is returned when an endpoint names a transport this node
// does not run (tls, vsock, or quic with QUIC disabled).
var ErrUnsupported = errors.New("link: transport not supported")

// Endpoint is a parsed peer URI: a transport plus a socket address (or a
// vsock CID and port). Endpoints are comparable and key the peer table.
type Endpoint struct {
	Proto Proto
	// Addr is the socket address for tcp, quic and tls. An IPv6 address
	// may carry a zone (interface name or index), needed for fe80::/10.
	Addr netip.AddrPort
	// CID and Port are the vsock address; zero for other transports.
	CID, Port uint32
}

// ParseEndpoint parses a peer URI such as "tcp://1.2.3.4:9651",
// "quic://[2001:db8::1]:9651" or "tcp://[fe80::1%eth0]:9651". The scheme
// is case-insensitive. Only literal IP addresses are accepted.
func ParseEndpoint(s string) (Endpoint, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Endpoint{}, fmt.Errorf("%w %q: want <proto>://<address>", ErrEndpoint, s)
	}
	var ep Endpoint
	switch strings.ToLower(scheme) {
	case "tcp":
		ep.Proto = ProtoTCP
	case "quic":
		ep.Proto = ProtoQUIC
	case "tls":
		ep.Proto = ProtoTLS
	case "vsock":
		return parseVsock(s, rest)
	default:
		return Endpoint{}, fmt.Errorf("%w %q: unknown protocol %q (want tcp or quic)", ErrEndpoint, s, scheme)
	}
	ap, err := parseSocketAddr(rest)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%w %q: %w", ErrEndpoint, s, err)
	}
	ep.Addr = ap
	return ep, nil
}

// MustParseEndpoint is ParseEndpoint that panics on error, for tests and
// constants.
func MustParseEndpoint(s string) Endpoint {
	ep, err := ParseEndpoint(s)
	if err != nil {
		panic(err)
	}
	return ep
}

func parseSocketAddr(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		if host, _, serr := net.SplitHostPort(s); serr == nil && host != "" {
			if _, aerr := netip.ParseAddr(host); aerr != nil && !strings.ContainsAny(host, ":%") {
				return netip.AddrPort{}, fmt.Errorf("%q is not an IP address (host names are not allowed)", host)
			}
		}
		return netip.AddrPort{}, fmt.Errorf("socket address: %w", err)
	}
	if ap.Port() == 0 {
		return netip.AddrPort{}, errors.New("port 0")
	}
	if ap.Addr().Is4In6() && ap.Addr().Zone() != "" {
		return netip.AddrPort{}, errors.New("zone on an IPv4-mapped address")
	}
	return ap, nil
}

func parseVsock(s, rest string) (Endpoint, error) {
	cid, port, ok := strings.Cut(rest, ":")
	if !ok {
		return Endpoint{}, fmt.Errorf("%w %q: vsock address must be <cid>:<port>", ErrEndpoint, s)
	}
	c, err1 := strconv.ParseUint(cid, 10, 32)
	p, err2 := strconv.ParseUint(port, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return Endpoint{}, fmt.Errorf("%w %q: vsock address: %w", ErrEndpoint, s, err)
	}
	return Endpoint{Proto: ProtoVsock, CID: uint32(c), Port: uint32(p)}, nil
}

// String is the canonical URI, e.g. "tcp://[2001:db8::1]:9651". It parses
// back to the same Endpoint.
func (e Endpoint) String() string {
	if e.Proto == ProtoVsock {
		return "vsock://" + strconv.FormatUint(uint64(e.CID), 10) + ":" + strconv.FormatUint(uint64(e.Port), 10)
	}
	return e.Proto.String() + "://" + e.Addr.String()
}

// MarshalText implements encoding.TextMarshaler.
func (e Endpoint) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (e *Endpoint) UnmarshalText(b []byte) error {
	ep, err := ParseEndpoint(string(b))
	if err != nil {
		return err
	}
	*e = ep
	return nil
}

// IsZero reports whether e is the zero Endpoint.
func (e Endpoint) IsZero() bool { return e == Endpoint{} }

// staticCost is the transport's constant link cost (spec §2.8).
func staticCost(p Proto, remote netip.Addr) uint16 {
	v4 := remote.Is4() || remote.Is4In6()
	switch p {
	case ProtoQUIC:
		if v4 {
			return 12
		}
		return 7
	case ProtoVsock:
		return 5
	default: // TCP, TLS and in-memory stream links
		if v4 {
			return 15
		}
		return 10
	}
}
