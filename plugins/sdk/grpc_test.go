//go:build unix

package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
)

// fakePlugin offers an echo service and records what it is given.
type fakePlugin struct {
	mu      sync.Mutex
	cfg     Config
	host    Host
	healthy error
	serving chan string
}

func (p *fakePlugin) Describe(context.Context) (Description, error) {
	return Description{Name: "fake", Version: "1.2.3", Services: []ServiceSpec{
		{Name: "echo", Protocol: "echo", Port: 7, LoopbackPort: 17007, TLS: TLSNone},
		{Name: "echo-tls", Protocol: "echo", Port: 8, TLS: TLSImplicit},
	}}, nil
}

func (p *fakePlugin) Configure(_ context.Context, cfg Config, host Host) error {
	var s struct{ Bad bool }
	if err := json.Unmarshal(cfg.Settings, &s); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	if s.Bad {
		return errors.New("setting bad is true")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cfg, p.host = cfg, host
	return nil
}

func (p *fakePlugin) Serve(ctx context.Context, service string, ln net.Listener) error {
	if p.serving != nil {
		p.serving <- service
	}
	go func() { <-ctx.Done(); _ = ln.Close() }()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go func() {
			defer c.Close()
			peer, _ := PeerOf(c)
			fmt.Fprintf(c, "%s %s\n", peer.Service, peer.Key)
			_, _ = io.Copy(c, c)
		}()
	}
}

func (p *fakePlugin) Health(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.healthy
}

// fakeHostServer serves fixed tables and a one-message bus.
type fakeHostServer struct {
	sent chan OutboundMessage
}

var (
	knownAddr = netip.MustParseAddr("4ab:cd::1")
	knownKey  = testKey(9)
)

func (h *fakeHostServer) LookupKey(_ context.Context, a netip.Addr) (PublicKey, error) {
	if a == knownAddr {
		return knownKey, nil
	}
	return PublicKey{}, ErrNotFound
}

func (h *fakeHostServer) AddressOf(_ context.Context, k PublicKey) (netip.Addr, error) {
	if k == knownKey {
		return knownAddr, nil
	}
	return netip.Addr{}, fmt.Errorf("no such key: %w", ErrNotFound)
}

func (h *fakeHostServer) RouteMetric(_ context.Context, a netip.Addr) (uint16, error) {
	if a == knownAddr {
		return 42, nil
	}
	return 0, ErrNotFound
}

func (h *fakeHostServer) SendMessage(_ context.Context, m OutboundMessage) (string, error) {
	h.sent <- m
	return "0123456789abcdef", nil
}

func (h *fakeHostServer) ReceiveMessage(ctx context.Context, topic []byte) (InboundMessage, error) {
	if string(topic) == "now" {
		return InboundMessage{ID: "00000000000000ff", Src: knownKey, SrcAddr: knownAddr, Topic: topic, Payload: []byte("hi")}, nil
	}
	<-ctx.Done()
	return InboundMessage{}, ctx.Err()
}

// NodeServices implements NodeServiceLister with the test config's list.
func (h *fakeHostServer) NodeServices(ctx context.Context) ([]NodeService, error) {
	return testConfig().Node.Services, ctx.Err()
}

// plainHostServer hides NodeServices: a host that predates it.
type plainHostServer struct{ HostServer }

// startGRPC runs fp behind a real go-plugin gRPC connection in-process
// and returns the host's PluginClient and the plugin's runtime.
func startGRPC(t *testing.T, fp Plugin) (PluginClient, *pluginRuntime) {
	t.Helper()
	rt := newRuntime(fp, slogForTest(t), NewDemux(DemuxConfig{}))
	client, _ := plugin.TestPluginGRPCConn(t, false, pluginSets(rt)[ProtocolVersion])
	t.Cleanup(func() {
		_ = client.Close() // its Shutdown call stops the server
		rt.shutdown(5 * time.Second)
	})
	pc, err := Dispense(client)
	if err != nil {
		t.Fatal(err)
	}
	return pc, rt
}

func TestGRPCDescribeConfigureHealth(t *testing.T) {
	fp := &fakePlugin{serving: make(chan string, 2)}
	pc, rt := startGRPC(t, fp)
	ctx := context.Background()

	d, err := pc.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := fp.Describe(ctx)
	if fmt.Sprint(d) != fmt.Sprint(want) {
		t.Errorf("Describe = %+v, want %+v", d, want)
	}
	if h, err := pc.Health(ctx); err != nil || h.Configured || h.OK() {
		t.Errorf("Health before Configure = %+v, %v; want not configured", h, err)
	}

	bad := testConfig()
	bad.Settings = json.RawMessage(`{"bad":true}`)
	if err := pc.Configure(ctx, bad, HostServices{}); !errors.Is(err, ErrConfigRejected) || !strings.Contains(err.Error(), "setting bad is true") {
		t.Fatalf("Configure(bad) = %v, want ErrConfigRejected with the plugin's message", err)
	}

	cfg := testConfig()
	if err := pc.Configure(ctx, cfg, HostServices{}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	got := fp.cfg
	if string(got.Settings) != string(cfg.Settings) || got.DataDir != cfg.DataDir ||
		fmt.Sprint(got.Node) != fmt.Sprint(cfg.Node) || fmt.Sprint(*got.TLS) != fmt.Sprint(*cfg.TLS) ||
		fmt.Sprint(got.Services) != fmt.Sprint(cfg.Services) {
		t.Errorf("plugin got config %+v, want %+v", got, cfg)
	}
	for range 2 {
		select {
		case <-fp.serving:
		case <-time.After(5 * time.Second):
			t.Fatal("Serve not started for every service")
		}
	}
	h, err := pc.Health(ctx)
	if err != nil || !h.OK() || len(h.Services) != 2 {
		t.Errorf("Health after Configure = %+v, %v; want OK with 2 services", h, err)
	}
	fp.mu.Lock()
	fp.healthy = errors.New("disk full")
	fp.mu.Unlock()
	if h, _ := pc.Health(ctx); h.OK() || h.Err != "disk full" {
		t.Errorf("Health with failing check = %+v, want Err disk full", h)
	}
	if err := pc.Configure(ctx, cfg, HostServices{}); err == nil || errors.Is(err, ErrConfigRejected) {
		t.Errorf("second Configure = %v, want a non-rejection error", err)
	}

	// The services receive connections through the runtime's Demux.
	tp := newTestPlaneFor(t, rt.demux)
	client, host := tcpPair(t)
	p := overlayPeer()
	p.Service = "echo"
	go func() { _, _ = tp.handoff.Splice(ctx, host, p) }()
	line := make([]byte, 5+64+1)
	if _, err := io.ReadFull(client, line); err != nil || string(line) != "echo "+p.Key.String()+"\n" {
		t.Errorf("echo service greeting = %q, %v", line, err)
	}
}

func TestGRPCHostCallbacks(t *testing.T) {
	fp := &fakePlugin{}
	pc, _ := startGRPC(t, fp)
	ctx := context.Background()
	hs := &fakeHostServer{sent: make(chan OutboundMessage, 1)}
	echo := echoServer(t)
	socks := startSOCKS(t, &socksServer{target: echo, bndATYP: 4})
	if err := pc.Configure(ctx, testConfig(), HostServices{Callbacks: hs, SOCKSPath: socks.path}); err != nil {
		t.Fatal(err)
	}
	host := fp.host

	if k, err := host.LookupKey(ctx, knownAddr); err != nil || k != knownKey {
		t.Errorf("LookupKey = %v, %v", k, err)
	}
	if _, err := host.LookupKey(ctx, netip.MustParseAddr("4ff::1")); !errors.Is(err, ErrNotFound) {
		t.Errorf("LookupKey(unknown) = %v, want ErrNotFound", err)
	}
	if a, err := host.AddressOf(ctx, knownKey); err != nil || a != knownAddr {
		t.Errorf("AddressOf = %v, %v", a, err)
	}
	if _, err := host.AddressOf(ctx, testKey(1)); !errors.Is(err, ErrNotFound) {
		t.Errorf("AddressOf(unknown) = %v, want ErrNotFound", err)
	}
	if m, err := host.RouteMetric(ctx, knownAddr); err != nil || m != 42 {
		t.Errorf("RouteMetric = %v, %v", m, err)
	}
	dl := time.Unix(1700000000, 5)
	out := OutboundMessage{Dst: knownKey, Topic: []byte("t"), Payload: []byte("p"), ReplyTo: "00000000000000aa", Deadline: dl}
	if id, err := host.SendMessage(ctx, out); err != nil || id != "0123456789abcdef" {
		t.Errorf("SendMessage = %q, %v", id, err)
	}
	if got := <-hs.sent; fmt.Sprint(got) != fmt.Sprint(out) || !got.Deadline.Equal(dl) {
		t.Errorf("host received %+v, want %+v", got, out)
	}
	in, err := host.ReceiveMessage(ctx, []byte("now"))
	if err != nil || in.ID != "00000000000000ff" || in.Src != knownKey || in.SrcAddr != knownAddr || string(in.Payload) != "hi" {
		t.Errorf("ReceiveMessage = %+v, %v", in, err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := host.ReceiveMessage(short, []byte("later")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ReceiveMessage past its deadline = %v, want DeadlineExceeded", err)
	}
	if svcs, err := NodeServicesOf(ctx, host); err != nil || !slices.Equal(svcs, testConfig().Node.Services) {
		t.Errorf("NodeServices = %+v, %v; want %+v", svcs, err, testConfig().Node.Services)
	}
	c, err := host.Dial(ctx, "tcp", "[4ab:cd::1]:25")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if b := make([]byte, 1); func() error { _, err := io.ReadFull(c, b); return err }() != nil || b[0] != 'x' {
		t.Errorf("echo through Host.Dial failed")
	}
}

func TestGRPCWithoutHostServices(t *testing.T) {
	fp := &fakePlugin{}
	pc, _ := startGRPC(t, fp)
	ctx := context.Background()
	if err := pc.Configure(ctx, testConfig(), HostServices{}); err != nil {
		t.Fatal(err)
	}
	if _, err := fp.host.LookupKey(ctx, knownAddr); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("LookupKey without callbacks = %v, want ErrUnsupported", err)
	}
	if _, err := fp.host.Dial(ctx, "tcp", "[4ab::1]:1"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Dial without socks = %v, want ErrUnsupported", err)
	}
	if _, err := NodeServicesOf(ctx, fp.host); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("NodeServices without callbacks = %v, want ErrUnsupported", err)
	}
}

// TestGRPCHostWithoutNodeServices: a host whose callbacks do not list
// node services answers UNIMPLEMENTED, which the plugin sees as
// ErrUnsupported; the other callbacks work.
func TestGRPCHostWithoutNodeServices(t *testing.T) {
	fp := &fakePlugin{}
	pc, _ := startGRPC(t, fp)
	ctx := context.Background()
	hs := plainHostServer{&fakeHostServer{}}
	if err := pc.Configure(ctx, testConfig(), HostServices{Callbacks: hs}); err != nil {
		t.Fatal(err)
	}
	if _, err := NodeServicesOf(ctx, fp.host); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("NodeServices from an older host = %v, want ErrUnsupported", err)
	}
	if k, err := fp.host.LookupKey(ctx, knownAddr); err != nil || k != knownKey {
		t.Errorf("LookupKey = %v, %v", k, err)
	}
}

// badDescriber describes an invalid plugin.
type badDescriber struct{ fakePlugin }

func (*badDescriber) Describe(context.Context) (Description, error) {
	return Description{Name: "bad", Services: []ServiceSpec{{Name: "a", Protocol: "x", TLS: "sometimes"}}}, nil
}

func TestGRPCInvalidDescription(t *testing.T) {
	pc, _ := startGRPC(t, &badDescriber{})
	if _, err := pc.Describe(context.Background()); err == nil || !strings.Contains(err.Error(), "TLS mode") {
		t.Errorf("Describe(invalid) = %v, want TLS mode error", err)
	}
}
