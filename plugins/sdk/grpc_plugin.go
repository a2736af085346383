package sdk

import (
	"context"
	"errors"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/mycelium-go/mycelium/plugins/sdk/proto"
)

// grpcPluginV1 is protocol version 1 for go-plugin: GRPCServer registers
// the Plugin service in the plugin process, GRPCClient builds the host's
// PluginClient.
type grpcPluginV1 struct {
	plugin.NetRPCUnsupportedPlugin
	rt *pluginRuntime // plugin side only
}

func (p *grpcPluginV1) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	if p.rt == nil {
		return errors.New("sdk: plugin server without a runtime")
	}
	pb.RegisterPluginServer(s, &pluginServer{rt: p.rt, broker: broker})
	return nil
}

// GRPCClient returns the PluginClient. go-plugin cancels ctx when the
// plugin process exits.
func (p *grpcPluginV1) GRPCClient(ctx context.Context, broker *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &pluginClient{rpc: pb.NewPluginClient(c), broker: broker, done: ctx.Done()}, nil
}

// grpcServerOptions are the options of every gRPC server the SDK builds.
func grpcServerOptions(opts []grpc.ServerOption) []grpc.ServerOption {
	return append(opts, grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize))
}

var (
	_ plugin.GRPCPlugin = (*grpcPluginV1)(nil)
	_ plugin.Plugin     = (*grpcPluginV1)(nil)
)
