package sdk

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/mycelium-go/mycelium/plugins/sdk/proto"
)

// hostServer is the host side of the Host service: it decodes each call
// and passes it to the gateway's HostServer.
type hostServer struct {
	pb.UnimplementedHostServer
	impl HostServer
}

func badRequest(what string, err error) error {
	return status.Error(codes.InvalidArgument, fmt.Sprintf("%s: %v", what, err))
}

func (s *hostServer) LookupKey(ctx context.Context, req *pb.LookupKeyRequest) (*pb.LookupKeyResponse, error) {
	a, err := addrFromBytes(req.GetAddr())
	if err != nil || !a.IsValid() {
		return nil, badRequest("lookup key", fmt.Errorf("bad address %x", req.GetAddr()))
	}
	k, err := s.impl.LookupKey(ctx, a)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.LookupKeyResponse{PublicKey: k[:]}, nil
}

func (s *hostServer) AddressOf(ctx context.Context, req *pb.AddressOfRequest) (*pb.AddressOfResponse, error) {
	k, err := keyFromBytes(req.GetPublicKey())
	if err != nil || k.IsZero() {
		return nil, badRequest("address of", fmt.Errorf("bad key of %d bytes", len(req.GetPublicKey())))
	}
	a, err := s.impl.AddressOf(ctx, k)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.AddressOfResponse{Addr: addrBytes(a)}, nil
}

func (s *hostServer) RouteMetric(ctx context.Context, req *pb.RouteMetricRequest) (*pb.RouteMetricResponse, error) {
	a, err := addrFromBytes(req.GetAddr())
	if err != nil || !a.IsValid() {
		return nil, badRequest("route metric", fmt.Errorf("bad address %x", req.GetAddr()))
	}
	m, err := s.impl.RouteMetric(ctx, a)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.RouteMetricResponse{Metric: uint32(m)}, nil
}

func (s *hostServer) SendMessage(ctx context.Context, req *pb.SendMessageRequest) (*pb.SendMessageResponse, error) {
	msg, err := outboundFromProto(req)
	if err != nil {
		return nil, badRequest("send message", err)
	}
	id, err := s.impl.SendMessage(ctx, msg)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.SendMessageResponse{Id: id}, nil
}

func (s *hostServer) ReceiveMessage(ctx context.Context, req *pb.ReceiveMessageRequest) (*pb.ReceiveMessageResponse, error) {
	in, err := s.impl.ReceiveMessage(ctx, req.GetTopic())
	if err != nil {
		return nil, toStatus(err)
	}
	return inboundToProto(in), nil
}

// NodeServices answers from the implementation's NodeServiceLister, or
// UNIMPLEMENTED if it has none.
func (s *hostServer) NodeServices(ctx context.Context, _ *pb.NodeServicesRequest) (*pb.NodeServicesResponse, error) {
	svcs, err := NodeServicesOf(ctx, s.impl)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.NodeServicesResponse{Services: nodeServicesToProto(svcs)}, nil
}

var _ pb.HostServer = (*hostServer)(nil)
