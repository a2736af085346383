package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mycelium-go/mycelium/core/api"
	"github.com/mycelium-go/mycelium/core/api/apitest"
)

// FuzzRESTBodies sends arbitrary bodies to every endpoint that reads one:
// the answer is never a 5xx, and a 400 carries a message.
func FuzzRESTBodies(f *testing.F) {
	seeds := []string{
		`{"endpoint":"tcp://192.0.2.1:9651"}`, `{"remote":null}`, `{"accept":true}`, `[116,101,115,116]`,
		`{"subnet":"400::/7"}`, `{"socketPath":"/x"}`, `{"dst":{"ip":"400::1"},"topic":"dA==","payload":"aGk="}`,
		`{"dst":{"pk":"` + strings.Repeat("ab", 32) + `"},"payload":""}`, `{`, `[300]`, `null`, ``,
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	h := apitest.Start(f, nil)
	handler := h.Server.Handler()
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		e := bodyEndpoints[int(which)%len(bodyEndpoints)]
		path := strings.Replace(e.path, "reply_timeout=1", "reply_timeout=0", 1)
		req := httptest.NewRequest(e.method, "/api/v1"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		// 503 is the bus refusing more concurrent pushes: an answer, not a fault.
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s with %q = %d %s", e.method, path, body, rec.Code, rec.Body)
		}
		if rec.Code == http.StatusBadRequest && strings.TrimSpace(rec.Body.String()) == "" {
			t.Fatalf("%s %s with %q: 400 without a message", e.method, path, body)
		}
	})
}

// FuzzRPC sends arbitrary JSON-RPC bodies: never a 5xx.
func FuzzRPC(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"getInfo"}`,
		`{"jsonrpc":"2.0","id":1,"method":"popMessage","params":[true,0,"dA=="]}`,
		`{"jsonrpc":"2.0","id":1,"method":"addTopicSource","params":{"topic":"dA==","subnet":"400::/7"}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"getTopics"}]`, `{`, `[]`,
	} {
		f.Add(s)
	}
	h := apitest.Start(f, nil)
	handler := h.Server.RPCHandler()
	f.Fuzz(func(t *testing.T, body string) {
		if strings.Contains(body, "pushMessage") {
			return // a waiting push would block the fuzzer
		}
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%q = %d %s", body, rec.Code, rec.Body)
		}
	})
}

// FuzzJSONTypes decodes arbitrary JSON into the API's request types and
// re-encodes what decoded.
func FuzzJSONTypes(f *testing.F) {
	for _, s := range []string{`{"ip":"400::1"}`, `{"pk":"00"}`, `[1,2,3]`, `"infinite"`, `7`, `{"sending":{"pending":1}}`, `"read"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var d api.MessageDestination
		if json.Unmarshal([]byte(s), &d) == nil {
			if _, err := json.Marshal(d); err != nil {
				t.Fatal(err)
			}
		}
		var tb api.TopicBytes
		if json.Unmarshal([]byte(s), &tb) == nil {
			b, _ := json.Marshal(tb)
			var back api.TopicBytes
			if err := json.Unmarshal(b, &back); err != nil || string(back) != string(tb) {
				t.Fatalf("TopicBytes round trip %q: %v", s, err)
			}
		}
		var m api.Metric
		if json.Unmarshal([]byte(s), &m) == nil {
			json.Marshal(m)
		}
		var st api.TransmissionState
		if json.Unmarshal([]byte(s), &st) == nil {
			json.Marshal(st)
		}
	})
}
