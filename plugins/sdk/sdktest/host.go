package sdktest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Host is a fake sdk.Host for tests. It is safe for concurrent use.
type Host struct {
	mu      sync.Mutex
	keys    map[netip.Addr]sdk.PublicKey
	addrs   map[sdk.PublicKey]netip.Addr
	metrics map[netip.Addr]uint16
	targets map[string]string // Dial address -> real loopback address
	sent    []sdk.OutboundMessage
	inbox   []sdk.InboundMessage
	arrived chan struct{} // closed and replaced on every Deliver
	nextID  uint64
	svcs    []sdk.NodeService
}

// NewHost returns an empty fake Host.
func NewHost() *Host {
	return &Host{
		keys: map[netip.Addr]sdk.PublicKey{}, addrs: map[sdk.PublicKey]netip.Addr{},
		metrics: map[netip.Addr]uint16{}, targets: map[string]string{},
		arrived: make(chan struct{}),
	}
}

// AddNode makes key and addr known: LookupKey(addr) returns key,
// AddressOf(key) returns addr, RouteMetric(addr) returns metric.
func (h *Host) AddNode(key sdk.PublicKey, addr netip.Addr, metric uint16) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.keys[addr], h.addrs[key], h.metrics[addr] = key, addr, metric
}

// Listen returns a listener that receives the plugin's Host.Dial calls to
// address (e.g. "[4ab:101::1]:25"). It is closed when the test ends.
func (h *Host) Listen(t testing.TB, address string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("sdktest: listen for %s: %v", address, err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	h.mu.Lock()
	h.targets[address] = ln.Addr().String()
	h.mu.Unlock()
	return ln
}

// Deliver queues an inbound message for ReceiveMessage. An empty ID gets
// one.
func (h *Host) Deliver(m sdk.InboundMessage) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m.ID == "" {
		m.ID = h.newIDLocked()
	}
	h.inbox = append(h.inbox, m)
	close(h.arrived)
	h.arrived = make(chan struct{})
}

// Sent returns the messages the plugin sent, oldest first.
func (h *Host) Sent() []sdk.OutboundMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sdk.OutboundMessage(nil), h.sent...)
}

func (h *Host) newIDLocked() string {
	h.nextID++
	return fmt.Sprintf("%016x", h.nextID)
}

// LookupKey implements sdk.Host.
func (h *Host) LookupKey(_ context.Context, addr netip.Addr) (sdk.PublicKey, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if k, ok := h.keys[addr]; ok {
		return k, nil
	}
	return sdk.PublicKey{}, fmt.Errorf("lookup key %s: %w", addr, sdk.ErrNotFound)
}

// AddressOf implements sdk.Host.
func (h *Host) AddressOf(_ context.Context, key sdk.PublicKey) (netip.Addr, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if a, ok := h.addrs[key]; ok {
		return a, nil
	}
	return netip.Addr{}, fmt.Errorf("address of %s: %w", key, sdk.ErrNotFound)
}

// RouteMetric implements sdk.Host.
func (h *Host) RouteMetric(_ context.Context, addr netip.Addr) (uint16, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m, ok := h.metrics[addr]; ok {
		return m, nil
	}
	return 0, fmt.Errorf("route metric %s: %w", addr, sdk.ErrNotFound)
}

// SendMessage implements sdk.Host: it records m (see Sent).
func (h *Host) SendMessage(ctx context.Context, m sdk.OutboundMessage) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sent = append(h.sent, m)
	return h.newIDLocked(), nil
}

// ReceiveMessage implements sdk.Host: it returns the oldest delivered
// message with the topic, waiting for one until ctx ends.
func (h *Host) ReceiveMessage(ctx context.Context, topic []byte) (sdk.InboundMessage, error) {
	for {
		h.mu.Lock()
		for i, m := range h.inbox {
			if string(m.Topic) == string(topic) {
				h.inbox = append(h.inbox[:i], h.inbox[i+1:]...)
				h.mu.Unlock()
				return m, nil
			}
		}
		arrived := h.arrived
		h.mu.Unlock()
		select {
		case <-arrived:
		case <-ctx.Done():
			return sdk.InboundMessage{}, ctx.Err()
		}
	}
}

// Dial implements sdk.Host: it connects to the listener registered for
// address with Listen.
func (h *Host) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	if network != "tcp" && network != "tcp6" {
		return nil, fmt.Errorf("sdktest: dial %s %s: only tcp", network, address)
	}
	h.mu.Lock()
	target, ok := h.targets[address]
	h.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("sdktest: dial %s: no listener registered (Host.Listen): connection refused", address)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", target)
}

// SetNodeServices sets what NodeServices returns from now on, e.g. to
// pretend another plugin runs on the node.
func (h *Host) SetNodeServices(svcs []sdk.NodeService) {
	svcs = append([]sdk.NodeService(nil), svcs...)
	sdk.SortNodeServices(svcs)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.svcs = svcs
}

// NodeServices implements sdk.NodeServiceLister: the services set with
// SetNodeServices, none before.
func (h *Host) NodeServices(ctx context.Context) ([]sdk.NodeService, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sdk.NodeService(nil), h.svcs...), nil
}

var (
	_ sdk.Host              = (*Host)(nil)
	_ sdk.NodeServiceLister = (*Host)(nil)
)
