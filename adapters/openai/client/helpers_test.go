package client

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mycelium-go/mycelium/adapters/openai/openaitest"
	"github.com/mycelium-go/mycelium/adapters/openai/serve"
	"github.com/mycelium-go/mycelium/adapters/openai/wire"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

const (
	servePort = 8080
	testKey   = "sk-local-test-key"
)

// aiNode is a mesh node running the serve role in front of a fake upstream.
type aiNode struct {
	*openaitest.Node
	up *openaitest.Upstream
}

// startAINode adds a node to mesh whose serve role listens on servePort.
func startAINode(t *testing.T, mesh *openaitest.Mesh, seed byte, upCfg openaitest.UpstreamConfig, tune func(*serve.Config)) aiNode {
	t.Helper()
	n := mesh.AddNode(seed)
	up := openaitest.NewUpstream(t, upCfg)
	u, _ := url.Parse(up.URL)
	cfg := serve.Config{Upstream: u, InjectStreamUsage: true, MaxBodyBytes: 1 << 20}
	if tune != nil {
		tune(&cfg)
	}
	h, err := serve.New(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("serve.New: %v", err)
	}
	srv := &http.Server{Handler: h, ConnContext: sdk.ConnContext}
	ln := n.Listen(servePort, "openai")
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); h.Close() })
	return aiNode{Node: n, up: up}
}

func testConfig(nodes ...*openaitest.Node) Config {
	cfg := Config{
		APIKey: testKey, Port: servePort,
		RefreshInterval: time.Minute, ModelsTTL: 10 * time.Minute,
		DialTimeout: 2 * time.Second, HealthTimeout: 2 * time.Second,
		MaxBodyBytes: 1 << 20,
	}
	for _, n := range nodes {
		cfg.Nodes = append(cfg.Nodes, Node{Key: n.Key})
	}
	return cfg
}

type local struct {
	h   *Handler
	reg *prometheus.Registry
	url string // base URL with /v1
}

// startLocal runs the client role for host on a loopback listener, with
// its background checker.
func startLocal(t *testing.T, host sdk.Host, cfg Config) local {
	t.Helper()
	reg := prometheus.NewRegistry()
	h, err := New(cfg, host, slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.metricMaxAge = 0
	ln := openaitest.LoopbackListener(t, "openai-local")
	srv := &http.Server{Handler: h, ConnContext: sdk.ConnContext}
	go srv.Serve(ln)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close(); h.Close() })
	return local{h: h, reg: reg, url: "http://" + ln.Addr().String() + "/v1"}
}

func do(t *testing.T, ctx context.Context, method, url, key, body string) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp
}

// call does a request with the test key and returns the status and body.
func call(t *testing.T, method, url, body string) (*http.Response, []byte) {
	t.Helper()
	resp := do(t, t.Context(), method, url, testKey, body)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return resp, b
}

func apiError(t *testing.T, body []byte) (msg, typ, code string) {
	t.Helper()
	var e struct {
		Error *struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == nil || e.Error.Message == "" {
		t.Fatalf("not an OpenAI error body: %s (%v)", body, err)
	}
	if e.Error.Code != nil {
		code = *e.Error.Code
	}
	return e.Error.Message, e.Error.Type, code
}

func modelIDs(t *testing.T, body []byte) []string {
	t.Helper()
	var list struct {
		Object string `json:"object"`
		Data   []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil || list.Object != "list" {
		t.Fatalf("not a model list: %s (%v)", body, err)
	}
	ids := []string{}
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	return ids
}

func discard() *slog.Logger        { return slog.New(slog.DiscardHandler) }
func newReg() *prometheus.Registry { return prometheus.NewRegistry() }

// counter returns the value of a counter or gauge of l's registry.
func counter(t *testing.T, l local, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := l.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return 0
}

// sdkMsg builds the announcement message to the client role's node.
func sdkMsg(a wire.Announcement, h *Handler) sdk.OutboundMessage {
	return sdk.OutboundMessage{Dst: h.host.(*openaitest.Node).Key, Topic: []byte(wire.AnnounceTopic), Payload: a.Encode()}
}

func inbound(src sdk.PublicKey, payload []byte) sdk.InboundMessage {
	return sdk.InboundMessage{ID: "0000000000000001", Src: src, Topic: []byte(wire.AnnounceTopic), Payload: payload}
}
