package openai

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/adapters/openai/openaitest"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

const localKey = "sk-mesh-local"

// runPlugin configures a plugin with settings and host and serves service
// on ln until the end of the test.
func runPlugin(t testing.TB, settings string, host sdk.Host, service string, ln net.Listener) *Plugin {
	t.Helper()
	p := New("test", nil)
	if err := p.Configure(t.Context(), sdk.Config{Settings: json.RawMessage(settings)}, host); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	serveIn(t, p, service, ln)
	return p
}

// serveIn runs p.Serve(service, ln) until the end of the test.
func serveIn(t testing.TB, p *Plugin, service string, ln net.Listener) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, service, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve(%s) = %v after its context ended", service, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve(%s) did not return after its context ended", service)
		}
	})
}

// meshPair is node A running the client role and node B running the serve
// role over a fake upstream, in one fake mesh.
type meshPair struct {
	mesh  *openaitest.Mesh
	a, b  *openaitest.Node
	pb    *Plugin // B's plugin
	up    *openaitest.Upstream
	local string // A's local base URL, with /v1
}

func startPair(t testing.TB, upCfg openaitest.UpstreamConfig, serveExtra string) meshPair {
	t.Helper()
	mesh := openaitest.NewMesh()
	a, b := mesh.AddNode(1), mesh.AddNode(2)
	up := openaitest.NewUpstream(t, upCfg)
	b.Allow(DefaultServePort, a.Key) // B's policy for the service admits A
	pb := runPlugin(t, `{"serve":{"upstream":"`+up.URL+`"`+serveExtra+`}}`, b, ServiceServe, b.Listen(DefaultServePort, ServiceServe))
	ln := openaitest.LoopbackListener(t, ServiceLocal)
	runPlugin(t, `{"client":{"api_key":"`+localKey+`","nodes":["`+b.Key.String()+`"]}}`, a, ServiceLocal, ln)
	return meshPair{mesh: mesh, a: a, b: b, pb: pb, up: up, local: "http://" + ln.Addr().String() + "/v1"}
}

func request(t testing.TB, method, url, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+localKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return resp, string(b)
}

func TestTwoNodes(t *testing.T) {
	p := startPair(t, openaitest.UpstreamConfig{}, `,"models":["llama3.2","nomic-embed-text"]`)

	resp, body := request(t, http.MethodGet, p.local+"/models", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"llama3.2"`) || !strings.Contains(body, `"nomic-embed-text"`) {
		t.Fatalf("models on A: %d %s", resp.StatusCode, body)
	}
	resp, body = request(t, http.MethodPost, p.local+"/chat/completions", `{"model":"llama3.2","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || !strings.Contains(body, "Hello from the fake upstream.") {
		t.Fatalf("chat via A: %d %s", resp.StatusCode, body)
	}
	resp, body = request(t, http.MethodPost, p.local+"/chat/completions", `{"model":"llama3.2","stream":true,"messages":[]}`)
	if resp.StatusCode != 200 || !strings.HasSuffix(body, "data: [DONE]\n\n") || strings.Contains(body, `"choices":[]`) {
		t.Fatalf("stream via A: %d %s", resp.StatusCode, body)
	}

	// B's serve role counted A's usage under A's key: the identity crossed
	// the mesh with the connection.
	if m := p.metricsOfB(t); !strings.Contains(m, `mycelium_openai_completion_tokens_total{model="llama3.2",peer="`+p.a.Key.String()+`"} 12`) {
		t.Errorf("B's metrics lack A's 12 completion tokens:\n%s", m)
	}
}

// metricsOfB reads B's /metrics through a loopback listener of B's serve
// service (the plugin serves /metrics to loopback callers only).
func (p meshPair) metricsOfB(t testing.TB) string {
	t.Helper()
	ln := openaitest.LoopbackListener(t, ServiceServe)
	serveIn(t, p.pb, ServiceServe, ln)
	resp, body := request(t, http.MethodGet, "http://"+ln.Addr().String()+"/metrics", "")
	if resp.StatusCode != 200 {
		t.Fatalf("B's /metrics: %d %s", resp.StatusCode, body)
	}
	return body
}

func TestPeerOutsidePolicyGets502(t *testing.T) {
	mesh := openaitest.NewMesh()
	a, b := mesh.AddNode(1), mesh.AddNode(2)
	friend := mesh.AddNode(3)
	up := openaitest.NewUpstream(t, openaitest.UpstreamConfig{})
	b.Allow(DefaultServePort, friend.Key) // the gateway admits only friend
	runPlugin(t, `{"serve":{"upstream":"`+up.URL+`"}}`, b, ServiceServe, b.Listen(DefaultServePort, ServiceServe))
	ln := openaitest.LoopbackListener(t, ServiceLocal)
	runPlugin(t, `{"client":{"api_key":"`+localKey+`","nodes":["`+b.Key.String()+`"]}}`, a, ServiceLocal, ln)
	base := "http://" + ln.Addr().String() + "/v1"

	resp, body := request(t, http.MethodPost, base+"/chat/completions", `{"model":"llama3.2","messages":[]}`)
	var e struct {
		Error struct {
			Message, Type string
			Code          *string
			Param         *string
		}
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || resp.StatusCode != 502 || e.Error.Type != "server_error" ||
		e.Error.Code == nil || *e.Error.Code != "upstream_unavailable" || !strings.Contains(body, `"param":null`) {
		t.Fatalf("refused peer: %d %s, want a 502 in OpenAI's shape", resp.StatusCode, body)
	}
	if n := len(up.Requests()); n != 0 {
		t.Errorf("B's upstream saw %d requests from a refused peer", n)
	}
	if a.Dials() == 0 {
		t.Error("A never dialled B")
	}
}

func TestMetricsLoopbackOnly(t *testing.T) {
	mesh := openaitest.NewMesh()
	b := mesh.AddNode(2)
	up := openaitest.NewUpstream(t, openaitest.UpstreamConfig{})
	settings := `{"serve":{"upstream":"` + up.URL + `"}}`
	overlay := openaitest.OverlayListener(t, sdk.Peer{Key: openaitest.KeyOf(1), Service: ServiceServe})
	p := runPlugin(t, settings, b, ServiceServe, overlay)
	resp, body := request(t, http.MethodGet, "http://"+overlay.Addr().String()+"/metrics", "")
	if resp.StatusCode != 403 {
		t.Errorf("/metrics from the overlay: %d %s, want 403", resp.StatusCode, body)
	}
	loop := openaitest.LoopbackListener(t, ServiceServe)
	serveIn(t, p, ServiceServe, loop)
	resp, body = request(t, http.MethodGet, "http://"+loop.Addr().String()+"/metrics", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") ||
		!strings.Contains(body, "# TYPE mycelium_openai_in_flight_requests gauge") {
		t.Errorf("/metrics from loopback: %d %q\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

func TestRoleNotConfigured(t *testing.T) {
	ln := openaitest.LoopbackListener(t, ServiceLocal)
	runPlugin(t, `{}`, openaitest.NewMesh().AddNode(1), ServiceLocal, ln)
	resp, body := request(t, http.MethodGet, "http://"+ln.Addr().String()+"/v1/models", "")
	if resp.StatusCode != 503 || !strings.Contains(body, "not_configured") {
		t.Errorf("unconfigured client role: %d %s", resp.StatusCode, body)
	}
}

func TestDescribeAndLifecycle(t *testing.T) {
	p := New("v1", nil)
	d, err := p.Describe(t.Context())
	if err != nil || d.Name != "openai" || len(d.Services) != 2 {
		t.Fatalf("Describe = %+v, %v", d, err)
	}
	for _, s := range d.Services {
		switch s.Name {
		case ServiceServe:
			if s.Port != 8080 || s.LoopbackPort != 0 {
				t.Errorf("serve role ports %+v: want overlay 8080 and no loopback", s)
			}
		case ServiceLocal:
			if s.Port != 0 || s.LoopbackPort != 11435 {
				t.Errorf("client role ports %+v: want loopback 11435 and no overlay", s)
			}
		}
	}
	if err := p.Serve(t.Context(), ServiceServe, nil); err == nil {
		t.Error("Serve before Configure succeeded")
	}
	if err := p.Configure(t.Context(), sdk.Config{Settings: json.RawMessage(`{"client":{"api_key":"k","nodse":[]}}`)}, nil); err == nil {
		t.Error("Configure accepted a misspelled field")
	}
	if err := p.Configure(t.Context(), sdk.Config{}, nil); err != nil {
		t.Fatalf("Configure with no settings: %v", err)
	}
	if err := p.Configure(t.Context(), sdk.Config{}, nil); err == nil {
		t.Error("second Configure succeeded")
	}
	if err := p.Serve(t.Context(), "nope", nil); err == nil {
		t.Error("Serve of an unknown service succeeded")
	}
}
