package sdk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/mycelium-go/mycelium/plugins/sdk/proto"
)

// errNoCallbacks is returned by Host methods when the host offers none.
var errNoCallbacks = fmt.Errorf("sdk: the host offers no callbacks: %w", errors.ErrUnsupported)

// hostClient is the plugin side of the Host service, plus Dial through
// the node's SOCKS5 socket.
type hostClient struct {
	conn      *grpc.ClientConn // nil without callbacks
	rpc       pb.HostClient
	socksPath string
}

// dialHost connects to the host's brokered Host service (id 0: none).
func dialHost(broker *plugin.GRPCBroker, id uint32, socksPath string) (*hostClient, error) {
	h := &hostClient{socksPath: socksPath}
	if id == 0 {
		return h, nil
	}
	conn, err := broker.DialWithOptions(id, grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)))
	if err != nil {
		return nil, fmt.Errorf("broker dial %d: %w", id, err)
	}
	h.conn, h.rpc = conn, pb.NewHostClient(conn)
	return h, nil
}

func (h *hostClient) LookupKey(ctx context.Context, addr netip.Addr) (PublicKey, error) {
	if h.rpc == nil {
		return PublicKey{}, errNoCallbacks
	}
	m, err := h.rpc.LookupKey(ctx, &pb.LookupKeyRequest{Addr: addrBytes(addr)})
	if err != nil {
		return PublicKey{}, fromStatus("host lookup key", err)
	}
	k, err := keyFromBytes(m.GetPublicKey())
	if err == nil && k.IsZero() {
		err = errors.New("empty key")
	}
	if err != nil {
		return PublicKey{}, fmt.Errorf("sdk: host lookup key: %w", err)
	}
	return k, nil
}

func (h *hostClient) AddressOf(ctx context.Context, key PublicKey) (netip.Addr, error) {
	if h.rpc == nil {
		return netip.Addr{}, errNoCallbacks
	}
	m, err := h.rpc.AddressOf(ctx, &pb.AddressOfRequest{PublicKey: key[:]})
	if err != nil {
		return netip.Addr{}, fromStatus("host address of", err)
	}
	a, err := addrFromBytes(m.GetAddr())
	if err == nil && !a.IsValid() {
		err = errors.New("empty address")
	}
	if err != nil {
		return netip.Addr{}, fmt.Errorf("sdk: host address of: %w", err)
	}
	return a, nil
}

func (h *hostClient) RouteMetric(ctx context.Context, addr netip.Addr) (uint16, error) {
	if h.rpc == nil {
		return 0, errNoCallbacks
	}
	m, err := h.rpc.RouteMetric(ctx, &pb.RouteMetricRequest{Addr: addrBytes(addr)})
	if err != nil {
		return 0, fromStatus("host route metric", err)
	}
	return port16(m.GetMetric(), "metric")
}

func (h *hostClient) SendMessage(ctx context.Context, msg OutboundMessage) (string, error) {
	if h.rpc == nil {
		return "", errNoCallbacks
	}
	m, err := h.rpc.SendMessage(ctx, outboundToProto(msg))
	if err != nil {
		return "", fromStatus("host send message", err)
	}
	return m.GetId(), nil
}

func (h *hostClient) ReceiveMessage(ctx context.Context, topic []byte) (InboundMessage, error) {
	if h.rpc == nil {
		return InboundMessage{}, errNoCallbacks
	}
	m, err := h.rpc.ReceiveMessage(ctx, &pb.ReceiveMessageRequest{Topic: topic})
	if err != nil {
		return InboundMessage{}, fromStatus("host receive message", err)
	}
	in, err := inboundFromProto(m)
	if err != nil {
		return InboundMessage{}, fmt.Errorf("sdk: host receive message: %w", err)
	}
	return in, nil
}

// NodeServices implements NodeServiceLister.
func (h *hostClient) NodeServices(ctx context.Context) ([]NodeService, error) {
	if h.rpc == nil {
		return nil, errNoCallbacks
	}
	m, err := h.rpc.NodeServices(ctx, &pb.NodeServicesRequest{})
	if err != nil {
		return nil, fromStatus("host node services", err)
	}
	svcs, err := nodeServicesFromProto(m.GetServices())
	if err != nil {
		return nil, fmt.Errorf("sdk: host node services: %w", err)
	}
	return svcs, nil
}

func (h *hostClient) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	if h.socksPath == "" {
		return nil, fmt.Errorf("sdk: dial %s: the host offers no dial-out: %w", address, errors.ErrUnsupported)
	}
	return dialSOCKS(ctx, h.socksPath, network, address)
}

// Close closes the connection to the host's callbacks.
func (h *hostClient) Close() error {
	if h.conn == nil {
		return nil
	}
	return h.conn.Close()
}

var (
	_ Host              = (*hostClient)(nil)
	_ NodeServiceLister = (*hostClient)(nil)
)
