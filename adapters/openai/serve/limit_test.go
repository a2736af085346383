package serve

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/adapters/openai/openaitest"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestLimiterRequests(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	l := newLimiter(Limit{RequestsPerMinute: 3}, map[string]Limit{"vip": {RequestsPerMinute: 100}}, clk.now)
	for i := range 3 {
		if ok, _, _ := l.allow("p"); !ok {
			t.Fatalf("request %d refused within the budget", i)
		}
	}
	ok, wait, which := l.allow("p")
	if ok || which != "requests" || wait <= 0 || wait > 20*time.Second {
		t.Fatalf("4th request: ok %v, wait %v, %q; want refused for up to 20s on requests", ok, wait, which)
	}
	if ok, _, _ := l.allow("other"); !ok {
		t.Error("another peer was limited by p's use")
	}
	for i := range 50 {
		if ok, _, _ := l.allow("vip"); !ok {
			t.Fatalf("vip request %d refused: per-key override ignored", i)
		}
	}
	clk.advance(wait)
	if ok, _, _ := l.allow("p"); !ok {
		t.Error("request refused after waiting Retry-After")
	}
}

func TestLimiterTokens(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	l := newLimiter(Limit{TokensPerMinute: 600}, nil, clk.now)
	if ok, _, _ := l.allow("p"); !ok {
		t.Fatal("first request refused")
	}
	l.charge("p", 900) // 300 tokens of debt
	ok, wait, which := l.allow("p")
	if ok || which != "tokens" {
		t.Fatalf("in debt: ok %v %q, want refused on tokens", ok, which)
	}
	if want := 30 * time.Second; wait < want || wait > want+time.Second {
		t.Errorf("wait = %v, want about %v (300 tokens at 10/s)", wait, want)
	}
	clk.advance(wait + time.Millisecond)
	if ok, _, _ := l.allow("p"); !ok {
		t.Error("refused after the debt was repaid")
	}
	l.charge("p", 1_000_000)
	_, wait, _ = l.allow("p")
	if wait > 61*time.Second {
		t.Errorf("wait after a huge response = %v, want the debt capped at one minute", wait)
	}
	clk.advance(5 * time.Minute)
	l.allow("q") // sweeps
	if _, ok := l.peers["p"]; ok {
		t.Error("idle peer not swept")
	}
}

func TestRateLimit429(t *testing.T) {
	up := openaitest.NewUpstream(t, openaitest.UpstreamConfig{})
	cfg := testConfig(up.URL)
	cfg.DefaultLimit = Limit{RequestsPerMinute: 2}
	cfg.PeerLimits = map[string]Limit{peerB.Key.String(): {RequestsPerMinute: 10}}
	s := serveFor(t, cfg, peerA)
	b := serveOn(t, cfg, openaitest.OverlayListener(t, peerB))
	chat := `{"model":"llama3.2","messages":[{"role":"user","content":"hi"}]}`
	for i := range 2 {
		if resp, body := post(t, s.url+"/chat/completions", chat); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, body := post(t, s.url+"/chat/completions", chat)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("3rd request: %d %s, want 429", resp.StatusCode, body)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 30 {
		t.Errorf("Retry-After = %q, want 1..30 seconds", resp.Header.Get("Retry-After"))
	}
	if _, typ, code := apiError(t, body); typ != "requests" || code != "rate_limit_exceeded" {
		t.Errorf("429 body %s", body)
	}
	if n := metricValue(t, s.reg, "mycelium_openai_rate_limited_total", "peer", peerA.Key.String(), "limit", "requests"); n != 1 {
		t.Errorf("rate-limited metric = %v, want 1", n)
	}
	for i := range 5 {
		if resp, body := post(t, b.url+"/chat/completions", chat); resp.StatusCode != 200 {
			t.Fatalf("peer B (override 10/min) request %d: %d %s", i, resp.StatusCode, body)
		}
	}
	if got := len(up.Requests()); got != 7 {
		t.Errorf("upstream saw %d requests, want 7 (the refused one never reaches it)", got)
	}
}

func TestTokenLimit429(t *testing.T) {
	up := openaitest.NewUpstream(t, openaitest.UpstreamConfig{})
	cfg := testConfig(up.URL)
	cfg.DefaultLimit = Limit{TokensPerMinute: 5}
	s := serveFor(t, cfg, peerA)
	chat := `{"model":"llama3.2","messages":[{"role":"user","content":"hi"}]}`
	if resp, body := post(t, s.url+"/chat/completions", chat); resp.StatusCode != 200 {
		t.Fatalf("first request: %d %s", resp.StatusCode, body)
	}
	resp, body := post(t, s.url+"/chat/completions", chat)
	if _, typ, _ := apiError(t, body); resp.StatusCode != 429 || typ != "tokens" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over the token budget: %d %s Retry-After %q", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
}
