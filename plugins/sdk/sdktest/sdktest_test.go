package sdktest_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
	"github.com/mycelium-go/mycelium/plugins/sdk/sdktest"
)

// whoPlugin answers "<service> <key> <addr> <origin>" on a plain and an
// implicit-TLS service, and relays "dial <address>" through Host.Dial.
type whoPlugin struct {
	tls  *tls.Config
	host sdk.Host
}

func (p *whoPlugin) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: "who", Services: []sdk.ServiceSpec{
		{Name: "who", Protocol: "line", Port: 7, LoopbackPort: 17007, TLS: sdk.TLSNone},
		{Name: "whos", Protocol: "line", Port: 8, TLS: sdk.TLSImplicit},
	}}, nil
}

func (p *whoPlugin) Configure(_ context.Context, cfg sdk.Config, host sdk.Host) error {
	var s struct{ Refuse bool }
	if err := json.Unmarshal(cfg.Settings, &s); err != nil || s.Refuse {
		return errors.New("refused")
	}
	tc, err := cfg.TLS.ServerConfig()
	if err != nil {
		return err
	}
	p.tls, p.host = tc, host
	return nil
}

func (p *whoPlugin) Serve(ctx context.Context, service string, ln net.Listener) error {
	if service == "whos" {
		ln = tls.NewListener(ln, p.tls)
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
		go p.handle(ctx, c)
	}
}

func (p *whoPlugin) handle(ctx context.Context, c net.Conn) {
	defer c.Close()
	peer, ok := sdk.PeerOf(c)
	if !ok {
		fmt.Fprintln(c, "no identity")
		return
	}
	fmt.Fprintf(c, "%s %s %s %s %s\n", peer.Service, peer.Key, peer.Addr, peer.Local, peer.Origin)
	line, _ := bufio.NewReader(c).ReadString('\n')
	if addr, ok := strings.CutPrefix(strings.TrimSpace(line), "dial "); ok {
		out, err := p.host.Dial(ctx, "tcp", addr)
		if err != nil {
			fmt.Fprintln(c, err)
			return
		}
		defer out.Close()
		_, _ = io.Copy(c, out)
	}
}

func readLine(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, line)
	}
	return strings.TrimSpace(line)
}

func TestHarnessIdentityPlainAndTLS(t *testing.T) {
	h := sdktest.Start(t, &whoPlugin{}, sdktest.Options{TLS: sdktest.TLS(t, "node.test")})
	ctx := context.Background()
	node := h.Config.Node.Address

	c, err := h.Dial(ctx, "who", sdktest.Peer(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := fmt.Sprintf("who %s [%s]:40001 [%s]:7 overlay", sdktest.Key(1), sdktest.Addr(1), node)
	if got := readLine(t, c); got != want {
		t.Errorf("overlay peer: got %q, want %q", got, want)
	}

	lc, err := h.Dial(ctx, "who", sdktest.LoopbackPeer())
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	want = fmt.Sprintf("who %s 127.0.0.1:50000 127.0.0.1:17007 loopback", sdk.PublicKey{})
	if got := readLine(t, lc); got != want {
		t.Errorf("loopback peer: got %q, want %q", got, want)
	}

	raw, err := h.Dial(ctx, "whos", sdktest.Peer(2))
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(raw, h.TLSClientConfig())
	defer tc.Close()
	want = fmt.Sprintf("whos %s [%s]:40002 [%s]:8 overlay", sdktest.Key(2), sdktest.Addr(2), node)
	if got := readLine(t, tc); got != want {
		t.Errorf("peer through TLS: got %q, want %q", got, want)
	}

	if _, err := h.Dial(ctx, "nope", sdktest.Peer(1)); err == nil {
		t.Error("Dial to an unknown service succeeded")
	}
	if _, err := h.Dial(ctx, "whos", sdktest.LoopbackPeer()); err == nil {
		t.Error("Dial to a service without a loopback binding succeeded")
	}
}

func TestHarnessRefusedSettings(t *testing.T) {
	_, err := sdktest.New(t, &whoPlugin{}, sdktest.Options{Settings: map[string]bool{"refuse": true}, TLS: sdktest.TLS(t)})
	if err == nil || err.Error() != "refused" {
		t.Errorf("New with refused settings = %v, want the plugin's error", err)
	}
}

func TestFakeHost(t *testing.T) {
	host := sdktest.NewHost()
	h := sdktest.Start(t, &whoPlugin{}, sdktest.Options{TLS: sdktest.TLS(t), Host: host})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// Host.Dial reaches a listener registered for the overlay address.
	target := host.Listen(t, "[4ab:300::3]:25")
	go func() {
		c, err := target.Accept()
		if err == nil {
			fmt.Fprintln(c, "220 remote ready")
			_ = c.Close()
		}
	}()
	c, err := h.Dial(ctx, "who", sdktest.Peer(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	readLine(t, c)
	fmt.Fprintln(c, "dial [4ab:300::3]:25")
	if got := readLine(t, c); got != "220 remote ready" {
		t.Errorf("relay through Host.Dial = %q", got)
	}
	if _, err := host.Dial(ctx, "tcp", "[4ab::9]:25"); err == nil {
		t.Error("Dial to an unregistered address succeeded")
	}

	host.AddNode(sdktest.Key(5), sdktest.Addr(5), 300)
	if k, err := host.LookupKey(ctx, sdktest.Addr(5)); err != nil || k != sdktest.Key(5) {
		t.Errorf("LookupKey = %v, %v", k, err)
	}
	if _, err := host.LookupKey(ctx, sdktest.Addr(6)); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("LookupKey(unknown) = %v, want ErrNotFound", err)
	}
	if m, err := host.RouteMetric(ctx, sdktest.Addr(5)); err != nil || m != 300 {
		t.Errorf("RouteMetric = %v, %v", m, err)
	}

	got := make(chan sdk.InboundMessage, 1)
	go func() {
		m, _ := host.ReceiveMessage(ctx, []byte("mail"))
		got <- m
	}()
	host.Deliver(sdk.InboundMessage{Topic: []byte("other")})
	host.Deliver(sdk.InboundMessage{Topic: []byte("mail"), Payload: []byte("hi")})
	if m := <-got; string(m.Payload) != "hi" || len(m.ID) != 16 {
		t.Errorf("ReceiveMessage = %+v", m)
	}
	if id, err := host.SendMessage(ctx, sdk.OutboundMessage{Dst: sdktest.Key(5), Payload: []byte("x")}); err != nil || len(id) != 16 {
		t.Errorf("SendMessage = %q, %v", id, err)
	}
	if sent := host.Sent(); len(sent) != 1 || string(sent[0].Payload) != "x" {
		t.Errorf("Sent = %+v", sent)
	}
}

func TestRequireBinary(t *testing.T) {
	if p := sdktest.RequireBinary(t, "sh"); p == "" {
		t.Error("RequireBinary(sh) returned no path")
	}
}

func TestHarnessNodeServices(t *testing.T) {
	dav := sdk.NodeService{Plugin: "dav", Name: "davs", Protocol: "http", TLS: sdk.TLSImplicit,
		Overlay: netip.MustParseAddrPort("[5ee::1]:5233")}
	stale := sdk.NodeService{Plugin: "who", Name: "old"}
	host := sdktest.NewHost()
	h := sdktest.Start(t, &whoPlugin{}, sdktest.Options{TLS: sdktest.TLS(t), Host: host,
		Node: sdk.NodeInfo{Services: []sdk.NodeService{stale, dav}}})

	// Configure sees the other plugin and its own services, not a stale
	// entry under its own name.
	var got []string
	for _, s := range h.Config.Node.Services {
		got = append(got, fmt.Sprintf("%s/%s %s %s", s.Plugin, s.Name, s.Overlay, s.Loopback))
	}
	want := []string{
		"dav/davs [5ee::1]:5233 invalid AddrPort",
		"who/who [5ee::1]:7 127.0.0.1:17007",
		"who/whos [5ee::1]:8 invalid AddrPort",
	}
	if !slices.Equal(got, want) || h.Config.Node.PublicKey != sdktest.Node().PublicKey {
		t.Errorf("Config.Node = %+v, services %q, want the test node with %q", h.Config.Node, got, want)
	}

	ctx := context.Background()
	if svcs, err := sdk.NodeServicesOf(ctx, host); err != nil || len(svcs) != 0 {
		t.Errorf("NodeServices before SetNodeServices = %+v, %v; want none", svcs, err)
	}
	host.SetNodeServices([]sdk.NodeService{stale, dav})
	if svcs, err := sdk.NodeServicesOf(ctx, host); err != nil || !slices.Equal(svcs, []sdk.NodeService{dav, stale}) {
		t.Errorf("NodeServices = %+v, %v; want dav then who, sorted", svcs, err)
	}
}
