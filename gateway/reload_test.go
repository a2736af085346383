package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/gateway/acl"
)

// TestReloadKeepsAllowedConnections: a policy reload keeps the open
// connections of keys that stay allowed; spliced connections of a key
// that lost access are closed, and its new connections refused.
func TestReloadKeepsAllowedConnections(t *testing.T) {
	for name, mk := range nets(t) {
		t.Run(name, func(t *testing.T) { testReloadKeepsAllowed(t, mk(t), handoffPathOf[name]) })
	}
}

func testReloadKeepsAllowed(t *testing.T, tn testNet, path string) {
	id := newIdentity(serverKey, friendKey, strangerKy)
	cfg := Config{
		Plugins: []PluginConfig{testPluginConfig(services("echo", 9, "ident", 10))},
		Policy: map[string]acl.Rule{
			"echo":  {Allow: []string{friendKey.String(), strangerKy.String()}},
			"ident": {Allow: []string{"*"}},
		},
	}
	n := startNode(t, serverKey, tn.overlay(t, serverKey), id, cfg)
	echo := netip.AddrPortFrom(identity.AddressOf(serverKey), 9).String()
	open := func(k identity.PublicKey) *echoConn {
		t.Helper()
		c, err := tn.overlay(t, k).Dial(context.Background(), "tcp", echo)
		if err != nil {
			t.Fatal(err)
		}
		ec := &echoConn{c: c, r: bufio.NewReader(c)}
		t.Cleanup(func() { _ = c.Close() })
		if err := ec.roundTrip("hello"); err != nil {
			t.Fatalf("echo before reload: %v", err)
		}
		return ec
	}
	friend, stranger := open(friendKey), open(strangerKy)

	cfg.Policy["echo"] = acl.Rule{Allow: []string{friendKey.String()}}
	if err := n.g.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if err := friend.roundTrip("still here"); err != nil {
		t.Errorf("allowed connection broken by the reload: %v", err)
	}
	// Spliced connections of a key that lost access are closed; a
	// connection passed by descriptor belongs to the plugin and goes on.
	if err := stranger.roundTrip("still here?"); path == "splice" && err == nil {
		t.Error("spliced connection of a key removed from the policy survived the reload")
	} else if path == "fd" && err != nil {
		t.Errorf("connection passed by descriptor: %v; the gateway cannot close it", err)
	}
	if got, err := exchange(t, tn.overlay(t, strangerKy), echo, "x"); err == nil && got != "" {
		t.Errorf("new connection of the removed key got %q", got)
	}
	if err := open(friendKey).roundTrip("new"); err != nil {
		t.Errorf("new connection of the allowed key: %v", err)
	}
	if ps, _ := n.g.PluginStatus("testplugin"); ps.Restarts != 0 || ps.State != StateRunning {
		t.Errorf("policy reload restarted the plugin: %+v", ps)
	}
}

type echoConn struct {
	c interface {
		io.Writer
		SetDeadline(time.Time) error
	}
	r      *bufio.Reader
	closer io.Closer
}

func (e *echoConn) roundTrip(s string) error {
	_ = e.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintln(e.c, s); err != nil {
		return err
	}
	line, err := e.r.ReadString('\n')
	if err != nil {
		return err
	}
	if line != s+"\n" {
		return fmt.Errorf("echo %q, want %q", line, s)
	}
	return nil
}

// TestReloadPlugins: a reload starts added plugins, stops removed ones,
// restarts changed ones, keeps unchanged ones, and refuses a bad config
// without changing anything.
func TestReloadPlugins(t *testing.T) {
	tn := fabricNet{newFabric()}
	cfg := Config{Plugins: []PluginConfig{whoamiPlugin()}}
	n := startNode(t, serverKey, tn.overlay(t, serverKey), newIdentity(), cfg)
	first, _ := n.g.PluginStatus("whoami")

	bad := cfg
	bad.Policy = map[string]acl.Rule{"whoami": {Allow: []string{"group:nobody"}}}
	if err := n.g.Reload(bad); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "group:nobody") {
		t.Fatalf("Reload(bad) = %v, want ErrConfig naming the entry", err)
	}

	cfg.Plugins = append(cfg.Plugins, testPluginConfig(services("ident", 10)))
	if err := n.g.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	n.waitState(t, "testplugin", StateRunning)
	if ps, _ := n.g.PluginStatus("whoami"); ps.Pid != first.Pid {
		t.Errorf("unchanged whoami restarted: pid %d -> %d", first.Pid, ps.Pid)
	}

	lp := freePort(t)
	cfg.Plugins[0].Settings = map[string]any{"prefix": "hi "}
	cfg.Plugins[0].Services = map[string]ServiceConfig{"whoami": {Loopback: loopback(fmt.Sprintf("127.0.0.1:%d", lp))}}
	cfg.Plugins = cfg.Plugins[:1]
	if err := n.g.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	ps := n.waitState(t, "whoami", StateRunning)
	if ps.Pid == first.Pid {
		t.Error("whoami kept its process although its settings changed")
	}
	if _, ok := n.g.PluginStatus("testplugin"); ok {
		t.Error("removed plugin still listed")
	}
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", lp))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(c, ""); err != nil || !strings.HasPrefix(got, "hi key=none") {
		t.Errorf("whoami with new settings said %q, %v", got, err)
	}
	if err := n.g.Reload(Config{}); err != nil {
		t.Fatal(err)
	}
	if st := n.g.Status(); len(st.Plugins) != 0 {
		t.Errorf("plugins after reloading an empty config: %+v", st.Plugins)
	}
}

// TestMaxConnectionsBoundsSplicedConnections: with max_connections = 1 a
// second connection waits in the backlog until the first one ends.
func TestMaxConnectionsBoundsSplicedConnections(t *testing.T) {
	tn := fabricNet{newFabric()}
	cfg := Config{
		Plugins: []PluginConfig{testPluginConfig(services("echo", 9))},
		Policy:  map[string]acl.Rule{"echo": {Allow: []string{friendKey.String()}}},
	}
	cfg.Gateway.MaxConnections = 1
	startNode(t, serverKey, tn.overlay(t, serverKey), newIdentity(serverKey, friendKey), cfg)
	echo := netip.AddrPortFrom(identity.AddressOf(serverKey), 9).String()
	dial := func() *echoConn {
		c, err := tn.overlay(t, friendKey).Dial(context.Background(), "tcp", echo)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return &echoConn{c: c, r: bufio.NewReader(c), closer: c}
	}
	first := dial()
	if err := first.roundTrip("one"); err != nil {
		t.Fatal(err)
	}
	second := dial()
	fmt.Fprintln(second.c, "two")
	_ = second.c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if line, err := second.r.ReadString('\n'); err == nil {
		t.Fatalf("second connection served (%q) while the first holds the only slot", line)
	}
	_ = first.closer.Close()
	_ = second.c.SetDeadline(time.Now().Add(5 * time.Second))
	if line, err := second.r.ReadString('\n'); err != nil || line != "two\n" {
		t.Errorf("second connection after the first closed: %q, %v", line, err)
	}
}
