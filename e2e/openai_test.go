package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/adapters/openai/openaitest"
)

const (
	// openaiKey is the client role's local API key.
	openaiKey = "sk-e2e-mesh"
	// openaiLocal is the client role's base URL on its node's loopback.
	openaiLocal = "http://127.0.0.1:11435/v1"
	// upstreamText is what the fake upstream generates.
	upstreamText = "Hello from the fake upstream."
	// frameDelay is the fake upstream's pause between streamed frames.
	frameDelay = 100 * time.Millisecond
)

// helperEnv, set in a re-executed test binary's environment, names the
// helper it runs (TestHelper*) instead of the suite.
const helperEnv = "E2E_HELPER"

// TestHelperOpenAIUpstream is not a test: re-executed inside a node's
// namespace with E2E_HELPER=openai-upstream, it serves the fake
// OpenAI-compatible model server of adapters/openai/openaitest on that
// namespace's loopback, prints "upstream <base URL>" and runs until
// SIGTERM.
func TestHelperOpenAIUpstream(t *testing.T) {
	if os.Getenv(helperEnv) != "openai-upstream" {
		t.Skip("helper process of TestOpenAIOverMesh (runs in a node's namespace)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	u := openaitest.NewUpstream(t, openaitest.UpstreamConfig{FrameDelay: frameDelay})
	fmt.Printf("upstream %s\n", u.URL)
	<-ctx.Done()
}

// startUpstream runs TestHelperOpenAIUpstream in ns and returns the fake
// upstream's base URL.
func startUpstream(l *lab, ns *netns) string {
	l.t.Helper()
	self, err := os.Executable()
	if err != nil {
		l.t.Fatal(err)
	}
	p := l.start(ns, "upstream"+ns.short, "env", helperEnv+"=openai-upstream",
		self, "-test.run=^TestHelperOpenAIUpstream$", "-test.count=1")
	waitOutput(l.t, p, "upstream http://", 15*time.Second)
	for _, line := range strings.Split(p.output(), "\n") {
		if url, ok := strings.CutPrefix(line, "upstream "); ok {
			return strings.TrimSpace(url)
		}
	}
	l.t.Fatalf("no upstream URL in:\n%s", p.output())
	return ""
}

// openaiServeConfig runs the openai plugin's serve role in front of
// upstream and lets the keys in allow use it.
func openaiServeConfig(t *testing.T, upstream string, allow ...string) string {
	t.Helper()
	return pluginTOML(t, "openai", fmt.Sprintf(`[plugin.settings.serve]
upstream = %q
`, upstream)) + policyTOML("openai", allow...)
}

// openaiClientConfig runs the openai plugin's client role for the node
// with key server; it checks the node's models every second.
func openaiClientConfig(t *testing.T, server string) string {
	t.Helper()
	return pluginTOML(t, "openai", fmt.Sprintf(`[plugin.settings.client]
api_key = %q
nodes = [%q]
refresh_interval = "1s"
`, openaiKey, server))
}

// TestOpenAIOverMesh: node B (kernel TUN) runs the openai serve role in
// front of a fake model server on its loopback; node A (userspace
// netstack) runs the client role naming B. From A's namespace curl and the
// official openai npm client use http://127.0.0.1:11435/v1 and reach the
// model through the mesh: model list, chat, a stream whose frames arrive
// one by one and end in [DONE]. Node C runs the client role too, but B's
// [policy.openai] does not name it: C's apps get 502 in OpenAI's error
// shape.
func TestOpenAIOverMesh(t *testing.T) {
	l := newLab(t)
	requireTools(t, "curl")
	nsA, nsB, nsC := l.namespace("A"), l.namespace("B"), l.namespace("C")
	ab, cb := l.connect(nsA, nsB), l.connect(nsC, nsB)
	a, b, c := l.prepareNode(nsA), l.prepareNode(nsB), l.prepareNode(nsC)
	upstream := startUpstream(l, nsB)
	l.launch(b, nodeConfig{Config: openaiServeConfig(t, upstream, a.pub)})
	l.launch(a, nodeConfig{Device: "netstack", Config: openaiClientConfig(t, b.pub), Peers: []string{tcpPeer(ab.addrB)}})
	l.launch(c, nodeConfig{Config: openaiClientConfig(t, b.pub), Peers: []string{tcpPeer(cb.addrB)}})
	c.waitReachable(t, b.addr, 20*time.Second)
	b.waitReachable(t, a.addr, 20*time.Second)
	for _, n := range []*node{a, b, c} {
		n.waitPlugin(t, "openai")
	}

	// The client role checks B's models every second: wait for them.
	start := time.Now()
	var models string
	for ; time.Since(start) < 20*time.Second; time.Sleep(100 * time.Millisecond) {
		models, _ = nsA.try(10*time.Second, "curl", "-sS", "-H", "Authorization: Bearer "+openaiKey, openaiLocal+"/models")
		if strings.Contains(models, `"id":"llama3.2"`) {
			break
		}
	}
	t.Logf("A's client role lists B's models %v after the plugins ran: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(models))

	t.Run("curl", func(t *testing.T) {
		if !strings.Contains(models, `"id":"llama3.2"`) || !strings.Contains(models, `"id":"nomic-embed-text"`) {
			t.Fatalf("A's /v1/models: %s", models)
		}
		begin := time.Now()
		out, err := nsA.try(30*time.Second, "curl", "-sS", "--fail-with-body", "-H", "Authorization: Bearer "+openaiKey,
			"-H", "Content-Type: application/json", "-d", `{"model":"llama3.2","messages":[{"role":"user","content":"hi"}]}`,
			openaiLocal+"/chat/completions")
		if err != nil || !strings.Contains(out, upstreamText) {
			t.Fatalf("chat through A: %v\n%s", err, out)
		}
		t.Logf("chat completion through the mesh: %v (curl process included)", time.Since(begin).Round(time.Millisecond))
	})

	t.Run("curl-stream", func(t *testing.T) {
		body := `{"model":"llama3.2","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
		events, err := curlEvents(t, nsA, "-H", "Authorization: Bearer "+openaiKey, "-H", "Content-Type: application/json",
			"-d", body, openaiLocal+"/chat/completions")
		if err != nil {
			t.Fatal(err)
		}
		openaitest.AssertIncremental(t, events, frameDelay)
		var text strings.Builder
		usage := false
		for _, e := range events {
			data := strings.TrimSpace(strings.TrimPrefix(e.Frame, "data: "))
			var chunk struct {
				Choices []struct {
					Delta struct{ Content string } `json:"delta"`
				} `json:"choices"`
				Usage *struct {
					CompletionTokens int `json:"completion_tokens"`
				} `json:"usage"`
			}
			if data == "[DONE]" || json.Unmarshal([]byte(data), &chunk) != nil {
				continue
			}
			for _, ch := range chunk.Choices {
				text.WriteString(ch.Delta.Content)
			}
			if len(chunk.Choices) == 0 && chunk.Usage != nil && chunk.Usage.CompletionTokens > 0 {
				usage = true
			}
		}
		last := events[len(events)-1]
		if last.Frame != "data: [DONE]\n\n" {
			t.Errorf("stream ends in %q, want data: [DONE]", last.Frame)
		}
		if text.String() != upstreamText || !usage {
			t.Errorf("stream text %q (want %q), usage chunk %v", text.String(), upstreamText, usage)
		}
		t.Logf("stream through the mesh: first frame %v, first content %v (the upstream waits %v before it), [DONE] %v, %d frames",
			events[0].At.Round(100*time.Microsecond), events[1].At.Round(100*time.Microsecond), frameDelay,
			last.At.Round(time.Millisecond), len(events))
	})

	t.Run("openai-npm", func(t *testing.T) {
		dir := npmClient(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := nsA.command(ctx, "env", "OPENAI_BASE_URL="+openaiLocal, "OPENAI_API_KEY="+openaiKey,
			"CHAT_MODEL=llama3.2", "EMBED_MODEL=nomic-embed-text", "EXPECT_TEXT="+upstreamText,
			"node", filepath.Join(dir, "client.mjs"))
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		t.Logf("node client.mjs in A's namespace:\n%s", out)
		if err != nil || !strings.Contains(string(out), "all checks passed") {
			t.Fatalf("openai npm client through the mesh: %v", err)
		}
	})

	t.Run("not-in-policy", func(t *testing.T) {
		out, err := nsC.try(30*time.Second, "curl", "-sS", "-w", "\n%{http_code}", "-H", "Authorization: Bearer "+openaiKey,
			"-H", "Content-Type: application/json", "-d", `{"model":"llama3.2","messages":[{"role":"user","content":"hi"}]}`,
			openaiLocal+"/chat/completions")
		if err != nil {
			t.Fatalf("curl on C: %v\n%s", err, out)
		}
		i := strings.LastIndexByte(out, '\n')
		body, status := strings.TrimSpace(out[:i+1]), strings.TrimSpace(out[i+1:])
		var e struct {
			Error struct {
				Message string  `json:"message"`
				Type    string  `json:"type"`
				Code    *string `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
			t.Errorf("C's answer is not in OpenAI's error shape (%v): %s", err, body)
		}
		if status != "502" || e.Error.Code == nil || *e.Error.Code != "upstream_unavailable" {
			t.Errorf("C (not in B's [policy.openai]): HTTP %s %s, want 502 upstream_unavailable", status, body)
		}
		p, _ := b.gatewayStatus(t).plugin("openai")
		svc, _ := p.service("openai")
		t.Logf("C got HTTP %s %s; B's openai service: accepted %d, refused %d", status, body, svc.Accepted, svc.Refused)
		if svc.Refused == 0 {
			t.Errorf("B's gateway status shows no refused openai connection")
		}
	})
	for _, n := range []*node{a, b, c} {
		n.alive(t)
	}
}

// curlEvents runs `curl -sS -N args...` in ns and times every
// server-sent-events frame as it arrives on curl's stdout.
func curlEvents(t *testing.T, ns *netns, args ...string) ([]openaitest.Event, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := ns.command(ctx, append([]string{"curl", "-sS", "-N", "--fail-with-body"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	events, rerr := openaitest.ReadEvents(stdout, start)
	if err := cmd.Wait(); err != nil || rerr != nil {
		return events, fmt.Errorf("curl stream: %v, %v: %s (events %q)", err, rerr, stderr.String(), events)
	}
	if len(events) < 4 {
		return events, fmt.Errorf("curl stream: only %d events: %q", len(events), events)
	}
	return events, nil
}

// npmClient prepares the openai npm client script of
// adapters/openai/testdata/js in a private directory (`npm ci` there, so
// that it never races the adapter's own test installing into its
// directory) and returns the directory. It skips t without node and npm,
// or when npm cannot install (offline without a cache).
func npmClient(t *testing.T) string {
	t.Helper()
	requireTools(t, "node", "npm")
	src := filepath.Join("..", "adapters", "openai", "testdata", "js")
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "client.mjs"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--prefer-offline", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("e2e: npm ci of the openai client failed (offline?): %v\n%s", err, out)
	}
	return dir
}
