//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
	"github.com/mycelium-go/mycelium/plugins/sdk/launch"
	"github.com/mycelium-go/mycelium/plugins/sdk/sdktest"
)

// envFakeHost turns the test binary into a fake node that launches the
// plugin at the given path, prints its pid and waits to be killed.
const envFakeHost = "WHOAMI_TEST_FAKE_HOST"

// binary is the whoami plugin built by TestMain.
var binary string

func TestMain(m *testing.M) {
	if path := os.Getenv(envFakeHost); path != "" {
		os.Exit(fakeHost(path))
	}
	dir, err := os.MkdirTemp("", "whoami-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "whoami")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build whoami:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func launchConfig(t testing.TB, path string) launch.Config {
	t.Helper()
	sock, err := os.MkdirTemp("", "wt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(sock) })
	return launch.Config{
		Name: "whoami", Path: path,
		DataDir:      filepath.Join(t.TempDir(), "data"),
		SocketDir:    filepath.Join(sock, "s"),
		StartTimeout: 10 * time.Second,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// startWhoami launches and configures the built plugin.
func startWhoami(t *testing.T) (*launch.Plugin, launch.Config) {
	t.Helper()
	cfg := launchConfig(t, binary)
	p, err := launch.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("launch: %v", err)
	}
	t.Cleanup(p.Kill)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := p.Client.Describe(ctx)
	if err != nil || d.Name != "whoami" || len(d.Services) != 1 || d.Services[0].Port != 7 {
		t.Fatalf("Describe = %+v, %v", d, err)
	}
	if err := p.Client.Configure(ctx, sdk.Config{
		Settings: json.RawMessage(`{"prefix":"you are "}`),
		DataDir:  cfg.DataDir,
		Node:     sdktest.Node(),
	}, sdk.HostServices{}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return p, cfg
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

func readAnswer(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	_ = c.Close() // ends the host's client-to-plugin direction
	if err != nil {
		t.Fatalf("read answer: %v (got %q)", err, b)
	}
	return string(b)
}

func TestWhoamiReportsIdentityOnBothPaths(t *testing.T) {
	p, _ := startWhoami(t)
	ctx := context.Background()
	overlay := sdktest.Peer(7)
	overlay.Service, overlay.Local = "whoami", netip.MustParseAddrPort("[5ee::1]:7")
	loop := sdktest.LoopbackPeer()
	loop.Service, loop.Local = "whoami", netip.MustParseAddrPort("127.0.0.1:17007")
	for _, tc := range []struct {
		path string
		peer sdk.Peer
		want string
	}{
		{"fd", overlay, fmt.Sprintf("you are key=%s addr=%s origin=overlay\n", overlay.Key, overlay.Addr)},
		{"splice", overlay, fmt.Sprintf("you are key=%s addr=%s origin=overlay\n", overlay.Key, overlay.Addr)},
		{"fd", loop, "you are key=none addr=127.0.0.1:50000 origin=loopback\n"},
		{"splice", loop, "you are key=none addr=127.0.0.1:50000 origin=loopback\n"},
	} {
		t.Run(tc.path+"/"+tc.peer.Origin.String(), func(t *testing.T) {
			client, host := tcpPair(t)
			errc := make(chan error, 1)
			go func() {
				if tc.path == "fd" {
					errc <- p.Handoff.PassFD(ctx, host, tc.peer)
				} else {
					_, err := p.Handoff.Splice(ctx, host, tc.peer)
					errc <- err
				}
			}()
			if got := readAnswer(t, client); got != tc.want {
				t.Errorf("answer = %q, want %q", got, tc.want)
			}
			if err := <-errc; err != nil {
				t.Errorf("hand-off: %v", err)
			}
		})
	}
}

func TestWhoamiMalformedPreambleClosesOnlyThatConnection(t *testing.T) {
	p, cfg := startWhoami(t)
	bad, err := net.Dial("unix", filepath.Join(cfg.SocketDir, "whoami.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if _, err := bad.Write([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := bad.Read(make([]byte, 64)); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("malformed connection read %d, %v; want it closed", n, err)
	}
	client, host := tcpPair(t)
	peer := sdktest.Peer(9)
	peer.Service, peer.Local = "whoami", netip.MustParseAddrPort("[5ee::1]:7")
	go func() { _, _ = p.Handoff.Splice(context.Background(), host, peer) }()
	if got := readAnswer(t, client); !strings.Contains(got, peer.Key.String()) {
		t.Errorf("after a malformed preamble the plugin answered %q", got)
	}
	if h, err := p.Client.Health(context.Background()); err != nil || !h.OK() {
		t.Errorf("Health = %+v, %v; want OK", h, err)
	}
}

func TestWhoamiRejectsBadSettings(t *testing.T) {
	p, err := launch.Start(context.Background(), launchConfig(t, binary))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	err = p.Client.Configure(context.Background(), sdk.Config{Settings: json.RawMessage(`{"prefx":"x"}`)}, sdk.HostServices{})
	if !errors.Is(err, sdk.ErrConfigRejected) || !strings.Contains(err.Error(), "prefx") {
		t.Errorf("Configure(unknown key) = %v, want ErrConfigRejected naming the key", err)
	}
}

func TestBogusPluginFailsQuickly(t *testing.T) {
	script := filepath.Join(t.TempDir(), "bogus")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'garbage on stdout'\nsleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p, err := launch.Start(context.Background(), launchConfig(t, script))
	if err == nil {
		p.Kill()
		t.Fatal("launching a bogus binary succeeded")
	}
	if !strings.Contains(err.Error(), "Unrecognized remote plugin message") {
		t.Errorf("error = %v, want go-plugin's unrecognized message error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("bogus binary took %v to fail", d)
	}
}

// fakeHost launches the plugin and waits to be killed.
func fakeHost(path string) int {
	sock, err := os.MkdirTemp("", "wf")
	if err != nil {
		return 1
	}
	p, err := launch.Start(context.Background(), launch.Config{
		Name: "whoami", Path: path, DataDir: filepath.Join(sock, "d"), SocketDir: filepath.Join(sock, "s"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println(p.Pid())
	time.Sleep(time.Minute)
	return 0
}

// alive reports whether pid runs (zombies count as dead: nothing reaps
// orphans in some containers).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

func TestPluginDiesWithHost(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	host := exec.Command(exe, "-test.run=^$")
	host.Env = append(os.Environ(), envFakeHost+"="+binary)
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = host.Process.Kill(); _ = host.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("fake host: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || !alive(pid) {
		t.Fatalf("fake host said %q: no live plugin", line)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("plugin %d still alive 5s after its host was SIGKILLed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestShowConfigCommand(t *testing.T) {
	cmd, err := launch.Command(context.Background(), binary, sdk.Config{
		Settings: json.RawMessage(`{"prefix":"hi "}`), DataDir: t.TempDir(), Node: sdktest.Node(),
	}, "show-config")
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil {
		t.Fatalf("show-config: %v", err)
	}
	want := fmt.Sprintf("data_dir=%s node=5ee::1 prefix=\"hi \"\n", cmd.Dir)
	if stdout.String() != want {
		t.Errorf("show-config printed %q, want %q", stdout.String(), want)
	}
	direct := exec.Command(binary)
	direct.Env = []string{}
	msg, err := direct.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "is a mycelium plugin") {
		t.Errorf("running the binary by hand = %q, %v; want the plugin notice and status 1", msg, err)
	}
}
