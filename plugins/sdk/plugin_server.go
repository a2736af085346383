package sdk

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/mycelium-go/mycelium/plugins/sdk/proto"
)

// pluginServer is the plugin side of the Plugin service.
type pluginServer struct {
	pb.UnimplementedPluginServer
	rt     *pluginRuntime
	broker *plugin.GRPCBroker
}

func (s *pluginServer) Describe(ctx context.Context, _ *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	d, err := s.rt.describe(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return descriptionToProto(d), nil
}

// Configure decodes the request, connects the Host callbacks, and runs
// the plugin's Configure. A plugin's refusal is InvalidArgument.
func (s *pluginServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	cfg, err := configFromProto(req)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "decode configuration: %v", err)
	}
	host, err := dialHost(s.broker, req.GetHostBrokerId(), req.GetSocksPath())
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "connect host callbacks: %v", err)
	}
	err = s.rt.configure(ctx, cfg, host, host)
	switch {
	case err == nil:
		return &pb.ConfigureResponse{}, nil
	case errors.Is(err, errAlreadyConfigured):
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	case ctx.Err() != nil:
		return nil, toStatus(fmt.Errorf("%w: %w", ctx.Err(), err))
	default:
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
}

func (s *pluginServer) Health(ctx context.Context, _ *pb.HealthRequest) (*pb.HealthResponse, error) {
	return healthToProto(s.rt.health(ctx)), nil
}

var _ pb.PluginServer = (*pluginServer)(nil)
