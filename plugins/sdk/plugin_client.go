package sdk

import (
	"context"
	"fmt"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/mycelium-go/mycelium/plugins/sdk/proto"
)

// pluginClient is the host side of the Plugin service.
type pluginClient struct {
	rpc    pb.PluginClient
	broker *plugin.GRPCBroker
	done   <-chan struct{}
}

func (c *pluginClient) Describe(ctx context.Context) (Description, error) {
	m, err := c.rpc.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return Description{}, fromStatus("describe plugin", err)
	}
	d, err := descriptionFromProto(m)
	if err != nil {
		return Description{}, fmt.Errorf("sdk: describe plugin: %w", err)
	}
	return d, nil
}

// Configure serves host.Callbacks on a brokered connection (accepting
// first, then sending its id) and sends the configuration. The brokered
// server lives until the plugin exits, or stops at once if Configure fails.
func (c *pluginClient) Configure(ctx context.Context, cfg Config, host HostServices) error {
	req := configToProto(cfg)
	req.SocksPath = host.SOCKSPath
	var srv *brokeredServer
	if host.Callbacks != nil {
		srv = &brokeredServer{}
		req.HostBrokerId = srv.start(c.broker, func(s *grpc.Server) {
			pb.RegisterHostServer(s, &hostServer{impl: host.Callbacks})
		})
	}
	_, err := c.rpc.Configure(ctx, req)
	if err == nil {
		return nil
	}
	srv.stop()
	if st, ok := status.FromError(err); ok && st.Code() == codes.InvalidArgument {
		return fmt.Errorf("%w: %s", ErrConfigRejected, st.Message())
	}
	return fromStatus("configure plugin", err)
}

func (c *pluginClient) Health(ctx context.Context) (Health, error) {
	m, err := c.rpc.Health(ctx, &pb.HealthRequest{})
	if err != nil {
		return Health{}, fromStatus("plugin health", err)
	}
	return healthFromProto(m), nil
}

func (c *pluginClient) Done() <-chan struct{} { return c.done }

// brokeredServer is a gRPC server on a go-plugin broker connection that
// can be stopped whether or not the broker has built it yet.
type brokeredServer struct {
	mu      sync.Mutex
	srv     *grpc.Server
	stopped bool
}

// start starts AcceptAndServe on a fresh broker id and returns the id, to
// be sent to the other side only now that the accept is under way.
func (b *brokeredServer) start(broker *plugin.GRPCBroker, register func(*grpc.Server)) uint32 {
	id := broker.NextId()
	go broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		s := grpc.NewServer(grpcServerOptions(opts)...)
		register(s)
		b.mu.Lock()
		defer b.mu.Unlock()
		b.srv = s
		if b.stopped {
			s.Stop() // Serve then returns at once
		}
		return s
	})
	return id
}

// stop stops the server; a nil receiver does nothing.
func (b *brokeredServer) stop() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopped = true
	if b.srv != nil {
		b.srv.Stop()
	}
}

var _ PluginClient = (*pluginClient)(nil)
