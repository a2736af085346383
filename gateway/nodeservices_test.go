package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mycelium-go/mycelium/core/identity"
)

// TestNodeServices: a running plugin sees the other plugins' services
// through the host callback as the gateway listens for them now, and in
// Configure's snapshot those the gateway listened for when it was
// configured, plus its own.
func TestNodeServices(t *testing.T) {
	f := newFabric()
	addr := identity.AddressOf(serverKey)
	wp, hp := freePort(t), freePort(t)
	whoami := PluginConfig{Name: "whoami", Path: whoamiBin, Services: map[string]ServiceConfig{
		"whoami": {Port: port(7), Loopback: loopback(fmt.Sprintf("127.0.0.1:%d", wp), fmt.Sprintf("[::1]:%d", wp))},
	}}
	cfg := Config{Plugins: []PluginConfig{whoami}}
	n := startNode(t, serverKey, f.node(serverKey), newIdentity(), cfg)

	// testplugin starts after whoami runs, so its snapshot has whoami.
	tp := testPluginConfig(map[string]ServiceConfig{
		"host": {Loopback: loopback(fmt.Sprintf("127.0.0.1:%d", hp))},
		"tls":  {Port: port(5993)},
		"echo": {Enabled: enabled(false), Port: port(5994)},
	})
	cfg.Plugins = append(cfg.Plugins, tp)
	if err := n.g.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	n.waitState(t, "testplugin", StateRunning)
	cmd := func(line string) string {
		t.Helper()
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", hp))
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(c, line+"\n")
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return strings.TrimSpace(got)
	}
	own := fmt.Sprintf("testplugin/host test none - 127.0.0.1:%d; testplugin/tls test implicit [%s]:5993 -", hp, addr)
	all := fmt.Sprintf("ok %s; whoami/whoami line none [%s]:7 127.0.0.1:%d", own, addr, wp)
	if got := cmd("services"); got != all {
		t.Errorf("host callback:\n got %s\nwant %s", got, all)
	}
	if got := cmd("cfgservices"); got != all {
		t.Errorf("Configure snapshot:\n got %s\nwant %s", got, all)
	}

	// Without whoami the callback lists only testplugin; the snapshot
	// from Configure is stale, which is why plugins ask the host.
	cfg.Plugins = []PluginConfig{tp}
	if err := n.g.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if got := cmd("services"); got != "ok "+own {
		t.Errorf("host callback after whoami was removed:\n got %s\nwant ok %s", got, own)
	}
	if got := cmd("cfgservices"); got != all {
		t.Errorf("Configure snapshot after whoami was removed:\n got %s\nwant %s", got, all)
	}
}

// TestPluginCommandNodeServices: a subcommand's Config lists the services
// of every enabled plugin in the configuration, as the node binds them;
// a plugin that cannot be described is left out and the command still
// runs.
func TestPluginCommandNodeServices(t *testing.T) {
	log, logs := testLogger(t)
	addr := identity.AddressOf(serverKey)
	cfg := Config{Plugins: []PluginConfig{
		testPluginConfig(services("ident", 9)),
		{Name: "whoami", Path: whoamiBin, Services: map[string]ServiceConfig{"whoami": {Loopback: loopback("127.0.0.1:17777")}}},
		{Name: "off", Path: whoamiBin, Enabled: enabled(false)},
		{Name: "gone", Path: filepath.Join(t.TempDir(), "gone")},
	}}
	cmd, err := PluginCommand(context.Background(), cfg, CommandOptions{DataDir: t.TempDir(), Key: serverKey, Logger: log}, "testplugin", "services")
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	want := fmt.Sprintf("testplugin/ident test none [%s]:9 -; whoami/whoami line none [%s]:7 127.0.0.1:17777", addr, addr)
	if got := strings.TrimSpace(out.String()); got != want {
		t.Errorf("node services of the command:\n got %s\nwant %s", got, want)
	}
	if !strings.Contains(logs.String(), "plugin=gone") || !strings.Contains(logs.String(), "cannot describe") {
		t.Errorf("no warning about the missing plugin in the log:\n%s", logs.String())
	}
}
