package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/api"
	"github.com/mycelium-go/mycelium/core/api/apitest"
)

// runCLI runs the command line in process and returns the exit code and
// what it printed.
func runCLI(t *testing.T, args ...string) (code int, out, errOut string) {
	t.Helper()
	var buf bytes.Buffer
	stdout = &buf
	defer func() { stdout = os.Stdout }()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	code = run(args)
	os.Stderr = saved
	w.Close()
	e, _ := io.ReadAll(r)
	return code, buf.String(), string(e)
}

func TestCLIPeers(t *testing.T) {
	h := apitest.Start(t, nil)
	api := "--api-addr=" + h.Addr
	code, out, _ := runCLI(t, "peers", "list", api)
	if code != 0 || !strings.Contains(out, "192.0.2.6:9651") || !strings.Contains(out, "443.01 MiB") || !strings.Contains(out, "1h 0m 0s") {
		t.Errorf("peers list = %d\n%s", code, out)
	}
	if code, _, errOut := runCLI(t, "peers", "add", api, "tcp://192.0.2.10:9651", "quic://[2001:db8::1]:9651"); code != 0 {
		t.Fatalf("peers add = %d %s", code, errOut)
	}
	code, _, errOut := runCLI(t, "peers", "add", api, "tcp://192.0.2.10:9651")
	if code != 1 || strings.TrimSpace(errOut) != "mycelium: peer tcp://192.0.2.10:9651 already exists" {
		t.Errorf("peers add twice = %d %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "peers", "add", api, "192.0.2.10")
	if code != 1 || !strings.Contains(errOut, `"192.0.2.10" is not a valid peer endpoint`) {
		t.Errorf("peers add bad = %d %q", code, errOut)
	}
	code, out, _ = runCLI(t, "peers", "list", "--json", api)
	var peers []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &peers) != nil || len(peers) != 3 {
		t.Errorf("peers list --json = %d %s", code, out)
	}
	if code, _, errOut := runCLI(t, "peers", "remove", api, "tcp://192.0.2.10:9651"); code != 0 {
		t.Errorf("peers remove = %d %s", code, errOut)
	}
	code, _, errOut = runCLI(t, "peers", "remove", api, "tcp://192.0.2.10:9651")
	if code != 1 || strings.TrimSpace(errOut) != "mycelium: peer tcp://192.0.2.10:9651 is not known" {
		t.Errorf("peers remove twice = %d %q", code, errOut)
	}
}

func TestCLIRoutesAndStats(t *testing.T) {
	h := apitest.Start(t, nil)
	api := "--api-addr=" + h.Addr
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"routes", "selected", api}, "TCP 203.0.113.2:60128 <-> 192.0.2.6:9651"},
		{[]string{"routes", "fallback", api}, "infinite"},
		{[]string{"routes", "fallback", "--json", api}, `"metric": "infinite"`},
		{[]string{"routes", "queried", api}, "37s"},
		{[]string{"stats", "packets", api}, "Statistics by Destination IP:"},
		{[]string{"stats", "packets", "--json", api}, `"packetCount": 1234`},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, tt.args...)
		if code != 0 || !strings.Contains(out, tt.want) {
			t.Errorf("%v = %d\n%s%s", tt.args, code, out, errOut)
		}
	}
}

func TestCLIMessages(t *testing.T) {
	h := apitest.Start(t, nil)
	api := "--api-addr=" + h.Addr
	pkB := h.B.Key.Public().String()

	// send with --wait; B answers.
	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	go func() {
		c, o, e := runCLI(t, "message", "send", api, "--wait", "--timeout=10", "-t", "chat", pkB, "hello")
		done <- result{c, o, e}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	m, ok := h.B.Bus.Pop(ctx, []byte("chat"), true, false)
	if !ok || string(m.Payload) != "hello" {
		t.Fatalf("B popped %+v", m)
	}
	h.B.Bus.Reply(m.ID, m.SrcIP, []byte("hi there"))
	r := <-done
	if r.code != 0 || !strings.Contains(r.out, `"payload": "hi there"`) || !strings.Contains(r.out, m.ID.String()) {
		t.Fatalf("send --wait = %d %s %s", r.code, r.out, r.err)
	}

	// send from a file without waiting: prints the id; status shows it.
	path := filepath.Join(t.TempDir(), "msg")
	os.WriteFile(path, []byte("from a file"), 0o600)
	code, out, errOut := runCLI(t, "message", "send", api, "--msg-path", path, h.B.Addr().String())
	id := strings.TrimSpace(out)
	if code != 0 || len(id) != 16 {
		t.Fatalf("send --msg-path = %d %q %s", code, out, errOut)
	}
	m, ok = h.B.Bus.Pop(ctx, nil, false, false)
	if !ok || string(m.Payload) != "from a file" {
		t.Fatalf("B popped %+v", m)
	}
	if code, out, _ := runCLI(t, "message", "status", api, id); code != 0 || !strings.Contains(out, `"msgLen": 11`) {
		t.Errorf("status = %d %s", code, out)
	}

	// receive --raw, receive into a file, receive with nothing waiting.
	h.B.Bus.Push(messageFromB(h, "", "raw bytes"))
	if code, out, _ := runCLI(t, "message", "receive", api, "--timeout=10", "--raw"); code != 0 || out != "raw bytes" {
		t.Errorf("receive --raw = %d %q", code, out)
	}
	h.B.Bus.Push(messageFromB(h, "t2", "to a file"))
	dst := filepath.Join(t.TempDir(), "got")
	code, out, _ = runCLI(t, "message", "receive", api, "--timeout=10", "-t", "t2", "--msg-path", dst)
	got, _ := os.ReadFile(dst)
	if code != 0 || string(got) != "to a file" || !strings.Contains(out, `"topic": "t2"`) || strings.Contains(out, "payload") {
		t.Errorf("receive --msg-path = %d %s (file %q)", code, out, got)
	}
	if code, _, errOut := runCLI(t, "message", "receive", api, "--timeout=0"); code != 1 || !strings.Contains(errOut, "no message arrived") {
		t.Errorf("receive with nothing = %d %q", code, errOut)
	}

	// reply, both ways.
	in, _ := h.B.Bus.Push(messageFromB(h, "", "question"))
	runCLI(t, "message", "receive", api, "--timeout=10")
	if code, _, errOut := runCLI(t, "message", "reply", api, in.String(), pkB, "answer"); code != 0 {
		t.Fatalf("reply = %d %s", code, errOut)
	}
	code, _, errOut = runCLI(t, "message", "send", api, "--reply-to", in.String(), pkB, "again")
	if code != 1 || strings.TrimSpace(errOut) != "mycelium: this message was already replied to" {
		t.Fatalf("second reply = %d %q", code, errOut)
	}
	if m, ok := h.B.Bus.Pop(ctx, nil, false, false); !ok || !m.Reply || string(m.Payload) != "answer" || m.ID != in {
		t.Errorf("B popped %+v, want the reply", m)
	}
	in2, _ := h.B.Bus.Push(messageFromB(h, "", "second question"))
	runCLI(t, "message", "receive", api, "--timeout=10")
	if code, _, errOut := runCLI(t, "message", "send", api, "--reply-to", in2.String(), pkB, "again"); code != 0 {
		t.Fatalf("send --reply-to = %d %s", code, errOut)
	}
	if m, ok := h.B.Bus.Pop(ctx, nil, false, false); !ok || !m.Reply || string(m.Payload) != "again" || m.ID != in2 {
		t.Errorf("B popped %+v, want the reply", m)
	}

	// Errors read as sentences.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"message", "send", api, "nobody", "x"}, `destination "nobody" is neither a public key`},
		{[]string{"message", "status", api, "xyz"}, `message id "xyz": want 16 hex digits`},
		{[]string{"message", "status", api, "0000000000000000"}, "no outgoing message with id 0000000000000000"},
		{[]string{"message", "send", api, "-t", strings.Repeat("x", 300), pkB, "x"}, "topic is longer than 255 bytes"},
		{[]string{"peers", "list", "--api-addr=127.0.0.1:1"}, "cannot reach the node's API at 127.0.0.1:1: is the node running?"},
	} {
		code, _, errOut := runCLI(t, c.args...)
		if code != 1 || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "{") {
			t.Errorf("%v = %d %q; want a sentence containing %q", c.args, code, errOut, c.want)
		}
	}
}

func TestCLIToken(t *testing.T) {
	h := apitest.Start(t, func(c *api.Config) { c.Token = "tok" })
	code, _, errOut := runCLI(t, "peers", "list", "--api-addr="+h.Addr)
	if code != 1 || !strings.Contains(errOut, "missing or wrong API token") {
		t.Errorf("without token = %d %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "peers", "list", "--api-addr="+h.Addr, "--api-token=tok"); code != 0 {
		t.Errorf("with --api-token = %d %q", code, errOut)
	}
	t.Setenv("MYCELIUM_API_TOKEN", "tok")
	if code, _, errOut := runCLI(t, "peers", "list", "--api-addr="+h.Addr); code != 0 {
		t.Errorf("with MYCELIUM_API_TOKEN = %d %q", code, errOut)
	}
}

// TestCLILiveNode runs the client commands against the API of a real node
// peered with another real node over loopback TCP.
func TestCLILiveNode(t *testing.T) {
	h := apitest.StartLive(t, nil)
	api := "--api-addr=" + h.Addr
	code, out, errOut := runCLI(t, "peers", "list", api)
	if code != 0 || !strings.Contains(out, "127.0.0.1:") || !strings.Contains(out, "alive") {
		t.Errorf("peers list = %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "routes", "selected", api)
	if code != 0 || !strings.Contains(out, h.B.Key.Subnet().String()) {
		t.Errorf("routes selected = %d\n%s", code, out)
	}
	done := make(chan string, 1)
	go func() {
		_, out, errOut := runCLI(t, "message", "send", api, "-w", "--timeout=20", h.B.Addr().String(), "ping")
		done <- out + errOut
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	m, ok := h.B.Bus.Pop(ctx, nil, false, false)
	if !ok || string(m.Payload) != "ping" {
		t.Fatalf("B popped %+v", m)
	}
	h.B.Bus.Reply(m.ID, m.SrcIP, []byte("pong"))
	if got := <-done; !strings.Contains(got, `"payload": "pong"`) {
		t.Errorf("send --wait printed %s", got)
	}
}
