package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/gateway/acl"
)

// testNet is an overlay the scenario tests run on.
type testNet interface {
	// overlay returns the Overlay of the node with key k.
	overlay(t testing.TB, k identity.PublicKey) Overlay
}

type fabricNet struct{ f *fabric }

func (n fabricNet) overlay(_ testing.TB, k identity.PublicKey) Overlay { return n.f.node(k) }

// nets returns the overlays every scenario runs on: the userspace stack
// (gVisor: SYN-time admission, spliced connections), kernel sockets in a
// network namespace (TUN mode: descriptor passing; root only), and the
// fabric (spliced loopback connections, no gVisor).
func nets(t *testing.T) map[string]func(*testing.T) testNet {
	return map[string]func(*testing.T) testNet{
		"netstack": newNetstackNet,
		"kernel":   newNetnsNet,
		"fabric":   func(*testing.T) testNet { return fabricNet{newFabric()} },
	}
}

// handoffPathOf is the hand-off path each test net uses.
var handoffPathOf = map[string]string{"netstack": "splice", "kernel": "fd", "fabric": "splice"}

var (
	serverKey  = key(0x11)
	friendKey  = key(0x22)
	strangerKy = key(0x33)
)

// whoamiPlugin runs whoami on the overlay only: its default loopback port
// would clash between test processes running in parallel.
func whoamiPlugin() PluginConfig {
	return PluginConfig{Name: "whoami", Path: whoamiBin, Services: map[string]ServiceConfig{"whoami": {Loopback: loopback()}}}
}

func whoamiConfig() Config {
	return Config{
		Plugins: []PluginConfig{whoamiPlugin()},
		Policy:  map[string]acl.Rule{"whoami": {Allow: []string{"group:friends"}}},
		Groups:  map[string][]string{"friends": {friendKey.String()}},
	}
}

func testPluginConfig(svc map[string]ServiceConfig) PluginConfig {
	return PluginConfig{Name: "testplugin", Path: selfBin, Services: svc}
}

// TestWhoamiOverlayPolicy: an allowed peer reaches the example plugin,
// which sees the peer's key; a peer outside the policy is refused and the
// plugin never sees it.
func TestWhoamiOverlayPolicy(t *testing.T) {
	for name, mk := range nets(t) {
		t.Run(name, func(t *testing.T) {
			tn := mk(t)
			id := newIdentity(serverKey, friendKey, strangerKy)
			cfg := whoamiConfig()
			cfg.Plugins = append(cfg.Plugins, testPluginConfig(services("ident", 9)))
			cfg.Policy["ident"] = acl.Rule{Allow: []string{"group:friends"}}
			n := startNode(t, serverKey, tn.overlay(t, serverKey), id, cfg)
			friend, stranger := tn.overlay(t, friendKey), tn.overlay(t, strangerKy)
			srv := netip.AddrPortFrom(identity.AddressOf(serverKey), 7).String()

			got, err := exchange(t, friend, srv, "")
			want := fmt.Sprintf("key=%s addr=[%s]:", friendKey, identity.AddressOf(friendKey))
			if err != nil || !strings.HasPrefix(got, want) || !strings.HasSuffix(got, " origin=overlay\n") {
				t.Fatalf("friend got %q, %v; want %q...origin=overlay", got, err, want)
			}
			if got, err := exchange(t, stranger, srv, ""); err == nil && got != "" {
				t.Errorf("stranger got %q from whoami", got)
			} else if name == "netstack" && !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("stranger's dial on the userspace stack: %v, want a RST at SYN time (connection refused)", err)
			}

			ident := netip.AddrPortFrom(identity.AddressOf(serverKey), 9).String()
			if got, _ := exchange(t, friend, ident, ""); !strings.HasSuffix(got, " n=1\n") {
				t.Fatalf("first ident answer %q, want n=1", got)
			}
			for range 3 {
				if got, err := exchange(t, stranger, ident, ""); err == nil && got != "" {
					t.Errorf("stranger got %q from ident", got)
				}
			}
			if got, _ := exchange(t, friend, ident, ""); !strings.HasSuffix(got, " n=2\n") {
				t.Errorf("second ident answer %q, want n=2: the plugin saw a refused peer", got)
			}
			if !strings.Contains(n.logs.String(), "path="+handoffPathOf[name]) {
				t.Errorf("no hand-off on the %s path in the log", name)
			}
			ps, _ := n.g.PluginStatus("testplugin")
			if s := ps.Services[0]; s.Name != "ident" || s.Refused < 3 || s.Accepted != 2 {
				t.Errorf("ident status %+v, want 2 accepted and 3 refused", s)
			}
		})
	}
}

// TestLoopbackServesWithoutKey: loopback listeners skip the policy and
// carry no key.
func TestLoopbackServesWithoutKey(t *testing.T) {
	p4, p6 := freePort(t), freePort(t)
	cfg := whoamiConfig()
	cfg.Plugins[0].Services = map[string]ServiceConfig{"whoami": {
		Port:     port(0),
		Loopback: loopback(fmt.Sprintf("127.0.0.1:%d", p4), fmt.Sprintf("[::1]:%d", p6)),
	}}
	n := startNode(t, serverKey, newFabric().node(serverKey), newIdentity(), cfg)
	for _, addr := range []string{fmt.Sprintf("127.0.0.1:%d", p4), fmt.Sprintf("[::1]:%d", p6)} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(c, "")
		host, _, _ := net.SplitHostPort(addr)
		if err != nil || !strings.HasPrefix(got, "key=none addr=") || !strings.Contains(got, host) || !strings.HasSuffix(got, "origin=loopback\n") {
			t.Errorf("%s: got %q, %v", addr, got, err)
		}
	}
	ps, _ := n.g.PluginStatus("whoami")
	if len(ps.Services) != 1 || ps.Services[0].Overlay != "" || len(ps.Services[0].Listeners) != 2 {
		t.Errorf("status %+v, want two loopback listeners and no overlay one", ps.Services)
	}
}

// TestKillPluginRestartsWithinASecond: after kill -9 of a plugin, new
// connections work again within 1 s and the status counts the restart.
func TestKillPluginRestartsWithinASecond(t *testing.T) {
	for name, mk := range nets(t) {
		t.Run(name, func(t *testing.T) {
			tn := mk(t)
			n := startNode(t, serverKey, tn.overlay(t, serverKey), newIdentity(serverKey, friendKey), whoamiConfig())
			friend := tn.overlay(t, friendKey)
			srv := netip.AddrPortFrom(identity.AddressOf(serverKey), 7).String()
			if got, err := exchange(t, friend, srv, ""); err != nil || !strings.Contains(got, friendKey.String()) {
				t.Fatalf("before kill: %q, %v", got, err)
			}
			before, _ := n.g.PluginStatus("whoami")
			if err := syscall.Kill(before.Pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed := time.Now()
			var got string
			var err error
			for time.Since(killed) < 5*time.Second {
				got, err = exchange(t, friend, srv, "")
				if err == nil && strings.Contains(got, friendKey.String()) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			took := time.Since(killed)
			if err != nil || !strings.Contains(got, friendKey.String()) {
				t.Fatalf("no answer after kill -9: %q, %v", got, err)
			}
			if took > time.Second {
				t.Errorf("service back after %v, want within 1s", took)
			}
			after := n.waitState(t, "whoami", StateRunning)
			if after.Restarts != 1 || after.Pid == before.Pid || after.Pid == 0 {
				t.Errorf("after restart: restarts %d pid %d (was %d)", after.Restarts, after.Pid, before.Pid)
			}
			t.Logf("service answered again %v after kill -9", took)
		})
	}
}

// TestNodeDeathKillsPlugin: kill -9 of the node (a re-executed test
// binary running a gateway) makes its plugin exit.
func TestNodeDeathKillsPlugin(t *testing.T) {
	cmd := exec.Command(selfBin, "-test.run=^$")
	cmd.Env = append(os.Environ(), envFakeNode+"="+t.TempDir(), "GATEWAY_TEST_WHOAMI="+whoamiBin)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line := make(chan string, 1)
	go func() {
		b := make([]byte, 64)
		n, _ := out.Read(b)
		line <- strings.TrimSpace(string(b[:n]))
	}()
	var pid int
	select {
	case s := <-line:
		if pid, err = strconv.Atoi(s); err != nil {
			t.Fatalf("fake node printed %q", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("fake node did not report its plugin")
	}
	if !alive(pid) {
		t.Fatalf("plugin %d not running", pid)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("plugin %d still running 5s after its node was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs (and is not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z" && f[2] != "X"
}

// fakeNode runs a gateway with whoami in dir, prints the plugin's pid and
// waits for a signal.
func fakeNode(dir string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg := whoamiConfig()
	cfg.Plugins[0].Path = filepath.Join(filepath.Dir(os.Args[0]), "nonexistent")
	if p := os.Getenv("GATEWAY_TEST_WHOAMI"); p != "" {
		cfg.Plugins[0].Path = p
	}
	cfg.Gateway.SocketDir = filepath.Join(dir, "s")
	g, err := New(cfg, Deps{DataDir: dir, Key: serverKey, Overlay: newFabric().node(serverKey), Identity: newIdentity(), Logger: log})
	if err == nil {
		err = g.Start(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for {
		ps, _ := g.PluginStatus("whoami")
		if ps.State == StateRunning {
			fmt.Println(ps.Pid)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	return 0
}
