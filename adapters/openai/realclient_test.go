package openai

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/adapters/openai/openaitest"
)

const expectText = "Hello from the fake upstream."

// curl runs curl with the local key and returns its output.
func curl(t *testing.T, args ...string) string {
	t.Helper()
	args = append([]string{"-sS", "--fail-with-body", "-H", "Authorization: Bearer " + localKey}, args...)
	out, err := exec.CommandContext(t.Context(), "curl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed (apt-get install curl)")
	}
	const delay = 100 * time.Millisecond
	p := startPair(t, openaitest.UpstreamConfig{FrameDelay: delay}, "")

	if out := curl(t, p.local+"/models"); !strings.Contains(out, `"id":"llama3.2"`) {
		t.Errorf("curl models: %s", out)
	}
	out := curl(t, "-H", "Content-Type: application/json", "-d", `{"model":"llama3.2","messages":[{"role":"user","content":"hi"}]}`, p.local+"/chat/completions")
	if !strings.Contains(out, expectText) {
		t.Errorf("curl chat: %s", out)
	}

	t.Run("stream", func(t *testing.T) {
		body := `{"model":"llama3.2","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
		cmd := exec.CommandContext(t.Context(), "curl", "-sS", "-N", "-H", "Authorization: Bearer "+localKey,
			"-H", "Content-Type: application/json", "-d", body, p.local+"/chat/completions")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var lines []string
		var firstContent time.Duration
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			lines = append(lines, line)
			if firstContent == 0 && strings.Contains(line, `"content":"Hello"`) {
				firstContent = time.Since(start)
			}
		}
		total := time.Since(start)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("curl stream: %v", err)
		}
		if firstContent == 0 || firstContent > total/2 {
			t.Errorf("first content after %v of %v: want it before half the total (frames must not be buffered)", firstContent, total)
		}
		if n := len(lines); n < 2 || lines[n-1] != "" || lines[n-2] != "data: [DONE]" {
			t.Errorf("stream does not end in data: [DONE] and a blank line: %q", lines)
		}
		usage := false
		for _, l := range lines {
			if strings.HasPrefix(l, "data: ") && strings.Contains(l, `"choices":[]`) && strings.Contains(l, `"completion_tokens":6`) {
				usage = true
			}
			if l != "" && !strings.HasPrefix(l, "data: ") {
				t.Errorf("line %q is not SSE data framing", l)
			}
		}
		if !usage {
			t.Errorf("no usage chunk with include_usage:\n%s", strings.Join(lines, "\n"))
		}
		t.Logf("curl stream: first content after %v, total %v", firstContent, total)
	})
}

// TestOpenAINodeClient runs the official openai npm client (v6, pinned in
// testdata/js/package-lock.json) against the client role.
func TestOpenAINodeClient(t *testing.T) {
	for _, prog := range []string{"node", "npm"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("%s not installed (apt-get install nodejs npm; Node 20 or later)", prog)
		}
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "js"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openai")); err != nil {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("npm ci in %s failed (offline?): %v\n%s", dir, err, out)
		}
	}
	p := startPair(t, openaitest.UpstreamConfig{FrameDelay: 5 * time.Millisecond}, "")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "client.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"OPENAI_BASE_URL="+p.local, "OPENAI_API_KEY="+localKey,
		"CHAT_MODEL=llama3.2", "EMBED_MODEL=nomic-embed-text", "EXPECT_TEXT="+expectText)
	out, err := cmd.CombinedOutput()
	t.Logf("node client.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("openai npm client: %v", err)
	}
	if !strings.Contains(string(out), "all checks passed") {
		t.Fatal("the script did not finish")
	}
}
