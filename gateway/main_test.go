package gateway

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// envFakeNode turns the test binary into a fake node: it runs a gateway
// with the whoami plugin, prints the plugin's pid and waits to be killed.
const envFakeNode = "GATEWAY_TEST_FAKE_NODE"

var (
	// whoamiBin is plugins/whoami, built by TestMain.
	whoamiBin string
	// selfBin is the test binary, which serves testPlugin when launched
	// as a plugin.
	selfBin string
)

func TestMain(m *testing.M) {
	if os.Getenv(sdk.Handshake.MagicCookieKey) != "" {
		sdk.Serve(&testPlugin{})
	}
	if _, ok := os.LookupEnv(sdk.EnvCommandConfig); ok {
		sdk.Serve(&testPlugin{}) // a subcommand (PluginCommand)
	}
	if dir := os.Getenv(envFakeNode); dir != "" {
		os.Exit(fakeNode(dir))
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	// Plugins that are this (race-enabled) test binary would otherwise
	// sleep a second at exit to let the race detector report.
	_ = os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	dir, err := os.MkdirTemp("", "gateway-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	whoamiBin = filepath.Join(dir, "whoami")
	build := exec.Command("go", "build", "-o", whoamiBin, "../plugins/whoami")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build whoami:", err)
		return 1
	}
	if selfBin, err = os.Executable(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// key returns a test key whose every byte is b.
func key(b byte) identity.PublicKey {
	var k identity.PublicKey
	for i := range k {
		k[i] = b
	}
	return k
}

// logBuffer collects log output; tests print it when they fail.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// testLogger returns a debug logger whose output is shown if t fails (or
// always, with GATEWAY_TEST_LOG=1).
func testLogger(t testing.TB) (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	var w io.Writer = lb
	if os.Getenv("GATEWAY_TEST_LOG") != "" {
		w = io.MultiWriter(lb, os.Stderr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", lb.String())
		}
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// testNode is one gateway under test.
type testNode struct {
	g    *Gateway
	key  identity.PublicKey
	ov   Overlay
	logs *logBuffer
}

// startNode starts a gateway for key on overlay ov with cfg and waits
// until every enabled plugin runs.
func startNode(t testing.TB, k identity.PublicKey, ov Overlay, id Identity, cfg Config, mod ...func(*Deps)) *testNode {
	t.Helper()
	n := launchNode(t, k, ov, id, cfg, mod...)
	for _, pc := range cfg.Plugins {
		if pc.enabled() {
			n.waitState(t, pc.Name, StateRunning)
		}
	}
	return n
}

// launchNode starts a gateway without waiting for its plugins.
func launchNode(t testing.TB, k identity.PublicKey, ov Overlay, id Identity, cfg Config, mod ...func(*Deps)) *testNode {
	t.Helper()
	log, lb := testLogger(t)
	sock, err := os.MkdirTemp("", "gwt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(sock) })
	if cfg.Gateway.SocketDir == "" {
		cfg.Gateway.SocketDir = filepath.Join(sock, "s")
	}
	deps := Deps{DataDir: t.TempDir(), Key: k, Overlay: ov, Identity: id, Logger: log, LogLevel: slog.LevelDebug}
	for _, f := range mod {
		f(&deps)
	}
	g, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return &testNode{g: g, key: k, ov: ov, logs: lb}
}

// runner returns the supervisor of plugin name.
func (n *testNode) runner(name string) *runner {
	n.g.mu.Lock()
	defer n.g.mu.Unlock()
	for _, r := range n.g.mu.runners {
		if r.cfg.Name == name {
			return r
		}
	}
	return nil
}

// instance returns the running process of plugin name, or nil.
func (n *testNode) instance(name string) *instance {
	r := n.runner(name)
	r.st.Lock()
	defer r.st.Unlock()
	return r.st.inst
}

// waitState waits until plugin name is in state s.
func (n *testNode) waitState(t testing.TB, name string, s State) PluginStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ps, ok := n.g.PluginStatus(name)
		if ok && ps.State == s {
			return ps
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin %s: state %q (last error %q), want %q", name, ps.State, ps.LastError, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exchange dials address through ov, optionally sends a line, and returns
// everything the other side sent until EOF.
func exchange(t testing.TB, ov Overlay, address, send string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ov.Dial(ctx, "tcp", address)
	if err != nil {
		return "", err
	}
	return readAll(c, send)
}

func readAll(c net.Conn, send string) (string, error) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if send != "" {
		if _, err := io.WriteString(c, send); err != nil {
			return "", err
		}
	}
	b, err := io.ReadAll(bufio.NewReader(c))
	return string(b), err
}

// enabled returns a *bool.
func enabled(v bool) *bool { return &v }

// port returns a *uint16.
func port(p uint16) *uint16 { return &p }

// loopback returns a *[]string.
func loopback(addrs ...string) *[]string { return &addrs }

// freePort returns a currently unused loopback TCP port.
func freePort(t testing.TB) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// services builds a services table from name=port pairs (overlay ports).
func services(kv ...any) map[string]ServiceConfig {
	m := map[string]ServiceConfig{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = ServiceConfig{Port: port(uint16(kv[i+1].(int)))}
	}
	return m
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
