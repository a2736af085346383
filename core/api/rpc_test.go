package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mycelium-go/mycelium/core/api"
	"github.com/mycelium-go/mycelium/core/api/apitest"
)

type rpcResponse struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// rpc posts one JSON-RPC request body to path and decodes the answer.
func rpcRaw(t *testing.T, h *apitest.Harness, path, body string) (int, rpcResponse) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", "http://"+h.RPCAddr+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r rpcResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("answer %q: %v", b, err)
	}
	return resp.StatusCode, r
}

func rpc(t *testing.T, h *apitest.Harness, method string, params string) rpcResponse {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"` + method + `"`
	if params != "" {
		body += `,"params":` + params
	}
	_, r := rpcRaw(t, h, "/", body+"}")
	return r
}

func TestRPCMethods(t *testing.T) {
	h := apitest.Start(t, nil)
	pkB := h.B.Key.Public().String()
	tests := []struct {
		method, params string
		want           string // substring of the result
		code           int    // expected error code, 0 for success
	}{
		{"getInfo", "", `"nodeIp":"` + h.A.Addr().String() + `"`, 0},
		{"getPeers", "[]", `"connectionState":"alive"`, 0},
		{"addPeer", `["tcp://192.0.2.9:9651"]`, `true`, 0},
		{"addPeer", `["tcp://192.0.2.9:9651"]`, ``, -32010},
		{"addPeer", `["nope"]`, ``, -32009},
		{"deletePeer", `["tcp://192.0.2.9:9651"]`, `true`, 0},
		{"deletePeer", `["tcp://192.0.2.9:9651"]`, ``, -32011},
		{"deletePeer", `["nope"]`, ``, -32012},
		{"getSelectedRoutes", "", `"metric":13`, 0},
		{"getFallbackRoutes", "", `"metric":"infinite"`, 0},
		{"getQueriedSubnets", "", `"expiration":"37"`, 0},
		{"getPacketStatistics", "", `"byDestination"`, 0},
		{"getPublicKeyFromIp", `["` + h.B.Addr().String() + `"]`, `"` + pkB + `"`, 0},
		{"getPublicKeyFromIp", `{"mycelium_ip":"` + h.B.Addr().String() + `"}`, `"` + pkB + `"`, 0},
		{"getPublicKeyFromIp", `["400::1"]`, ``, -32008},
		{"getPublicKeyFromIp", `["x"]`, ``, -32007},
		{"getProxies", "", `[]`, 0},
		{"connectProxy", `[null]`, ``, -32032},
		{"connectProxy", ``, ``, -32032},
		{"disconnectProxy", "", `true`, 0},
		{"startProxyProbe", "", `true`, 0},
		{"stopProxyProbe", "", `true`, 0},
		{"getDefaultTopicAction", "", `true`, 0},
		{"setDefaultTopicAction", `[false]`, `true`, 0},
		{"getDefaultTopicAction", "", `false`, 0},
		{"addTopic", `["dGVzdA=="]`, `true`, 0},
		{"addTopic", `["%%"]`, ``, -32021},
		{"getTopics", "", `["dGVzdA=="]`, 0},
		{"getTopicSources", `["dGVzdA=="]`, `[]`, 0},
		{"getTopicSources", `["bm9wZQ=="]`, ``, -32030},
		{"addTopicSource", `["dGVzdA==","400::/7"]`, `true`, 0},
		{"addTopicSource", `["dGVzdA==","nope"]`, ``, -32023},
		{"getTopicSources", `["dGVzdA=="]`, `["400::/7"]`, 0},
		{"removeTopicSource", `["dGVzdA==","400::/7"]`, `true`, 0},
		{"getTopicForwardSocket", `["dGVzdA=="]`, `null`, 0},
		{"setTopicForwardSocket", `["dGVzdA==","/run/x.sock"]`, `true`, 0},
		{"getTopicForwardSocket", `["dGVzdA=="]`, `"/run/x.sock"`, 0},
		{"removeTopicForwardSocket", `["dGVzdA=="]`, `true`, 0},
		{"removeTopic", `["dGVzdA=="]`, `true`, 0},
		{"popMessage", `[false, 0]`, `null`, 0},
		{"popMessage", `[false, 0, "%%"]`, ``, -32013},
		{"pushMessage", `[{"dst":{"pk":"` + pkB + `"},"topic":"` + b64(strings.Repeat("x", 256)) + `","payload":""}]`, ``, -32015},
		{"pushMessageReply", `["xyz", {"dst":{"pk":"` + pkB + `"},"payload":""}]`, ``, -32018},
		{"getMessageInfo", `["xyz"]`, ``, -32020},
		{"getMessageInfo", `["0123456789abcdef"]`, ``, -32019},
		{"getInfo", `[1]`, ``, -32602},
		{"noSuchMethod", "", ``, -32601},
		{"rpc.discover", "", `"openrpc"`, 0},
	}
	for _, tt := range tests {
		r := rpc(t, h, tt.method, tt.params)
		switch {
		case tt.code != 0 && (r.Error == nil || r.Error.Code != tt.code):
			t.Errorf("%s(%s) = %s %+v; want error %d", tt.method, tt.params, r.Result, r.Error, tt.code)
		case tt.code == 0 && (r.Error != nil || !strings.Contains(string(r.Result), tt.want)):
			t.Errorf("%s(%s) = %s %+v; want %s", tt.method, tt.params, r.Result, r.Error, tt.want)
		case tt.code != 0 && r.Error.Message == "":
			t.Errorf("%s(%s): error without a message", tt.method, tt.params)
		}
	}
}

func TestRPCMessages(t *testing.T) {
	h := apitest.Start(t, nil)
	pkB := h.B.Key.Public().String()
	r := rpc(t, h, "pushMessage", `[{"dst":{"pk":"`+pkB+`"},"topic":"`+b64("t")+`","payload":"`+b64("hi")+`"}]`)
	var id struct{ ID string }
	if r.Error != nil || json.Unmarshal(r.Result, &id) != nil || len(id.ID) != 16 {
		t.Fatalf("pushMessage = %s %+v", r.Result, r.Error)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	m, ok := h.B.Bus.Pop(ctx, nil, false, false)
	if !ok || string(m.Payload) != "hi" {
		t.Fatal("B did not get the message")
	}
	if r := rpc(t, h, "getMessageInfo", `["`+id.ID+`"]`); r.Error != nil || !strings.Contains(string(r.Result), `"msgLen":2`) {
		t.Errorf("getMessageInfo = %s %+v", r.Result, r.Error)
	}
	// A reply from B, popped through JSON-RPC with a wait.
	h.B.Bus.Reply(m.ID, m.SrcIP, []byte("back"))
	r = rpc(t, h, "popMessage", `{"timeout":5}`)
	if r.Error != nil || !strings.Contains(string(r.Result), `"payload":"`+b64("back")+`"`) {
		t.Fatalf("popMessage = %s %+v", r.Result, r.Error)
	}
	// pushMessage waiting for a reply that never comes returns the id.
	r = rpc(t, h, "pushMessage", `[{"dst":{"pk":"`+pkB+`"},"payload":""}, 0]`)
	if r.Error != nil || !strings.Contains(string(r.Result), `"id"`) {
		t.Fatalf("pushMessage with timeout = %s %+v", r.Result, r.Error)
	}
	if r := rpc(t, h, "pushMessageReply", `["`+m.ID.String()+`", {"dst":{"pk":"`+pkB+`"},"payload":""}]`); r.Error != nil {
		t.Errorf("pushMessageReply: %+v", r.Error)
	}
}

func TestRPCTransport(t *testing.T) {
	h := apitest.Start(t, nil)
	// Any path works.
	if _, r := rpcRaw(t, h, "/rpc", `{"jsonrpc":"2.0","id":7,"method":"getInfo"}`); r.Error != nil || string(r.ID) != "7" {
		t.Errorf("POST /rpc: %+v", r)
	}
	// Malformed JSON: parse error and HTTP 400, then the server still serves.
	code, r := rpcRaw(t, h, "/", `{"jsonrpc":"2.0",`)
	if code != http.StatusBadRequest || r.Error == nil || r.Error.Code != -32700 || r.Error.Message == "" {
		t.Errorf("malformed = %d %+v", code, r.Error)
	}
	// A batch.
	req, _ := http.NewRequestWithContext(t.Context(), "POST", "http://"+h.RPCAddr+"/", strings.NewReader(`[{"jsonrpc":"2.0","id":1,"method":"getInfo"},{"jsonrpc":"2.0","id":2,"method":"getTopics"}]`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var batch []rpcResponse
	json.NewDecoder(resp.Body).Decode(&batch)
	resp.Body.Close()
	if len(batch) != 2 || batch[0].Error != nil || batch[1].Error != nil {
		t.Errorf("batch = %+v", batch)
	}
	if r := rpc(t, h, "getInfo", ""); r.Error != nil {
		t.Errorf("after errors: %+v", r.Error)
	}
}

func TestRPCWebSocket(t *testing.T) {
	h := apitest.Start(t, func(c *api.Config) { c.Token = "t" })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, _, err := websocket.Dial(ctx, "ws://"+h.RPCAddr+"/", nil); err == nil {
		t.Fatal("WebSocket without the token accepted")
	}
	c, _, err := websocket.Dial(ctx, "ws://"+h.RPCAddr+"/rpc", &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer t"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for _, tc := range []struct{ req, want string }{
		{`{"jsonrpc":"2.0","id":1,"method":"getInfo"}`, `"nodePubkey":"` + h.A.Key.Public().String() + `"`},
		{`{"jsonrpc":"2.0","id":2,"method":"getPublicKeyFromIp","params":["x"]}`, `-32007`},
		{`{"jsonrpc":"2.0","id":3,"method":"getTopics"}`, `"result":[]`},
		{`{"jsonrpc":"2.0",`, `-32700`},
	} {
		if err := c.Write(ctx, websocket.MessageText, []byte(tc.req)); err != nil {
			t.Fatal(err)
		}
		_, msg, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(msg), tc.want) {
			t.Errorf("%s -> %s; want %s", tc.req, msg, tc.want)
		}
	}
	// Closing the server ends the session.
	h.Server.Close()
	if _, _, err := c.Read(ctx); err == nil {
		t.Error("session survived Close")
	}
}
