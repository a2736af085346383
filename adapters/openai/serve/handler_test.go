package serve

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mycelium-go/mycelium/adapters/openai/openaitest"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// unknownFieldsRequest carries members the adapter knows nothing about.
const unknownFieldsRequest = `{"model":"llama3.2","messages":[{"role":"user","content":"h\u00e9llo ✓"}],` +
	`"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{}}}}],` +
	`"tool_choice":"auto","logprobs":true,"top_logprobs":2,"x_vendor":{"a":[1,2.50,null]},  "seed":7}`

const unknownFieldsReply = `{"id":"chatcmpl-x","object":"chat.completion","created":1,"model":"llama3.2",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",` +
	`"function":{"name":"f","arguments":"{}"}}]},"logprobs":{"content":[]},"finish_reason":"tool_calls"}],` +
	`"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":0}},` +
	`"x_vendor_stats":{"eval_ms":12.5}}`

func TestChatPassesUnknownFieldsByteForByte(t *testing.T) {
	up := openaitest.NewUpstream(t, openaitest.UpstreamConfig{APIKey: "upstream-secret", ChatReply: []byte(unknownFieldsReply)})
	cfg := testConfig(up.URL)
	cfg.UpstreamKey = "upstream-secret"
	s := serveFor(t, cfg, peerA)

	req, _ := http.NewRequest(http.MethodPost, s.url+"/chat/completions", strings.NewReader(unknownFieldsRequest))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer callers-own-key")
	req.Header.Set("OpenAI-Beta", "assistants=v2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := readAll(t, resp)
	if resp.StatusCode != 200 || got != unknownFieldsReply {
		t.Fatalf("reply = %d %s\nwant 200 %s", resp.StatusCode, got, unknownFieldsReply)
	}
	sent := up.LastRequest()
	if string(sent.Body) != unknownFieldsRequest {
		t.Errorf("upstream got body\n%s\nwant\n%s", sent.Body, unknownFieldsRequest)
	}
	if a := sent.Header.Get("Authorization"); a != "Bearer upstream-secret" {
		t.Errorf("upstream Authorization = %q, want the upstream key only", a)
	}
	if b := sent.Header.Get("OpenAI-Beta"); b != "assistants=v2" {
		t.Errorf("upstream OpenAI-Beta = %q, want it passed through", b)
	}
	if n := metricValue(t, s.reg, "mycelium_openai_prompt_tokens_total", "peer", peerA.Key.String(), "model", "llama3.2"); n != 9 {
		t.Errorf("prompt tokens metric = %v, want 9", n)
	}
	if n := metricValue(t, s.reg, "mycelium_openai_completion_tokens_total", "peer", peerA.Key.String(), "model", "llama3.2"); n != 3 {
		t.Errorf("completion tokens metric = %v, want 3", n)
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

func TestCompletions(t *testing.T) {
	up := openaitest.NewUpstream(t, openaitest.UpstreamConfig{})
	s := serveFor(t, testConfig(up.URL), peerA)
	resp, body := post(t, s.url+"/completions", `{"model":"llama3.2","prompt":"Say hi"}`)
	var c struct {
		Object  string `json:"object"`
		Choices []struct {
			Text string `json:"text"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(body, &c); err != nil || resp.StatusCode != 200 || c.Object != "text_completion" || c.Choices[0].Text != "Hello from the fake upstream." {
		t.Fatalf("completions = %d %s (%v)", resp.StatusCode, body, err)
	}
}

func TestEmbeddings(t *testing.T) {
	up := openaitest.NewUpstream(t, openaitest.UpstreamConfig{})
	s := serveFor(t, testConfig(up.URL), peerA)
	for _, format := range []string{"float", "base64"} {
		t.Run(format, func(t *testing.T) {
			resp, body := post(t, s.url+"/embeddings", `{"model":"nomic-embed-text","input":["a","b"],"encoding_format":"`+format+`"}`)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var e struct {
				Data []struct {
					Embedding json.RawMessage `json:"embedding"`
				} `json:"data"`
			}
			if err := json.Unmarshal(body, &e); err != nil || len(e.Data) != 2 {
				t.Fatalf("embeddings body %s: %v", body, err)
			}
			for i, d := range e.Data {
				if diff := cmp.Diff(openaitest.Vector(i), decodeVector(t, d.Embedding)); diff != "" {
					t.Errorf("vector %d (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}

func decodeVector(t *testing.T, raw json.RawMessage) []float32 {
	t.Helper()
	var v []float32
	if json.Unmarshal(raw, &v) == nil {
		return v
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("embedding %s is neither floats nor base64", raw)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 embedding: %v", err)
	}
	for i := 0; i+4 <= len(b); i += 4 {
		v = append(v, math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))
	}
	return v
}

func TestModels(t *testing.T) {
	up := openaitest.NewUpstream(t, openaitest.UpstreamConfig{Models: []string{"llama3.2", "qwen2.5", "hf.co/org/model:Q4"}})
	cfg := testConfig(up.URL)
	cfg.Models = []string{"llama3.2", "hf.co/org/model:Q4", "not-installed"}
	s := serveFor(t, cfg, peerA)

	resp, err := http.Get(s.url + "/models")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Object string `json:"object"`
		Data   []struct {
			ID      string `json:"id"`
			OwnedBy string `json:"owned_by"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	if diff := cmp.Diff([]string{"llama3.2", "hf.co/org/model:Q4"}, ids); diff != "" || list.Object != "list" {
		t.Errorf("models (-want +got):\n%s (object %q)", diff, list.Object)
	}

	tests := []struct {
		id     string
		status int
	}{{"llama3.2", 200}, {"hf.co/org/model:Q4", 200}, {"qwen2.5", 404}, {"not-installed", 404}}
	for _, tc := range tests {
		resp, err := http.Get(s.url + "/models/" + tc.id)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("GET /v1/models/%s = %d %s, want %d", tc.id, resp.StatusCode, body, tc.status)
		}
		if tc.status == 404 {
			if _, _, code := apiError(t, []byte(body)); code != "model_not_found" {
				t.Errorf("GET /v1/models/%s code = %q, want model_not_found", tc.id, code)
			}
		}
	}
}

func TestModelsPassThroughWithoutAllowList(t *testing.T) {
	up := openaitest.NewUpstream(t, openaitest.UpstreamConfig{})
	s := serveFor(t, testConfig(up.URL), peerA)
	direct, err := http.Get(up.URL + "/models")
	if err != nil {
		t.Fatal(err)
	}
	want := readAll(t, direct)
	direct.Body.Close()
	resp, err := http.Get(s.url + "/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := readAll(t, resp); got != want {
		t.Errorf("models = %s, want the upstream's %s", got, want)
	}
}

func TestUnknownModel(t *testing.T) {
	up := openaitest.NewUpstream(t, openaitest.UpstreamConfig{})
	t.Run("allow-list", func(t *testing.T) {
		cfg := testConfig(up.URL)
		cfg.Models = []string{"llama3.2"}
		s := serveFor(t, cfg, peerA)
		resp, body := post(t, s.url+"/chat/completions", `{"model":"gpt-9","messages":[]}`)
		if _, typ, code := apiError(t, body); resp.StatusCode != 404 || code != "model_not_found" || typ != "invalid_request_error" {
			t.Errorf("unknown model = %d %s", resp.StatusCode, body)
		}
	})
	t.Run("upstream", func(t *testing.T) {
		s := serveFor(t, testConfig(up.URL), peerA)
		resp, body := post(t, s.url+"/chat/completions", `{"model":"gpt-9","messages":[]}`)
		if msg, _, _ := apiError(t, body); resp.StatusCode != 404 || !strings.Contains(msg, "gpt-9") {
			t.Errorf("unknown model = %d %s, want the upstream's 404", resp.StatusCode, body)
		}
		if n := metricValue(t, s.reg, "mycelium_openai_requests_total", "peer", peerA.Key.String(), "model", "unknown", "endpoint", "chat", "code", "404"); n != 1 {
			t.Errorf("404 metric under model \"unknown\" = %v, want 1", n)
		}
	})
}

func TestBadRequests(t *testing.T) {
	up := openaitest.NewUpstream(t, openaitest.UpstreamConfig{})
	cfg := testConfig(up.URL)
	cfg.MaxBodyBytes = 1000
	s := serveFor(t, cfg, peerA)
	tests := []struct {
		name, path, body string
		status           int
	}{
		{"malformed", "/chat/completions", `{"model":`, 400},
		{"array", "/chat/completions", `[]`, 400},
		{"no model", "/embeddings", `{"input":"x"}`, 400},
		{"too large", "/chat/completions", `{"model":"llama3.2","x":"` + strings.Repeat("a", 2000) + `"}`, 413},
		{"unknown path", "/images/generations", `{}`, 404},
	}
	for _, tc := range tests {
		resp, body := post(t, s.url+tc.path, tc.body)
		apiError(t, body)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d %s, want %d", tc.name, resp.StatusCode, body, tc.status)
		}
	}
	if n := len(up.Requests()); n != 0 {
		t.Errorf("upstream got %d requests, want none", n)
	}
}

func TestAccessByOrigin(t *testing.T) {
	up := openaitest.NewUpstream(t, openaitest.UpstreamConfig{})
	chat := `{"model":"llama3.2","messages":[{"role":"user","content":"hi"}]}`
	t.Run("loopback refused by default", func(t *testing.T) {
		s := serveOn(t, testConfig(up.URL), openaitest.LoopbackListener(t, "openai"))
		resp, body := post(t, s.url+"/chat/completions", chat)
		if _, typ, _ := apiError(t, body); resp.StatusCode != 403 || typ != "permission_error" {
			t.Errorf("loopback caller = %d %s, want 403", resp.StatusCode, body)
		}
	})
	t.Run("loopback allowed by setting", func(t *testing.T) {
		cfg := testConfig(up.URL)
		cfg.AllowLoopback = true
		s := serveOn(t, cfg, openaitest.LoopbackListener(t, "openai"))
		if resp, body := post(t, s.url+"/chat/completions", chat); resp.StatusCode != 200 {
			t.Errorf("loopback caller with allow_loopback = %d %s", resp.StatusCode, body)
		}
	})
	t.Run("overlay without key refused", func(t *testing.T) {
		s := serveFor(t, testConfig(up.URL), sdk.Peer{Origin: sdk.OriginOverlay})
		if resp, body := post(t, s.url+"/chat/completions", chat); resp.StatusCode != 403 {
			t.Errorf("keyless overlay caller = %d %s", resp.StatusCode, body)
		}
	})
}

func TestUpstreamUnreachable(t *testing.T) {
	s := serveFor(t, testConfig("http://127.0.0.1:1/v1"), peerA)
	resp, body := post(t, s.url+"/chat/completions", `{"model":"llama3.2","messages":[]}`)
	if _, _, code := apiError(t, body); resp.StatusCode != 502 || code != "upstream_unavailable" {
		t.Errorf("unreachable upstream = %d %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "127.0.0.1") {
		t.Errorf("502 body leaks the upstream address: %s", body)
	}
	r2, err := http.Get(s.url + "/models")
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 502 {
		t.Errorf("models with unreachable upstream: %d, want 502", r2.StatusCode)
	}
}

func TestUpstreamErrorPassesThrough(t *testing.T) {
	up := openaitest.NewUpstream(t, openaitest.UpstreamConfig{Status: 503, RetryAfter: "7"})
	s := serveFor(t, testConfig(up.URL), peerA)
	resp, body := post(t, s.url+"/chat/completions", `{"model":"llama3.2","messages":[]}`)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "7" {
		t.Errorf("upstream 503 = %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	apiError(t, body)
}
