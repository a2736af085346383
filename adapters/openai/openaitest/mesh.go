package openaitest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Mesh is an in-memory overlay: a set of Nodes, each an sdk.Host. A
// node's Dial reaches another node's Listener through a real socket pair
// (see socketPair), and the accepted end is an *sdk.Conn carrying the
// dialer's key with OriginOverlay, as the gateway hands it over. Per-port allow lists stand
// in for the gateway's access policy: a refused dial fails with
// ECONNREFUSED, as the gateway's refusal does.
type Mesh struct {
	mu     sync.Mutex
	byAddr map[netip.Addr]*Node
	msgID  atomic.Uint64
}

// NewMesh returns an empty mesh.
func NewMesh() *Mesh { return &Mesh{byAddr: make(map[netip.Addr]*Node)} }

// KeyOf returns a deterministic test key for seed.
func KeyOf(seed byte) sdk.PublicKey {
	return sdk.PublicKey(sha256.Sum256([]byte{'k', seed}))
}

// AddressOfKey derives a 400::/7 address from a key (a stand-in for the
// node's real derivation).
func AddressOfKey(k sdk.PublicKey) netip.Addr {
	h := sha256.Sum256(k[:])
	h[0] = 0x04 | (h[0] & 0x01)
	a16 := [16]byte(h[:16])
	return netip.AddrFrom16(a16)
}

// Node is one node of a Mesh and implements sdk.Host.
type Node struct {
	mesh *Mesh
	Key  sdk.PublicKey
	Addr netip.Addr

	dials atomic.Int64

	mu        sync.Mutex
	listeners map[uint16]*Listener
	allow     map[uint16]map[sdk.PublicKey]bool // nil entry: allow everyone
	metrics   map[netip.Addr]uint16
	inbox     []sdk.InboundMessage
	arrived   chan struct{} // closed and replaced when a message arrives
}

// AddNode adds a node whose key is KeyOf(seed).
func (m *Mesh) AddNode(seed byte) *Node {
	k := KeyOf(seed)
	n := &Node{
		mesh: m, Key: k, Addr: AddressOfKey(k),
		listeners: make(map[uint16]*Listener),
		allow:     make(map[uint16]map[sdk.PublicKey]bool),
		metrics:   make(map[netip.Addr]uint16),
		arrived:   make(chan struct{}),
	}
	m.mu.Lock()
	m.byAddr[n.Addr] = n
	m.mu.Unlock()
	return n
}

func (m *Mesh) node(a netip.Addr) *Node {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.byAddr[a]
}

// Listen opens the overlay port of n for service. Connections dialled to
// it are accepted from the returned listener.
func (n *Node) Listen(port uint16, service string) *Listener {
	l := &Listener{
		addr:    netip.AddrPortFrom(n.Addr, port),
		service: service,
		conns:   make(chan *sdk.Conn),
		done:    make(chan struct{}),
	}
	n.mu.Lock()
	n.listeners[port] = l
	n.mu.Unlock()
	return l
}

// Allow restricts port to the given keys, like the gateway's policy for
// the service on that port. With no keys nobody may connect.
func (n *Node) Allow(port uint16, keys ...sdk.PublicKey) {
	set := make(map[sdk.PublicKey]bool, len(keys))
	for _, k := range keys {
		set[k] = true
	}
	n.mu.Lock()
	n.allow[port] = set
	n.mu.Unlock()
}

// SetMetric sets the route metric n reports for dst.
func (n *Node) SetMetric(dst netip.Addr, metric uint16) {
	n.mu.Lock()
	n.metrics[dst] = metric
	n.mu.Unlock()
}

// Dials returns how many dials n attempted.
func (n *Node) Dials() int64 { return n.dials.Load() }

// LookupKey implements sdk.Host.
func (n *Node) LookupKey(_ context.Context, a netip.Addr) (sdk.PublicKey, error) {
	if dst := n.mesh.node(a); dst != nil {
		return dst.Key, nil
	}
	return sdk.PublicKey{}, sdk.ErrNotFound
}

// AddressOf implements sdk.Host.
func (n *Node) AddressOf(_ context.Context, k sdk.PublicKey) (netip.Addr, error) {
	return AddressOfKey(k), nil
}

// RouteMetric implements sdk.Host: the metric set with SetMetric, 10 for
// any other node of the mesh, ErrNotFound for unknown addresses.
func (n *Node) RouteMetric(_ context.Context, a netip.Addr) (uint16, error) {
	n.mu.Lock()
	m, ok := n.metrics[a]
	n.mu.Unlock()
	if ok {
		return m, nil
	}
	if n.mesh.node(a) == nil {
		return 0, sdk.ErrNotFound
	}
	return 10, nil
}

func refused(address netip.AddrPort) error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(address),
		Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
}

// Dial implements sdk.Host.
func (n *Node) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	n.dials.Add(1)
	if network != "tcp" {
		return nil, fmt.Errorf("fake mesh: network %q not supported", network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil, fmt.Errorf("fake mesh: dial %q: %w", address, err)
	}
	dst := n.mesh.node(ap.Addr())
	if dst == nil {
		return nil, fmt.Errorf("fake mesh: dial %s: no route to host", address)
	}
	l := dst.accepting(ap.Port(), n.Key)
	if l == nil {
		return nil, refused(ap)
	}
	local, remote, err := socketPair()
	if err != nil {
		return nil, err
	}
	peer := sdk.Peer{
		Key:     n.Key,
		Addr:    netip.AddrPortFrom(n.Addr, uint16(40000+n.dials.Load()%20000)),
		Local:   ap,
		Origin:  sdk.OriginOverlay,
		Service: l.service,
	}
	select {
	case l.conns <- sdk.NewConn(remote, peer):
		return local, nil
	case <-l.done:
	case <-ctx.Done():
	}
	local.Close()
	remote.Close()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, refused(ap)
}

// accepting returns the listener on port if from may connect to it.
func (n *Node) accepting(port uint16, from sdk.PublicKey) *Listener {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := n.listeners[port]
	if l == nil {
		return nil
	}
	if set, restricted := n.allow[port]; restricted && !set[from] {
		return nil
	}
	return l
}

// SendMessage implements sdk.Host: the message lands in dst's inbox.
func (n *Node) SendMessage(_ context.Context, m sdk.OutboundMessage) (string, error) {
	dst := n.mesh.node(AddressOfKey(m.Dst))
	if dst == nil {
		return "", fmt.Errorf("fake mesh: no node with key %s", m.Dst)
	}
	id := fmt.Sprintf("%016x", n.mesh.msgID.Add(1))
	dst.deliver(sdk.InboundMessage{ID: id, Src: n.Key, SrcAddr: n.Addr, Topic: m.Topic, Payload: m.Payload})
	return id, nil
}

func (n *Node) deliver(m sdk.InboundMessage) {
	n.mu.Lock()
	n.inbox = append(n.inbox, m)
	close(n.arrived)
	n.arrived = make(chan struct{})
	n.mu.Unlock()
}

// ReceiveMessage implements sdk.Host.
func (n *Node) ReceiveMessage(ctx context.Context, topic []byte) (sdk.InboundMessage, error) {
	for {
		n.mu.Lock()
		for i, m := range n.inbox {
			if string(m.Topic) == string(topic) {
				n.inbox = append(n.inbox[:i], n.inbox[i+1:]...)
				n.mu.Unlock()
				return m, nil
			}
		}
		arrived := n.arrived
		n.mu.Unlock()
		select {
		case <-arrived:
		case <-ctx.Done():
			return sdk.InboundMessage{}, ctx.Err()
		}
	}
}

// Listener is a node's overlay listener in a Mesh.
type Listener struct {
	addr    netip.AddrPort
	service string
	conns   chan *sdk.Conn
	once    sync.Once
	done    chan struct{}
}

// Accept implements net.Listener.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr implements net.Listener.
func (l *Listener) Addr() net.Addr { return net.TCPAddrFromAddrPort(l.addr) }

var (
	_ sdk.Host     = (*Node)(nil)
	_ net.Listener = (*Listener)(nil)
)
