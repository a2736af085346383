package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mycelium-go/mycelium/core/api"
	"github.com/mycelium-go/mycelium/core/api/apitest"
)

func TestMain(m *testing.M) {
	// net/http lingers up to 500 ms on a connection it answered early
	// (a 413 before reading the body); that goroutine is its own.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("net/http.(*conn).closeWriteAndWait"))
}

// call sends a REST request to the harness and returns status and body.
func call(t *testing.T, h *apitest.Harness, method, path, body string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, "http://"+h.Addr+"/api/v1"+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestPushPopReplyREST(t *testing.T) {
	h := apitest.Start(t, nil)
	topic := b64("chat")
	body := `{"dst":{"pk":"` + h.B.Key.Public().String() + `"},"topic":"` + topic + `","payload":"` + b64("hello") + `"}`
	type result struct {
		code int
		body string
	}
	done := make(chan result, 1)
	go func() {
		code, b := call(t, h, "POST", "/messages?reply_timeout=10", body)
		done <- result{code, b}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	m, ok := h.B.Bus.Pop(ctx, []byte("chat"), true, false)
	if !ok || string(m.Payload) != "hello" {
		t.Fatalf("B popped %+v, %v", m, ok)
	}
	if err := h.B.Bus.Reply(m.ID, m.SrcIP, []byte("world")); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.code != http.StatusOK {
		t.Fatalf("push with reply_timeout = %d %s", r.code, r.body)
	}
	var in api.InboundMessage
	if err := json.Unmarshal([]byte(r.body), &in); err != nil {
		t.Fatal(err)
	}
	if string(in.Payload) != "world" || in.ID != m.ID.String() || in.SrcPK != h.B.Key.Public().String() || in.DstIP != h.A.Addr().String() {
		t.Errorf("reply = %+v", in)
	}
	if strings.Contains(r.body, `"topic"`) {
		t.Errorf("reply without topic has a topic field: %s", r.body)
	}

	// Status of the pushed message, then a push that times out (408).
	code, st := call(t, h, "GET", "/messages/status/"+m.ID.String(), "")
	if code != http.StatusOK || !strings.Contains(st, `"dst":"`+h.B.Addr().String()+`"`) {
		t.Errorf("status = %d %s", code, st)
	}
	code, b := call(t, h, "POST", "/messages?reply_timeout=0", body)
	if code != http.StatusRequestTimeout || !strings.Contains(b, `"id"`) {
		t.Errorf("push with reply_timeout=0 = %d %s", code, b)
	}
}

func TestPopREST(t *testing.T) {
	h := apitest.Start(t, nil)
	if code, _ := call(t, h, "GET", "/messages", ""); code != http.StatusNoContent {
		t.Fatalf("empty pop = %d", code)
	}
	if _, err := h.B.Bus.Push(messageTo(h, "x", "one")); err != nil {
		t.Fatal(err)
	}
	code, body := call(t, h, "GET", "/messages?timeout=5&peek=true&topic="+url.QueryEscape(b64("x")), "")
	if code != http.StatusOK || !strings.Contains(body, `"payload":"`+b64("one")+`"`) || !strings.Contains(body, `"topic":"`+b64("x")+`"`) {
		t.Fatalf("peek = %d %s", code, body)
	}
	if code, _ := call(t, h, "GET", "/messages?topic="+url.QueryEscape(b64("y")), ""); code != http.StatusNoContent {
		t.Fatalf("pop of another topic = %d", code)
	}
	if code, _ := call(t, h, "GET", "/messages", ""); code != http.StatusOK {
		t.Fatalf("pop = %d", code)
	}
	for _, q := range []string{"peek=maybe", "timeout=-1", "topic=%25%25"} {
		if code, body := call(t, h, "GET", "/messages?"+q, ""); code != http.StatusBadRequest || body == "" {
			t.Errorf("GET /messages?%s = %d %q", q, code, body)
		}
	}
}

func TestReplyREST(t *testing.T) {
	h := apitest.Start(t, nil)
	id, err := h.B.Bus.Push(messageTo(h, "", "question"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, ok := h.A.Bus.Pop(ctx, nil, false, true); !ok {
		t.Fatal("no message")
	}
	code, body := call(t, h, "POST", "/messages/reply/"+id.String(), `{"dst":{"ip":"`+h.B.Addr().String()+`"},"payload":"`+b64("answer")+`"}`)
	if code != http.StatusNoContent {
		t.Fatalf("reply = %d %s", code, body)
	}
	m, ok := h.B.Bus.Pop(ctx, nil, false, false)
	if !ok || !m.Reply || string(m.Payload) != "answer" || m.ID != id {
		t.Fatalf("B got %+v", m)
	}
	if code, _ := call(t, h, "POST", "/messages/reply/xyz", `{"dst":{"ip":"400::1"},"payload":""}`); code != http.StatusBadRequest {
		t.Errorf("reply to a bad id = %d", code)
	}
}

func TestPeersREST(t *testing.T) {
	h := apitest.Start(t, nil)
	if code, body := call(t, h, "POST", "/admin/peers", `{"endpoint":"tcp://192.0.2.7:9651"}`); code != http.StatusNoContent {
		t.Fatalf("add = %d %s", code, body)
	}
	code, body := call(t, h, "POST", "/admin/peers", `{"endpoint":"tcp://192.0.2.7:9651"}`)
	if code != http.StatusConflict || strings.TrimSpace(body) != "peer tcp://192.0.2.7:9651 already exists" {
		t.Errorf("add twice = %d %q", code, body)
	}
	if code, body := call(t, h, "POST", "/admin/peers", `{"endpoint":"udp://x"}`); code != http.StatusBadRequest || !strings.Contains(body, "not a valid peer endpoint") {
		t.Errorf("add bad = %d %q", code, body)
	}
	if code, body := call(t, h, "DELETE", "/admin/peers/"+url.PathEscape("tcp://192.0.2.7:9651"), ""); code != http.StatusNoContent {
		t.Errorf("delete = %d %s", code, body)
	}
	if code, _ := call(t, h, "DELETE", "/admin/peers/"+url.PathEscape("tcp://192.0.2.7:9651"), ""); code != http.StatusNotFound {
		t.Errorf("delete twice = %d", code)
	}
	code, body = call(t, h, "GET", "/admin/peers", "")
	want := `[{"endpoint":{"proto":"tcp","addr":{"socket":"192.0.2.6:9651"}},"type":"static","connectionState":"alive","txBytes":464531564,"rxBytes":64645089,"discovered":3600,"lastConnected":12}]`
	if code != http.StatusOK || strings.TrimSpace(body) != want {
		t.Errorf("peers = %d %s\nwant %s", code, body, want)
	}
}

func TestTopicsREST(t *testing.T) {
	h := apitest.Start(t, nil)
	topic := url.PathEscape(b64("a/b+c?")) // base64 with / and +
	steps := []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"GET", "/messages/topics/default", "", 200, `{"accept":true}`},
		{"PUT", "/messages/topics/default", `{"accept":false}`, 204, ""},
		{"GET", "/messages/topics/default", "", 200, `{"accept":false}`},
		{"POST", "/messages/topics", `[97,47,98,43,99,63]`, 201, ""},
		{"GET", "/messages/topics", "", 200, `["` + b64("a/b+c?") + `"]`},
		{"GET", "/messages/topics/" + topic + "/sources", "", 200, `[]`},
		{"GET", "/messages/topics/" + url.PathEscape(b64("nope")) + "/sources", "", 404, ""},
		{"POST", "/messages/topics/" + topic + "/sources", `{"subnet":"400::/7"}`, 201, ""},
		{"POST", "/messages/topics/" + topic + "/sources", `{"subnet":"5f1::1"}`, 201, ""},
		{"POST", "/messages/topics/" + topic + "/sources", `{"subnet":"nope"}`, 400, ""},
		{"GET", "/messages/topics/" + topic + "/sources", "", 200, `["400::/7","5f1::1/128"]`},
		{"DELETE", "/messages/topics/" + topic + "/sources/" + url.PathEscape("400::/7"), "", 204, ""},
		{"GET", "/messages/topics/" + topic + "/sources", "", 200, `["5f1::1/128"]`},
		{"GET", "/messages/topics/" + topic + "/forward", "", 200, `null`},
		{"PUT", "/messages/topics/" + topic + "/forward", `{"socketPath":"/run/x.sock"}`, 204, ""},
		{"GET", "/messages/topics/" + topic + "/forward", "", 200, `"/run/x.sock"`},
		{"DELETE", "/messages/topics/" + topic + "/forward", "", 204, ""},
		{"GET", "/messages/topics/" + topic + "/forward", "", 200, `null`},
		{"DELETE", "/messages/topics/" + topic, "", 204, ""},
		{"GET", "/messages/topics", "", 200, `[]`},
		{"DELETE", "/messages/topics/%25%25", "", 400, ""},
	}
	for _, s := range steps {
		code, body := call(t, h, s.method, s.path, s.body)
		if code != s.code || (s.want != "" && strings.TrimSpace(body) != s.want) {
			t.Errorf("%s %s %s = %d %s; want %d %s", s.method, s.path, s.body, code, body, s.code, s.want)
		}
	}
}

func TestAdminREST(t *testing.T) {
	h := apitest.Start(t, nil)
	tests := []struct {
		path string
		code int
		want string
	}{
		{"/admin", 200, `"nodePubkey":"` + h.A.Key.Public().String() + `"`},
		{"/admin/routes/selected", 200, `"metric":13`},
		{"/admin/routes/fallback", 200, `"metric":"infinite"`},
		{"/admin/routes/queried", 200, `"expiration":"37"`},
		{"/admin/stats/packets", 200, `"bySource":[{"ip":"469:1348:ab0c:a1d8::1","packetCount":1234,"byteCount":567890}]`},
		{"/pubkey/" + h.B.Addr().String(), 200, `{"publicKey":"` + h.B.Key.Public().String() + `"}`},
		{"/pubkey/400::1", 404, ""},
		{"/pubkey/not-an-ip", 400, ""},
		{"/admin/proxy", 200, `[]`},
		{"/admin/proxy/probe", 204, ""},
	}
	for _, tt := range tests {
		code, body := call(t, h, "GET", tt.path, "")
		if code != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("GET %s = %d %s; want %d containing %s", tt.path, code, body, tt.code, tt.want)
		}
	}
	for _, c := range []struct {
		method, path, body string
		code               int
	}{
		{"POST", "/admin/proxy", `{"remote":null}`, 404},
		{"POST", "/admin/proxy", `{"remote":"[2001:db8::1]:1080"}`, 404},
		{"POST", "/admin/proxy", `{"remote":"nope"}`, 400},
		{"DELETE", "/admin/proxy", "", 204},
		{"DELETE", "/admin/proxy/probe", "", 204},
	} {
		if code, body := call(t, h, c.method, c.path, c.body); code != c.code {
			t.Errorf("%s %s = %d %s; want %d", c.method, c.path, code, body, c.code)
		}
	}
}

// bodyEndpoints are every REST endpoint that reads a JSON body.
var bodyEndpoints = []struct{ method, path string }{
	{"POST", "/admin/peers"},
	{"POST", "/admin/proxy"},
	{"POST", "/messages"},
	{"POST", "/messages?reply_timeout=1"},
	{"POST", "/messages/reply/0123456789abcdef"},
	{"PUT", "/messages/topics/default"},
	{"POST", "/messages/topics"},
	{"POST", "/messages/topics/dGVzdA==/sources"},
	{"PUT", "/messages/topics/dGVzdA==/forward"},
}

func TestMalformedJSON(t *testing.T) {
	h := apitest.Start(t, nil)
	// Not JSON at all, for every endpoint that reads a body.
	bad := []string{`{`, `{"endpoint":`, `nope`, `[1,2`, `"\u00"`, "{}{}", "\x00", `{"a":1,}`}
	for _, e := range bodyEndpoints {
		for _, body := range bad {
			code, msg := call(t, h, e.method, e.path, body)
			if code != http.StatusBadRequest || strings.TrimSpace(msg) == "" {
				t.Errorf("%s %s with %q = %d %q; want 400 with a message", e.method, e.path, body, code, msg)
			}
		}
	}
	// JSON of the wrong shape.
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/admin/peers", `{"endpoint":5}`},
		{"POST", "/admin/peers", `[]`},
		{"POST", "/admin/proxy", `{"remote":5}`},
		{"POST", "/messages", `{"dst":{"ip":"x"},"payload":""}`},
		{"POST", "/messages", `{"dst":{"ip":"400::1","pk":"00"},"payload":""}`},
		{"POST", "/messages", `{"dst":{"ip":"400::1"},"payload":"!!"}`},
		{"POST", "/messages", `{"dst":{},"payload":""}`},
		{"POST", "/messages", `{"payload":""}`},
		{"POST", "/messages/reply/0123456789abcdef", `{"dst":"400::1","payload":""}`},
		{"PUT", "/messages/topics/default", `{"accept":"yes"}`},
		{"PUT", "/messages/topics/default", `{}`},
		{"POST", "/messages/topics", `[300]`},
		{"POST", "/messages/topics", `"dGVzdA=="`},
		{"POST", "/messages/topics/dGVzdA==/sources", `{"subnet":[]}`},
		{"PUT", "/messages/topics/dGVzdA==/forward", `{"socketPath":1}`},
		{"PUT", "/messages/topics/dGVzdA==/forward", `{"socket_path":"/x"}`},
	} {
		code, msg := call(t, h, c.method, c.path, c.body)
		if code != http.StatusBadRequest || strings.TrimSpace(msg) == "" {
			t.Errorf("%s %s with %q = %d %q; want 400 with a message", c.method, c.path, c.body, code, msg)
		}
	}
	if code, _ := call(t, h, "GET", "/admin", ""); code != http.StatusOK {
		t.Fatalf("API not serving after malformed requests: %d", code)
	}
}

func TestBodyTooLarge(t *testing.T) {
	h := apitest.Start(t, func(c *api.Config) { c.MaxMessageSize = 1000 })
	payload := bytes.Repeat([]byte("A"), 200<<10)
	code, msg := call(t, h, "POST", "/messages", `{"dst":{"ip":"400::1"},"payload":"`+string(payload)+`"}`)
	if code != http.StatusRequestEntityTooLarge || msg == "" {
		t.Errorf("oversized push = %d %q", code, msg)
	}
}

func TestGatewayRoutes(t *testing.T) {
	h := apitest.Start(t, nil)
	err := h.Server.Handle("GET /api/v1/gateway/hello", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "hi")
	}))
	if err != nil {
		t.Fatal(err)
	}
	if code, body := call(t, h, "GET", "/gateway/hello", ""); code != 200 || body != "hi" {
		t.Errorf("gateway route = %d %q", code, body)
	}
	// The gateway mounts a whole subtree.
	if err := h.Server.Handle("/api/v1/gateway/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "tree:"+r.URL.Path)
	})); err != nil {
		t.Fatal(err)
	}
	if code, body := call(t, h, "POST", "/gateway/reload", ""); code != 200 || body != "tree:/api/v1/gateway/reload" {
		t.Errorf("gateway subtree = %d %q", code, body)
	}
	if err := h.Server.Handle("GET /api/v1/admin/x", http.NotFoundHandler()); err == nil {
		t.Error("route outside /api/v1/gateway/ accepted")
	}
	if err := h.Server.Handle("GET /api/v1/gateway/hello", http.NotFoundHandler()); err == nil {
		t.Error("duplicate route accepted")
	}
}

func TestAuth(t *testing.T) {
	cfg := api.Default()
	cfg.Addr = "0.0.0.0:8989"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("non-loopback without token: %v", err)
	}
	cfg.Addr, cfg.RPCAddr = "127.0.0.1:8989", "[::]:8990"
	if err := cfg.Validate(); err == nil {
		t.Fatal("non-loopback JSON-RPC without token accepted")
	}
	for _, a := range []string{"localhost:1", "[::1]:1", "127.0.0.2:1"} {
		c := api.Default()
		c.Addr = a
		if err := c.Validate(); err != nil {
			t.Errorf("loopback %s refused: %v", a, err)
		}
	}

	h := apitest.Start(t, func(c *api.Config) { c.Token = "s3cret" })
	for _, tc := range []struct {
		auth string
		code int
	}{{"", 401}, {"Bearer wrong", 401}, {"Basic s3cret", 401}, {"Bearer s3cret", 200}, {"bearer s3cret", 200}} {
		for _, target := range []struct{ url, method, body string }{
			{"http://" + h.Addr + "/api/v1/admin", "GET", ""},
			{"http://" + h.RPCAddr + "/", "POST", `{"jsonrpc":"2.0","id":1,"method":"getInfo"}`},
		} {
			req, _ := http.NewRequestWithContext(t.Context(), target.method, target.url, strings.NewReader(target.body))
			req.Header.Set("Content-Type", "application/json")
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Errorf("%s with %q = %d, want %d", target.url, tc.auth, resp.StatusCode, tc.code)
			}
		}
	}
	c := api.NewClient(h.Addr, "s3cret")
	if _, err := c.Info(t.Context()); err != nil {
		t.Errorf("client with token: %v", err)
	}
	_, err := api.NewClient(h.Addr, "").Info(t.Context())
	if err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("client without token: %v", err)
	}
}
