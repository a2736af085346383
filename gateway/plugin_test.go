package gateway

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// testPlugin is the plugin the test binary becomes when the gateway
// starts it (see TestMain). Its services:
//
//	ident  answers "key=<hex|none> addr=<addr> origin=<origin> n=<count>"
//	       and closes; n counts the connections ident has seen, so a test
//	       can prove a refused peer never reached the plugin
//	echo   echoes until EOF, then half-closes
//	sink   counts bytes until EOF, answers the count, closes
//	host   runs one host-callback command line per connection
//
// No service listens by default: tests set ports in the config.
type testPlugin struct {
	host  sdk.Host
	cfg   sdk.Config
	seen  atomic.Int64
	mu    sync.Mutex
	conns sync.WaitGroup
}

func (p *testPlugin) Describe(context.Context) (sdk.Description, error) {
	svc := func(name string) sdk.ServiceSpec {
		return sdk.ServiceSpec{Name: name, Protocol: "test", TLS: sdk.TLSNone}
	}
	tlsSvc := svc("tls")
	tlsSvc.TLS = sdk.TLSImplicit
	return sdk.Description{Name: "testplugin", Version: "0.0.1", Services: []sdk.ServiceSpec{
		svc("ident"), svc("echo"), svc("sink"), svc("host"), tlsSvc,
	}}, nil
}

func (p *testPlugin) Configure(_ context.Context, cfg sdk.Config, host sdk.Host) error {
	if strings.Contains(string(cfg.Settings), "reject") {
		return errors.New("testplugin: settings say reject")
	}
	p.host, p.cfg = host, cfg
	return nil
}

func (p *testPlugin) Serve(ctx context.Context, service string, ln net.Listener) error {
	if service == "echo" && strings.Contains(string(p.cfg.Settings), "crash") {
		return errors.New("testplugin: echo crashed")
	}
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	defer p.conns.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		p.conns.Add(1)
		go func() {
			defer p.conns.Done()
			defer c.Close()
			p.handle(ctx, service, c)
		}()
	}
}

func (p *testPlugin) handle(ctx context.Context, service string, c net.Conn) {
	peer, _ := sdk.PeerOf(c)
	switch service {
	case "ident", "tls":
		n := p.seen.Add(1)
		fmt.Fprintf(c, "%s n=%d\n", describePeer(peer), n)
	case "echo":
		_, _ = io.Copy(c, c)
		_ = c.(interface{ CloseWrite() error }).CloseWrite()
		_, _ = io.Copy(io.Discard, c)
	case "sink":
		n, _ := io.Copy(io.Discard, c)
		fmt.Fprintf(c, "%d\n", n)
	case "host":
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Fprintln(c, p.hostCommand(ctx, strings.Fields(line)))
	}
}

func describePeer(p sdk.Peer) string {
	key := "none"
	if !p.Key.IsZero() {
		key = p.Key.String()
	}
	return fmt.Sprintf("key=%s addr=%s origin=%s", key, p.Addr, p.Origin)
}

// hostCommand runs one host callback and formats its result.
func (p *testPlugin) hostCommand(ctx context.Context, args []string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	switch {
	case len(args) == 1 && args[0] == "services":
		svcs, err := sdk.NodeServicesOf(ctx, p.host)
		return result(formatServices(svcs), err)
	case len(args) == 1 && args[0] == "cfgservices":
		return result(formatServices(p.cfg.Node.Services), nil)
	case len(args) < 2:
		return "error: usage"
	}
	switch args[0] {
	case "lookup":
		k, err := p.host.LookupKey(ctx, netip.MustParseAddr(args[1]))
		return result(k.String(), err)
	case "addressof":
		k, _ := sdk.ParsePublicKey(args[1])
		a, err := p.host.AddressOf(ctx, k)
		return result(a.String(), err)
	case "metric":
		m, err := p.host.RouteMetric(ctx, netip.MustParseAddr(args[1]))
		return result(strconv.Itoa(int(m)), err)
	case "send":
		k, _ := sdk.ParsePublicKey(args[1])
		id, err := p.host.SendMessage(ctx, sdk.OutboundMessage{Dst: k, Topic: []byte(args[2]), Payload: []byte(args[3])})
		return result(id, err)
	case "recv":
		m, err := p.host.ReceiveMessage(ctx, []byte(args[1]))
		return result(m.Src.String()+" "+string(m.Payload), err)
	case "tls":
		return result(p.tlsInfo())
	case "dial":
		c, err := p.host.Dial(ctx, "tcp", args[1])
		if err != nil {
			return result("", err)
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		return result(strings.TrimSpace(string(b)), err)
	}
	return "error: unknown command " + hex.EncodeToString([]byte(args[0]))
}

// tlsInfo describes the TLS material from Configure: the leaf's names,
// whether it verifies for the second argument against the CA, and the
// service bindings.
func (p *testPlugin) tlsInfo() (string, error) {
	if p.cfg.TLS == nil {
		return "no TLS material", nil
	}
	tc, err := p.cfg.TLS.ServerConfig()
	if err != nil {
		return "", err
	}
	leaf, err := x509.ParseCertificate(tc.Certificates[0].Certificate[0])
	if err != nil {
		return "", err
	}
	pool, err := p.cfg.TLS.CAPool()
	if err != nil {
		return "", err
	}
	var names []string
	names = append(names, leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	for _, n := range names {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: n, Roots: pool}); err != nil {
			return "", fmt.Errorf("verify %s: %w", n, err)
		}
	}
	return strings.Join(names, ","), nil
}

// RunCommand implements sdk.Commander: "services" prints the node
// services of the command's Config.
func (p *testPlugin) RunCommand(_ context.Context, env sdk.CommandEnv, args []string) error {
	if len(args) != 1 || args[0] != "services" {
		return errors.New("usage: testplugin services")
	}
	_, err := fmt.Fprintln(env.Stdout, formatServices(env.Node.Services))
	return err
}

// formatServices prints node services as
// "plugin/name protocol tls overlay loopback; ...", zero addresses as "-".
func formatServices(svcs []sdk.NodeService) string {
	ap := func(a netip.AddrPort) string {
		if !a.IsValid() {
			return "-"
		}
		return a.String()
	}
	var out []string
	for _, s := range svcs {
		out = append(out, fmt.Sprintf("%s/%s %s %s %s %s", s.Plugin, s.Name, s.Protocol, s.TLS, ap(s.Overlay), ap(s.Loopback)))
	}
	return strings.Join(out, "; ")
}

func result(s string, err error) string {
	if err != nil {
		if errors.Is(err, sdk.ErrNotFound) {
			return "error: not found"
		}
		return "error: " + err.Error()
	}
	return "ok " + s
}

var (
	_ sdk.Plugin    = (*testPlugin)(nil)
	_ sdk.Commander = (*testPlugin)(nil)
)
