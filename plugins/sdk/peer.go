package sdk

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// PublicKey is a node's X25519 public key: its identity on the overlay.
type PublicKey [32]byte

// String returns the 64 lowercase hex digits the reference node uses for keys.
func (k PublicKey) String() string { return hex.EncodeToString(k[:]) }

// IsZero reports whether k is the zero key (no identity).
func (k PublicKey) IsZero() bool { return k == PublicKey{} }

// ParsePublicKey parses exactly 64 hex digits.
func ParsePublicKey(s string) (PublicKey, error) {
	var k PublicKey
	if len(s) != 64 {
		return k, fmt.Errorf("sdk: public key must be 64 hex digits, got %d characters", len(s))
	}
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return k, fmt.Errorf("sdk: public key: %w", err)
	}
	return k, nil
}

// Origin says where a connection handed to a plugin came from.
type Origin uint8

const (
	// OriginOverlay: the connection arrived on the node's overlay address.
	// Peer.Key is the remote node's public key, proven by the overlay's
	// end-to-end encryption and the node's inner-source check. The gateway
	// already applied the service's access policy.
	OriginOverlay Origin = 1
	// OriginLoopback: the connection arrived on a loopback listener. It is
	// the machine's own user (or anything else running on the machine);
	// Peer.Key is zero and the plugin must authenticate at protocol level.
	OriginLoopback Origin = 2
)

func (o Origin) String() string {
	switch o {
	case OriginOverlay:
		return "overlay"
	case OriginLoopback:
		return "loopback"
	default:
		return fmt.Sprintf("origin(%d)", uint8(o))
	}
}

// Peer is the identity of the remote end of a connection.
type Peer struct {
	Key     PublicKey      // remote node key; zero for OriginLoopback
	Addr    netip.AddrPort // remote address: overlay address or loopback
	Local   netip.AddrPort // the address the connection was accepted on
	Origin  Origin
	Service string // name of the plugin service the connection is for
}

// FromOverlay reports whether the peer is a remote overlay node whose key
// is known.
func (p Peer) FromOverlay() bool { return p.Origin == OriginOverlay && !p.Key.IsZero() }

// Conn is a net.Conn that carries the identity of its remote end. Every
// connection a plugin's service listener accepts is a *Conn.
type Conn struct {
	net.Conn
	peer Peer
}

// NewConn wraps c with the identity p.
func NewConn(c net.Conn, p Peer) *Conn { return &Conn{Conn: c, peer: p} }

// Peer returns the identity of the remote end.
func (c *Conn) Peer() Peer { return c.peer }

// RemoteAddr is the peer's overlay (or loopback) address, not the address
// of the gateway's data socket.
func (c *Conn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.peer.Addr) }

// LocalAddr is the address the gateway accepted the connection on.
func (c *Conn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(c.peer.Local) }

// CloseWrite half-closes the connection when the underlying connection
// supports it.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// PeerOf returns the identity carried by c. It looks through *tls.Conn and
// any wrapper with a NetConn() method, so a plugin that terminates TLS still
// finds the identity.
func PeerOf(c net.Conn) (Peer, bool) {
	for i := 0; i < 8 && c != nil; i++ {
		switch v := c.(type) {
		case *Conn:
			return v.peer, true
		case *tls.Conn:
			c = v.NetConn()
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return Peer{}, false
		}
	}
	return Peer{}, false
}

type peerCtxKey struct{}

// WithPeer returns a context carrying p.
func WithPeer(ctx context.Context, p Peer) context.Context {
	return context.WithValue(ctx, peerCtxKey{}, p)
}

// PeerFromContext returns the peer stored by WithPeer or ConnContext.
func PeerFromContext(ctx context.Context) (Peer, bool) {
	p, ok := ctx.Value(peerCtxKey{}).(Peer)
	return p, ok
}

// ConnContext is an http.Server.ConnContext function: it stores the
// connection's peer identity in every request context, where handlers find
// it with PeerFromContext.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if p, ok := PeerOf(c); ok {
		return WithPeer(ctx, p)
	}
	return ctx
}

// MarshalText encodes k as 64 lowercase hex digits (for JSON and TOML).
func (k PublicKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText parses 64 hex digits; empty text is the zero key.
func (k *PublicKey) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*k = PublicKey{}
		return nil
	}
	v, err := ParsePublicKey(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}
