package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/gateway/acl"
)

func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "plugin.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBadPluginsFailClearly: plugins that cannot start are reported as
// failed with the reason, retried (or not) as appropriate, and never
// block Start or Close.
func TestBadPluginsFailClearly(t *testing.T) {
	tests := []struct {
		name      string
		pc        func(t *testing.T) PluginConfig
		want      string
		permanent bool
	}{
		{
			name: "garbage handshake",
			pc:   func(t *testing.T) PluginConfig { return PluginConfig{Path: script(t, "echo hello; sleep 60")} },
			want: "Unrecognized remote plugin message",
		},
		{
			name: "silent binary",
			pc:   func(t *testing.T) PluginConfig { return PluginConfig{Path: script(t, "sleep 60")} },
			want: "timeout",
		},
		{
			name: "missing binary",
			pc:   func(t *testing.T) PluginConfig { return PluginConfig{Path: "/nonexistent/plugin"} },
			want: "no such file",
		},
		{
			name: "bad checksum",
			pc: func(t *testing.T) PluginConfig {
				return PluginConfig{Path: whoamiBin, SHA256: strings.Repeat("00", 32)}
			},
			want: "checksum",
		},
		{
			name: "rejected settings",
			pc: func(t *testing.T) PluginConfig {
				return PluginConfig{Path: selfBin, Settings: map[string]any{"mode": "reject"}}
			},
			want:      "settings say reject",
			permanent: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pc := tt.pc(t)
			pc.Name = "bad"
			cfg := Config{Plugins: []PluginConfig{pc}}
			cfg.Gateway.StartTimeout = Duration(500 * time.Millisecond)
			start := time.Now()
			n := launchNode(t, serverKey, newFabric().node(serverKey), newIdentity(), cfg)
			if d := time.Since(start); d > time.Second {
				t.Errorf("Start took %v", d)
			}
			ps := n.waitState(t, "bad", StateFailed)
			if !strings.Contains(ps.LastError, tt.want) {
				t.Errorf("last error %q, want it to mention %q", ps.LastError, tt.want)
			}
			if ps.RetryAt.IsZero() != tt.permanent {
				t.Errorf("retryAt %v; permanent failure: %v", ps.RetryAt, tt.permanent)
			}
			if !strings.Contains(n.logs.String(), "plugin failed to start") {
				t.Error("no log line for the failed start")
			}
			closed := time.Now()
			_ = n.g.Close()
			if d := time.Since(closed); d > 5*time.Second {
				t.Errorf("Close took %v", d)
			}
			t.Logf("failed in %v: %s", closed.Sub(start), ps.LastError)
		})
	}
}

// TestServiceOfferedTwice: two plugins cannot offer the same service.
func TestServiceOfferedTwice(t *testing.T) {
	cfg := Config{Plugins: []PluginConfig{
		whoamiPlugin(),
		{Name: "whoami2", Path: whoamiBin, Enabled: enabled(false)},
	}}
	n := startNode(t, serverKey, newFabric().node(serverKey), newIdentity(), cfg)
	cfg.Plugins[1].Enabled = nil
	if err := n.g.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	ps := n.waitState(t, "whoami2", StateFailed)
	if !strings.Contains(ps.LastError, `service "whoami" is already offered by plugin "whoami"`) || !ps.RetryAt.IsZero() {
		t.Errorf("second plugin: %+v", ps)
	}
	if ps, _ := n.g.PluginStatus("whoami"); ps.State != StateRunning {
		t.Errorf("first plugin: %+v", ps)
	}
}

// TestBadPreambleClosesOnlyThatConnection: a connection the gateway
// cannot describe in a valid preamble (an "overlay" peer outside 400::/7)
// is closed; garbage written straight to the plugin's data socket is
// closed by the plugin; the plugin keeps serving and stays healthy.
func TestBadPreambleClosesOnlyThatConnection(t *testing.T) {
	f := newFabric()
	id := newIdentity(serverKey, friendKey)
	forged := &fabricNode{f: f, addr: netip.MustParseAddr("2001:db8::1")}
	id.bind(forged.addr, friendKey)
	cfg := Config{
		Plugins: []PluginConfig{testPluginConfig(services("ident", 9))},
		Policy:  map[string]acl.Rule{"ident": {Allow: []string{friendKey.String()}}},
	}
	cfg.Gateway.SocketDir = filepath.Join(shortTemp(t), "s")
	n := startNode(t, serverKey, f.node(serverKey), id, cfg)
	ident := netip.AddrPortFrom(identity.AddressOf(serverKey), 9).String()

	if got, err := exchange(t, forged, ident, ""); err == nil && got != "" {
		t.Errorf("peer outside the overlay got %q", got)
	}
	bad, err := net.Dial("unix", filepath.Join(cfg.Gateway.SocketDir, "testplugin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = bad.Write([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"))
	_ = bad.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := bad.Read(make([]byte, 64)); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("garbage on the data socket: read %d, %v; want it closed", n, err)
	}
	_ = bad.Close()

	got, err := exchange(t, f.node(friendKey), ident, "")
	if err != nil || !strings.HasSuffix(got, " n=1\n") {
		t.Errorf("after bad preambles ident answered %q, %v; want the first connection it saw", got, err)
	}
	ps, _ := n.g.PluginStatus("testplugin")
	if ps.Services[0].Failed != 1 || ps.State != StateRunning || ps.Restarts != 0 {
		t.Errorf("status %+v, want one failed hand-off and a running plugin", ps)
	}
	if !strings.Contains(n.logs.String(), "outside 400::/7") {
		t.Error("the failed hand-off is not logged with its reason")
	}
	if !n.runner("testplugin").checkHealth(context.Background(), n.instance("testplugin")) {
		t.Error("health check failed after bad preambles")
	}
}

// shortTemp returns a short private temp directory (unix socket paths
// are limited to about 100 bytes).
func shortTemp(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "gw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

// TestUnhealthyPluginRestarts: a plugin whose service stopped serving is
// restarted after three failed health checks.
func TestUnhealthyPluginRestarts(t *testing.T) {
	pc := testPluginConfig(nil)
	pc.Settings = map[string]any{"mode": "crash"}
	cfg := Config{Plugins: []PluginConfig{pc}}
	cfg.Gateway.HealthInterval = Duration(20 * time.Millisecond)
	n := launchNode(t, serverKey, newFabric().node(serverKey), newIdentity(), cfg)
	deadline := time.Now().Add(20 * time.Second)
	for {
		ps, _ := n.g.PluginStatus("testplugin")
		if ps.Restarts >= 1 {
			if !strings.Contains(n.logs.String(), "reason=\"health checks failed\"") {
				t.Errorf("restart not logged with its reason")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("unhealthy plugin not restarted: %+v", ps)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
