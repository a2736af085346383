package client

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mycelium-go/mycelium/adapters/openai/openaitest"
	"github.com/mycelium-go/mycelium/adapters/openai/serve"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

const chat = `{"model":"llama3.2","messages":[{"role":"user","content":"hi"}]}`

func TestAuth(t *testing.T) {
	mesh := openaitest.NewMesh()
	a := mesh.AddNode(1)
	b := startAINode(t, mesh, 2, openaitest.UpstreamConfig{}, nil)
	l := startLocal(t, a, testConfig(b.Node))
	tests := []struct {
		name, key string
		status    int
	}{
		{"missing", "", 401},
		{"wrong", "sk-wrong", 401},
		{"right", testKey, 200},
	}
	for _, tc := range tests {
		resp := do(t, t.Context(), http.MethodPost, l.url+"/chat/completions", tc.key, chat)
		var body [4096]byte
		n, _ := resp.Body.Read(body[:])
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s key: status %d %s, want %d", tc.name, resp.StatusCode, body[:n], tc.status)
		}
		if tc.status == 401 {
			if _, _, code := apiError(t, body[:n]); code != "invalid_api_key" || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s key: 401 body %s, WWW-Authenticate %q", tc.name, body[:n], resp.Header.Get("WWW-Authenticate"))
			}
		}
	}
	if got := len(b.up.Requests()); got != 2 { // the health check's model list, and the one admitted chat
		t.Errorf("upstream saw %d requests, want 2", got)
	}
	if auth := b.up.LastRequest().Header.Get("Authorization"); auth != "" {
		t.Errorf("the local key reached the upstream: %q", auth)
	}
}

func TestNoAuthMustBeExplicit(t *testing.T) {
	mesh := openaitest.NewMesh()
	a := mesh.AddNode(1)
	cfg := testConfig()
	cfg.APIKey = ""
	if _, err := New(cfg, a, nil, nil); err == nil {
		t.Fatal("New accepted a config without key, without no_auth (or nil deps)")
	}
	b := startAINode(t, mesh, 2, openaitest.UpstreamConfig{}, nil)
	cfg = testConfig(b.Node)
	cfg.APIKey, cfg.NoAuth = "", true
	l := startLocal(t, a, cfg)
	resp := do(t, t.Context(), http.MethodPost, l.url+"/chat/completions", "", chat)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("no_auth: status %d, want 200", resp.StatusCode)
	}
}

func TestOverlayCallersRefused(t *testing.T) {
	mesh := openaitest.NewMesh()
	a := mesh.AddNode(1)
	h, err := New(testConfig(), a, discard(), newReg())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ConnContext: sdk.ConnContext}
	ln := openaitest.OverlayListener(t, sdk.Peer{Key: openaitest.KeyOf(9)})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	resp := do(t, t.Context(), http.MethodGet, "http://"+ln.Addr().String()+"/v1/models", testKey, "")
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("overlay caller: status %d, want 403", resp.StatusCode)
	}
}

func TestModelsMergedAcrossNodes(t *testing.T) {
	mesh := openaitest.NewMesh()
	a := mesh.AddNode(1)
	b := startAINode(t, mesh, 2, openaitest.UpstreamConfig{Models: []string{"llama3.2", "shared"}}, nil)
	c := startAINode(t, mesh, 3, openaitest.UpstreamConfig{Models: []string{"qwen2.5", "shared"}}, nil)
	l := startLocal(t, a, testConfig(b.Node, c.Node))

	resp, body := call(t, http.MethodGet, l.url+"/models", "")
	if resp.StatusCode != 200 {
		t.Fatalf("models: %d %s", resp.StatusCode, body)
	}
	if diff := cmp.Diff([]string{"llama3.2", "qwen2.5", "shared"}, modelIDs(t, body)); diff != "" {
		t.Errorf("merged models (-want +got):\n%s", diff)
	}
	resp, body = call(t, http.MethodGet, l.url+"/models/qwen2.5", "")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"owned_by":"library"`) {
		t.Errorf("GET model: %d %s, want the node's raw entry", resp.StatusCode, body)
	}
	resp, body = call(t, http.MethodGet, l.url+"/models/nope", "")
	if _, _, code := apiError(t, body); resp.StatusCode != 404 || code != "model_not_found" {
		t.Errorf("GET unknown model: %d %s", resp.StatusCode, body)
	}

	_, body = call(t, http.MethodGet, strings.TrimSuffix(l.url, "/v1")+"/mycelium/nodes", "")
	var st struct {
		Nodes []NodeStatus `json:"nodes"`
	}
	if err := json.Unmarshal(body, &st); err != nil || len(st.Nodes) != 2 {
		t.Fatalf("status: %s (%v)", body, err)
	}
	if diff := cmp.Diff([]string{"qwen2.5", "shared"}, st.Nodes[1].Models); diff != "" || !st.Nodes[1].Up {
		t.Errorf("node C status %+v (-want +got models):\n%s", st.Nodes[1], diff)
	}

	// Each request goes to the node that has its model.
	if resp, body := call(t, http.MethodPost, l.url+"/chat/completions", `{"model":"qwen2.5","messages":[]}`); resp.StatusCode != 200 {
		t.Fatalf("chat qwen2.5: %d %s", resp.StatusCode, body)
	}
	if last := c.up.LastRequest(); last.Path != "/v1/chat/completions" {
		t.Errorf("node C's upstream last saw %s, want the chat", last.Path)
	}
	if resp, body := call(t, http.MethodPost, l.url+"/chat/completions", chat); resp.StatusCode != 200 {
		t.Fatalf("chat llama3.2: %d %s", resp.StatusCode, body)
	}
	if last := b.up.LastRequest(); last.Path != "/v1/chat/completions" {
		t.Errorf("node B's upstream last saw %s, want the chat", last.Path)
	}
}

func TestPrefersLowestRouteMetric(t *testing.T) {
	mesh := openaitest.NewMesh()
	a := mesh.AddNode(1)
	b := startAINode(t, mesh, 2, openaitest.UpstreamConfig{}, nil)
	c := startAINode(t, mesh, 3, openaitest.UpstreamConfig{}, nil)
	a.SetMetric(b.Addr, 300)
	a.SetMetric(c.Addr, 100)
	l := startLocal(t, a, testConfig(b.Node, c.Node))
	chats := func(up *openaitest.Upstream) int {
		n := 0
		for _, r := range up.Requests() {
			if r.Path == "/v1/chat/completions" {
				n++
			}
		}
		return n
	}
	for range 3 {
		call(t, http.MethodPost, l.url+"/chat/completions", chat)
	}
	if chats(c.up) != 3 || chats(b.up) != 0 {
		t.Errorf("metric C<B: B got %d chats, C %d; want all on C", chats(b.up), chats(c.up))
	}
	a.SetMetric(b.Addr, 50)
	call(t, http.MethodPost, l.url+"/chat/completions", chat)
	if chats(b.up) != 1 {
		t.Errorf("after the metric to B dropped, B got %d chats, want 1", chats(b.up))
	}
}

func TestFailoverWhenFirstNodeRefuses(t *testing.T) {
	mesh := openaitest.NewMesh()
	a := mesh.AddNode(1)
	b := startAINode(t, mesh, 2, openaitest.UpstreamConfig{}, nil)
	c := startAINode(t, mesh, 3, openaitest.UpstreamConfig{}, nil)
	a.SetMetric(b.Addr, 10)
	a.SetMetric(c.Addr, 20)
	l := startLocal(t, a, testConfig(b.Node, c.Node))
	call(t, http.MethodGet, l.url+"/models", "") // both nodes up, B preferred
	l.h.http.CloseIdleConnections()
	b.Allow(servePort) // B now refuses every connection

	resp, body := call(t, http.MethodPost, l.url+"/chat/completions", chat)
	if resp.StatusCode != 200 {
		t.Fatalf("chat with B refusing: %d %s, want 200 from C", resp.StatusCode, body)
	}
	if c.up.LastRequest().Path != "/v1/chat/completions" {
		t.Error("C did not get the chat")
	}
	for _, n := range l.h.reg.status() {
		if n.Key == b.Key.String() && n.Up {
			t.Error("B still marked up after a refused dial")
		}
	}
	if got := counter(t, l, "mycelium_openai_client_failovers_total", "node", b.Key.String(), "reason", "dial"); got != 1 {
		t.Errorf("failovers from B = %v, want 1", got)
	}
}

func TestFailoverOnBusyNode(t *testing.T) {
	mesh := openaitest.NewMesh()
	a := mesh.AddNode(1)
	b := startAINode(t, mesh, 2, openaitest.UpstreamConfig{Status: 503}, nil)
	c := startAINode(t, mesh, 3, openaitest.UpstreamConfig{}, nil)
	a.SetMetric(b.Addr, 10)
	a.SetMetric(c.Addr, 20)
	l := startLocal(t, a, testConfig(b.Node, c.Node))
	if resp, body := call(t, http.MethodPost, l.url+"/chat/completions", chat); resp.StatusCode != 200 {
		t.Fatalf("chat with B answering 503: %d %s, want 200 from C", resp.StatusCode, body)
	}
}

func TestRateLimitPassesThrough(t *testing.T) {
	mesh := openaitest.NewMesh()
	a := mesh.AddNode(1)
	b := startAINode(t, mesh, 2, openaitest.UpstreamConfig{}, func(c *serve.Config) {
		c.DefaultLimit = serve.Limit{RequestsPerMinute: 1}
	})
	l := startLocal(t, a, testConfig(b.Node))
	call(t, http.MethodPost, l.url+"/chat/completions", chat)
	resp, body := call(t, http.MethodPost, l.url+"/chat/completions", chat)
	if _, _, code := apiError(t, body); resp.StatusCode != 429 || code != "rate_limit_exceeded" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over B's limit: %d %s Retry-After %q", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
}

func TestUnknownAndMalformed(t *testing.T) {
	mesh := openaitest.NewMesh()
	a := mesh.AddNode(1)
	b := startAINode(t, mesh, 2, openaitest.UpstreamConfig{}, nil)
	l := startLocal(t, a, testConfig(b.Node))
	tests := []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"unknown model", "/chat/completions", `{"model":"gpt-9","messages":[]}`, 404, "model_not_found"},
		{"malformed", "/chat/completions", `{"model":"llama3.2",`, 400, "invalid_json"},
		{"not an object", "/embeddings", `["x"]`, 400, "invalid_json"},
		{"unknown path", "/audio/speech", `{}`, 404, "unknown_url"},
	}
	for _, tc := range tests {
		resp, body := call(t, http.MethodPost, l.url+tc.path, tc.body)
		if _, _, code := apiError(t, body); resp.StatusCode != tc.status || code != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, resp.StatusCode, body, tc.status, tc.code)
		}
	}
}

func TestAllNodesRefuse502(t *testing.T) {
	mesh := openaitest.NewMesh()
	a := mesh.AddNode(1)
	b := startAINode(t, mesh, 2, openaitest.UpstreamConfig{}, nil)
	b.Allow(servePort, openaitest.KeyOf(7)) // A is outside B's policy
	l := startLocal(t, a, testConfig(b.Node))
	for _, tc := range []struct{ method, path, body string }{
		{http.MethodGet, "/models", ""},
		{http.MethodPost, "/chat/completions", chat},
	} {
		resp, body := call(t, tc.method, l.url+tc.path, tc.body)
		if _, typ, code := apiError(t, body); resp.StatusCode != 502 || typ != "server_error" || code != "upstream_unavailable" {
			t.Errorf("%s %s: %d %s, want 502 upstream_unavailable", tc.method, tc.path, resp.StatusCode, body)
		}
	}
	if len(b.up.Requests()) != 0 {
		t.Error("a refused peer reached B's upstream")
	}
}

func TestUnknownFieldsRoundTripThroughMesh(t *testing.T) {
	const req = `{"model":"llama3.2","messages":[{"role":"user","content":"\u2713"}],"tools":[{"type":"function","function":{"name":"f"}}],"logprobs":true,"x_custom":{"k":[1,2]}}`
	const reply = `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},"logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2},"x_server":true}`
	mesh := openaitest.NewMesh()
	a := mesh.AddNode(1)
	b := startAINode(t, mesh, 2, openaitest.UpstreamConfig{ChatReply: []byte(reply)}, nil)
	l := startLocal(t, a, testConfig(b.Node))
	resp, body := call(t, http.MethodPost, l.url+"/chat/completions", req)
	if resp.StatusCode != 200 || string(body) != reply {
		t.Errorf("reply = %d %s\nwant %s", resp.StatusCode, body, reply)
	}
	if got := string(b.up.LastRequest().Body); got != req {
		t.Errorf("upstream got %s\nwant %s", got, req)
	}
}

func TestEmbeddingsThroughMesh(t *testing.T) {
	mesh := openaitest.NewMesh()
	a := mesh.AddNode(1)
	b := startAINode(t, mesh, 2, openaitest.UpstreamConfig{}, nil)
	l := startLocal(t, a, testConfig(b.Node))
	for _, format := range []string{"float", "base64"} {
		resp, body := call(t, http.MethodPost, l.url+"/embeddings", `{"model":"nomic-embed-text","input":"x","encoding_format":"`+format+`"}`)
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"embedding":`) {
			t.Errorf("%s embeddings: %d %s", format, resp.StatusCode, body)
		}
		if format == "base64" && !strings.Contains(string(body), `"embedding":"`) {
			t.Errorf("base64 embeddings came back as %s", body)
		}
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header, token string
		ok            bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc ", "abc", true},
		{"BEARER abc", "abc", true},
		{"Bearer ", "", false},
		{"Basic abc", "", false},
		{"Bearerabc", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		if tok, ok := bearerToken(tc.header); tok != tc.token || ok != tc.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tc.header, tok, ok, tc.token, tc.ok)
		}
	}
}
