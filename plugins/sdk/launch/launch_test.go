//go:build unix

package launch

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// envMode makes the re-executed test binary misbehave for a test.
const envMode = "LAUNCH_TEST_MODE"

// TestMain turns the test binary into a plugin when go-plugin starts it.
func TestMain(m *testing.M) {
	switch os.Getenv(envMode) {
	case "garbage":
		fmt.Println("hello, I am not a plugin")
		time.Sleep(time.Minute)
		os.Exit(0)
	case "silent":
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	if os.Getenv(sdk.Handshake.MagicCookieKey) != "" {
		sdk.Serve(identPlugin{})
	}
	os.Exit(m.Run())
}

// identPlugin answers each connection with its peer's identity.
type identPlugin struct{}

func (identPlugin) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: "ident", Services: []sdk.ServiceSpec{{Name: "ident", Protocol: "line", Port: 7, TLS: sdk.TLSNone}}}, nil
}

func (identPlugin) Configure(context.Context, sdk.Config, sdk.Host) error { return nil }

func (identPlugin) Serve(ctx context.Context, _ string, ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		p, _ := sdk.PeerOf(c)
		fmt.Fprintf(c, "%s %s %s\n", p.Key, p.Addr, p.Origin)
		_ = c.Close()
	}
}

func testConfig(t *testing.T) Config {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sock, err := os.MkdirTemp("", "lt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(sock) })
	return Config{
		Name:         "ident",
		Path:         exe,
		DataDir:      filepath.Join(t.TempDir(), "data"),
		SocketDir:    filepath.Join(sock, "s"),
		StartTimeout: 10 * time.Second,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func TestStartConfigureHandoffKill(t *testing.T) {
	cfg := testConfig(t)
	sum, err := fileSHA256(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.SHA256 = sum
	ctx := context.Background()
	p, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer p.Kill()
	if p.ProtocolVersion() != sdk.ProtocolVersion || p.Pid() <= 0 {
		t.Errorf("version %d pid %d, want %d and a pid", p.ProtocolVersion(), p.Pid(), sdk.ProtocolVersion)
	}
	if fi, err := os.Stat(cfg.SocketDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("socket dir mode = %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	if err := p.Client.Configure(ctx, sdk.Config{DataDir: cfg.DataDir}, sdk.HostServices{}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	peer := sdk.Peer{
		Key: sdk.PublicKey{1, 2, 3}, Addr: netip.MustParseAddrPort("[4ab::1]:4000"),
		Local: netip.MustParseAddrPort("[5ff::1]:7"), Origin: sdk.OriginOverlay, Service: "ident",
	}
	want := fmt.Sprintf("%s %s overlay\n", peer.Key, peer.Addr)
	for _, path := range []string{"fd", "splice"} {
		client, host := tcpPair(t)
		go func() {
			if path == "fd" {
				_ = p.Handoff.PassFD(ctx, host, peer)
			} else {
				_, _ = p.Handoff.Splice(ctx, host, peer)
			}
		}()
		_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(client).ReadString('\n')
		if err != nil || line != want {
			t.Errorf("%s path: plugin answered %q, %v; want %q", path, line, err, want)
		}
	}
	p.Kill()
	select {
	case <-p.Done():
	default:
		t.Error("Done not closed after Kill")
	}
	if _, err := os.Stat(filepath.Join(cfg.SocketDir, "ident.sock")); !os.IsNotExist(err) {
		t.Errorf("data socket left behind after Kill: %v", err)
	}
}

func TestStartFailsClearlyAndQuickly(t *testing.T) {
	for name, tc := range map[string]struct {
		mode, want string
		cfg        func(*Config)
	}{
		"garbage handshake": {mode: "garbage", want: "Unrecognized remote plugin message"},
		"silent binary":     {mode: "silent", want: "timeout", cfg: func(c *Config) { c.StartTimeout = 300 * time.Millisecond }},
		"bad checksum":      {want: "checksum", cfg: func(c *Config) { c.SHA256 = make([]byte, 32) }},
		"missing binary":    {want: "no such file", cfg: func(c *Config) { c.Path = "/nonexistent/plugin" }},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t)
			if tc.mode != "" {
				cfg.Env = []string{envMode + "=" + tc.mode}
			}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			start := time.Now()
			p, err := Start(context.Background(), cfg)
			if err == nil {
				p.Kill()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Start error = %v, want it to mention %q", err, tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Start took %v to fail", d)
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"no name":   func(c *Config) { c.Name = "" },
		"bad name":  func(c *Config) { c.Name = "a/b" },
		"no path":   func(c *Config) { c.Path = "" },
		"no logger": func(c *Config) { c.Logger = nil },
		"short sum": func(c *Config) { c.SHA256 = []byte{1} },
		"long sock": func(c *Config) { c.SocketDir = "/tmp/" + strings.Repeat("x", 120) },
	} {
		cfg := testConfig(t)
		mod(&cfg)
		if p, err := Start(context.Background(), cfg); err == nil {
			p.Kill()
			t.Errorf("%s: Start succeeded", name)
		}
	}
}

func TestEnviron(t *testing.T) {
	cfg := Config{SocketDir: "/run/m", LogLevel: slog.LevelDebug, Env: []string{"X=1"}}
	env := environ([]string{"PATH=/bin", "PLUGIN_UNIX_SOCKET_DIR=/tmp/evil", sdk.Handshake.MagicCookieKey + "=old"}, cfg)
	want := []string{"PATH=/bin", "PLUGIN_UNIX_SOCKET_DIR=/run/m", sdk.EnvFDs + "=1", sdk.EnvLogLevel + "=DEBUG", "X=1"}
	if fmt.Sprint(env) != fmt.Sprint(want) {
		t.Errorf("environ = %q, want %q", env, want)
	}
}

func TestCommand(t *testing.T) {
	cmd, err := Command(context.Background(), "/bin/true", sdk.Config{DataDir: "/d"}, "adduser", "bob")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(cmd.Args) != "[/bin/true adduser bob]" || cmd.Dir != "/d" {
		t.Errorf("Command = %v in %s", cmd.Args, cmd.Dir)
	}
	var found bool
	for _, kv := range cmd.Env {
		found = found || strings.HasPrefix(kv, sdk.EnvCommandConfig+"=")
		if strings.HasPrefix(kv, sdk.Handshake.MagicCookieKey+"=") {
			t.Error("command environment carries go-plugin's cookie")
		}
	}
	if !found {
		t.Errorf("command environment lacks %s", sdk.EnvCommandConfig)
	}
}

func fileSHA256(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	host, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close(); _ = host.Close() })
	return client, host
}
