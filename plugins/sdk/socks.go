package sdk

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// SOCKS5 (RFC 1928) constants used by the dial-out client.
const (
	socksVersion      = 0x05
	socksNoAuth       = 0x00
	socksNoAcceptable = 0xFF
	socksCmdConnect   = 0x01
	socksATYPIPv4     = 0x01
	socksATYPDomain   = 0x03
	socksATYPIPv6     = 0x04
)

// ErrSOCKS is wrapped by every error a SOCKS5 server's reply causes.
var ErrSOCKS = errors.New("sdk: socks5")

var socksReplyText = map[byte]string{
	0x01: "general SOCKS server failure",
	0x02: "connection not allowed by ruleset",
	0x03: "network unreachable",
	0x04: "host unreachable",
	0x05: "connection refused",
	0x06: "TTL expired",
	0x07: "command not supported",
	0x08: "address type not supported",
}

// dialSOCKS connects to address ("host:port"; an IPv6 literal in
// brackets) through the SOCKS5 server listening on the unix socket at
// socketPath: no authentication, one CONNECT. ctx bounds the whole
// handshake; the returned connection is not bound to ctx.
func dialSOCKS(ctx context.Context, socketPath, network, address string) (net.Conn, error) {
	if network != "tcp" && network != "tcp6" && network != "tcp4" {
		return nil, fmt.Errorf("sdk: dial %s %s: only tcp is supported", network, address)
	}
	req, target, err := socksConnectRequest(address)
	if err != nil {
		return nil, fmt.Errorf("sdk: dial %s: %w", address, err)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socketPath)
	if err != nil {
		return nil, fmt.Errorf("sdk: dial %s: connect to the node's socks socket: %w", address, err)
	}
	if err := socksHandshake(ctx, c, req); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("sdk: dial %s: %w", address, err)
	}
	return &socksConn{Conn: c, remote: target}, nil
}

// socksHandshake sends the greeting and req on c and reads both replies,
// within ctx.
func socksHandshake(ctx context.Context, c net.Conn, req []byte) error {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(DefaultHandoffTimeout)
	}
	_ = c.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := c.Write([]byte{socksVersion, 1, socksNoAuth}); err != nil {
		return fmt.Errorf("socks greeting: %w", err)
	}
	var method [2]byte
	if _, err := io.ReadFull(c, method[:]); err != nil {
		return fmt.Errorf("socks method reply: %w", err)
	}
	switch {
	case method[0] != socksVersion:
		return fmt.Errorf("%w: method reply version %d", ErrSOCKS, method[0])
	case method[1] == socksNoAcceptable:
		return fmt.Errorf("%w: server accepts no method we offer (no authentication)", ErrSOCKS)
	case method[1] != socksNoAuth:
		return fmt.Errorf("%w: server chose method 0x%02x we did not offer", ErrSOCKS, method[1])
	}
	if _, err := c.Write(req); err != nil {
		return fmt.Errorf("socks connect request: %w", err)
	}
	if _, err := readSOCKSReply(c); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	if !stop() {
		return ctx.Err()
	}
	return c.SetDeadline(time.Time{})
}

// socksConnectRequest builds the CONNECT request for address and the
// target's net.Addr (a TCPAddr for IP literals).
func socksConnectRequest(address string) ([]byte, net.Addr, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return nil, nil, fmt.Errorf("bad port %q", portStr)
	}
	req := []byte{socksVersion, socksCmdConnect, 0x00}
	var target net.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return nil, nil, fmt.Errorf("address %s has a zone", host)
		}
		ip = ip.Unmap()
		if ip.Is4() {
			req = append(req, socksATYPIPv4)
		} else {
			req = append(req, socksATYPIPv6)
		}
		req = append(req, ip.AsSlice()...)
		target = net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port)))
	} else {
		if host == "" || len(host) > 255 {
			return nil, nil, fmt.Errorf("host name of %d bytes: want 1 to 255", len(host))
		}
		req = append(req, socksATYPDomain, byte(len(host)))
		req = append(req, host...)
		target = socksAddr(address)
	}
	req = binary.BigEndian.AppendUint16(req, uint16(port))
	return req, target, nil
}

// readSOCKSReply reads a CONNECT reply (VER REP RSV ATYP BND.ADDR
// BND.PORT) and returns the bound address as text. A non-zero REP is an
// error naming the failure.
func readSOCKSReply(r io.Reader) (string, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return "", fmt.Errorf("socks connect reply: %w", err)
	}
	if h[0] != socksVersion {
		return "", fmt.Errorf("%w: reply version %d", ErrSOCKS, h[0])
	}
	if h[2] != 0 {
		return "", fmt.Errorf("%w: reply reserved byte 0x%02x", ErrSOCKS, h[2])
	}
	var addrLen int
	switch h[3] {
	case socksATYPIPv4:
		addrLen = 4
	case socksATYPIPv6:
		addrLen = 16
	case socksATYPDomain:
		var n [1]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return "", fmt.Errorf("socks connect reply: %w", err)
		}
		addrLen = int(n[0])
	default:
		return "", fmt.Errorf("%w: reply address type 0x%02x", ErrSOCKS, h[3])
	}
	buf := make([]byte, addrLen+2)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", fmt.Errorf("socks connect reply: %w", err)
	}
	if h[1] != 0 {
		text, ok := socksReplyText[h[1]]
		if !ok {
			text = fmt.Sprintf("reply code 0x%02x", h[1])
		}
		return "", fmt.Errorf("%w: %s", ErrSOCKS, text)
	}
	port := strconv.Itoa(int(binary.BigEndian.Uint16(buf[addrLen:])))
	if h[3] == socksATYPDomain {
		return net.JoinHostPort(string(buf[:addrLen]), port), nil
	}
	ip, _ := netip.AddrFromSlice(buf[:addrLen])
	return net.JoinHostPort(ip.String(), port), nil
}

// socksConn is a connection dialed through SOCKS5: RemoteAddr is the
// target, not the node's socket.
type socksConn struct {
	net.Conn
	remote net.Addr
}

func (c *socksConn) RemoteAddr() net.Addr { return c.remote }

// CloseWrite half-closes the connection to the node, which forwards it.
func (c *socksConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// NetConn returns the underlying connection.
func (c *socksConn) NetConn() net.Conn { return c.Conn }

// socksAddr is the net.Addr of a target given by name.
type socksAddr string

func (a socksAddr) Network() string { return "tcp" }
func (a socksAddr) String() string  { return string(a) }
