package serve

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mycelium-go/mycelium/adapters/openai/openaitest"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

var (
	peerA = sdk.Peer{Key: openaitest.KeyOf(1), Origin: sdk.OriginOverlay, Service: "openai"}
	peerB = sdk.Peer{Key: openaitest.KeyOf(2), Origin: sdk.OriginOverlay, Service: "openai"}
)

func testConfig(upstream string) Config {
	u, err := url.Parse(upstream)
	if err != nil {
		panic(err)
	}
	return Config{Upstream: u, InjectStreamUsage: true, MaxBodyBytes: 1 << 20}
}

type served struct {
	h   *Handler
	reg *prometheus.Registry
	url string // base URL with /v1
}

// serveOn runs a Handler for cfg on ln.
func serveOn(t *testing.T, cfg Config, ln net.Listener) served {
	t.Helper()
	reg := prometheus.NewRegistry()
	h, err := New(cfg, slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := &http.Server{Handler: h, ConnContext: sdk.ConnContext}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); h.Close() })
	return served{h: h, reg: reg, url: "http://" + ln.Addr().String() + "/v1"}
}

// serveFor runs a Handler whose every caller is peer p.
func serveFor(t *testing.T, cfg Config, p sdk.Peer) served {
	return serveOn(t, cfg, openaitest.OverlayListener(t, p))
}

func post(t *testing.T, url, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp, b
}

// apiError decodes an OpenAI-shaped error body, failing the test if the
// shape is wrong.
func apiError(t *testing.T, body []byte) (msg, typ, code string) {
	t.Helper()
	var e struct {
		Error *struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Code    *string `json:"code"`
			Param   *string `json:"param"`
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

func streamRequest(t *testing.T, ctx context.Context, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	return resp
}

// metricValue returns the value of the counter or gauge name with exactly
// the given labels, or 0.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	want := make(map[string]string)
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(want) {
				continue
			}
			for _, lp := range m.GetLabel() {
				if want[lp.GetName()] != lp.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return 0
}
