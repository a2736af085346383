package gateway

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// fabric is a fake overlay for tests without root: every overlay listener
// is a loopback TCP listener, and a dial to "[overlay address]:port"
// connects to it and first sends the dialer's overlay address and port
// (18 bytes), which the listener reads and checks with admit before
// Accept returns. Accepted connections are wrapped (their addresses are
// overlay addresses), so the gateway splices them, as it does the
// userspace stack's connections.
type fabric struct {
	mu  sync.Mutex
	lns map[netip.AddrPort]string // overlay address:port -> loopback address
	// opaque hides the kernel socket from io.Copy on the accepting side
	// (no splice(2)), as with the userspace stack's connections.
	opaque bool
}

func newFabric() *fabric { return &fabric{lns: map[netip.AddrPort]string{}} }

// node returns the overlay of the node with key k.
func (f *fabric) node(k identity.PublicKey) *fabricNode {
	return &fabricNode{f: f, addr: identity.AddressOf(k)}
}

type fabricNode struct {
	f    *fabric
	addr netip.Addr
}

func (n *fabricNode) Listen(_ context.Context, port uint16, admit func(netip.AddrPort) bool) (net.Listener, error) {
	ap := netip.AddrPortFrom(n.addr, port)
	n.f.mu.Lock()
	defer n.f.mu.Unlock()
	if _, dup := n.f.lns[ap]; dup {
		return nil, fmt.Errorf("listen %s: %w", ap, syscall.EADDRINUSE)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	n.f.lns[ap] = ln.Addr().String()
	return &fabricListener{Listener: ln, f: n.f, local: ap, admit: admit}, nil
}

func (n *fabricNode) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || network != "tcp" {
		return nil, fmt.Errorf("fabric dial %s %s: bad address", network, address)
	}
	n.f.mu.Lock()
	target, ok := n.f.lns[ap]
	n.f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("fabric dial %s: %w", address, syscall.ECONNREFUSED)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	local := netip.AddrPortFrom(n.addr, uint16(tc.LocalAddr().(*net.TCPAddr).Port))
	var hdr [18]byte
	a := local.Addr().As16()
	copy(hdr[:16], a[:])
	binary.BigEndian.PutUint16(hdr[16:], local.Port())
	if _, err := tc.Write(hdr[:]); err != nil {
		_ = tc.Close()
		return nil, err
	}
	return &fabricConn{TCPConn: tc, local: local, remote: ap}, nil
}

type fabricListener struct {
	net.Listener
	f     *fabric
	local netip.AddrPort
	admit func(netip.AddrPort) bool
	once  sync.Once
}

func (l *fabricListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc := c.(*net.TCPConn)
		var hdr [18]byte
		_ = tc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadFull(tc, hdr[:])
		_ = tc.SetReadDeadline(time.Time{})
		if err != nil {
			_ = tc.Close()
			continue
		}
		remote := netip.AddrPortFrom(netip.AddrFrom16([16]byte(hdr[:16])).Unmap(), binary.BigEndian.Uint16(hdr[16:]))
		if l.admit != nil && !l.admit(remote) {
			_ = tc.SetLinger(0)
			_ = tc.Close()
			continue
		}
		fc := &fabricConn{TCPConn: tc, local: l.local, remote: remote}
		if l.f.opaque {
			return &opaqueConn{fc}, nil
		}
		return fc, nil
	}
}

// opaqueConn offers only net.Conn and CloseWrite.
type opaqueConn struct{ c *fabricConn }

func (o *opaqueConn) Read(b []byte) (int, error)         { return o.c.Read(b) }
func (o *opaqueConn) Write(b []byte) (int, error)        { return o.c.Write(b) }
func (o *opaqueConn) Close() error                       { return o.c.Close() }
func (o *opaqueConn) CloseWrite() error                  { return o.c.CloseWrite() }
func (o *opaqueConn) LocalAddr() net.Addr                { return o.c.LocalAddr() }
func (o *opaqueConn) RemoteAddr() net.Addr               { return o.c.RemoteAddr() }
func (o *opaqueConn) SetDeadline(t time.Time) error      { return o.c.SetDeadline(t) }
func (o *opaqueConn) SetReadDeadline(t time.Time) error  { return o.c.SetReadDeadline(t) }
func (o *opaqueConn) SetWriteDeadline(t time.Time) error { return o.c.SetWriteDeadline(t) }

func (l *fabricListener) Close() error {
	l.once.Do(func() {
		l.f.mu.Lock()
		delete(l.f.lns, l.local)
		l.f.mu.Unlock()
	})
	return l.Listener.Close()
}

func (l *fabricListener) Addr() net.Addr { return net.TCPAddrFromAddrPort(l.local) }

// fabricConn is a loopback TCP connection that reports overlay addresses.
type fabricConn struct {
	*net.TCPConn
	local, remote netip.AddrPort
}

func (c *fabricConn) LocalAddr() net.Addr  { return net.TCPAddrFromAddrPort(c.local) }
func (c *fabricConn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.remote) }

// fakeIdentity maps /64s to keys, and addresses to route metrics.
type fakeIdentity struct {
	mu      sync.Mutex
	keys    map[netip.Prefix]identity.PublicKey
	metrics map[netip.Addr]uint16
}

func newIdentity(keys ...identity.PublicKey) *fakeIdentity {
	id := &fakeIdentity{keys: map[netip.Prefix]identity.PublicKey{}, metrics: map[netip.Addr]uint16{}}
	for _, k := range keys {
		id.add(k)
	}
	return id
}

func (f *fakeIdentity) add(k identity.PublicKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys[identity.SubnetOf(k)] = k
}

// bind makes any address's /64 (even outside the overlay) belong to k.
func (f *fakeIdentity) bind(a netip.Addr, k identity.PublicKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, _ := a.Prefix(64)
	f.keys[p] = k
}

func (f *fakeIdentity) PublicKeyOf(a netip.Addr) (identity.PublicKey, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, _ := a.Prefix(64)
	k, ok := f.keys[p]
	return k, ok
}

func (f *fakeIdentity) RouteMetric(_ context.Context, a netip.Addr) (uint16, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.metrics[a]
	if !ok {
		return 0, fmt.Errorf("route metric of %s: %w", a, sdk.ErrNotFound)
	}
	return m, nil
}

// fakeBus is an in-memory message bus: Send records, Deliver queues.
type fakeBus struct {
	mu      sync.Mutex
	sent    []sdk.OutboundMessage
	inbox   []sdk.InboundMessage
	arrived chan struct{}
}

func newBus() *fakeBus { return &fakeBus{arrived: make(chan struct{})} }

func (b *fakeBus) Send(_ context.Context, m sdk.OutboundMessage) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sent = append(b.sent, m)
	return fmt.Sprintf("%016x", len(b.sent)), nil
}

func (b *fakeBus) Deliver(m sdk.InboundMessage) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inbox = append(b.inbox, m)
	close(b.arrived)
	b.arrived = make(chan struct{})
}

func (b *fakeBus) Receive(ctx context.Context, topic []byte) (sdk.InboundMessage, error) {
	for {
		b.mu.Lock()
		for i, m := range b.inbox {
			if string(m.Topic) == string(topic) {
				b.inbox = append(b.inbox[:i], b.inbox[i+1:]...)
				b.mu.Unlock()
				return m, nil
			}
		}
		arrived := b.arrived
		b.mu.Unlock()
		select {
		case <-arrived:
		case <-ctx.Done():
			return sdk.InboundMessage{}, ctx.Err()
		}
	}
}

var (
	_ Overlay  = (*fabricNode)(nil)
	_ Identity = (*fakeIdentity)(nil)
	_ Bus      = (*fakeBus)(nil)
)
