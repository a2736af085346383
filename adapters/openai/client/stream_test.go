package client

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/adapters/openai/openaitest"
	"github.com/mycelium-go/mycelium/adapters/openai/wire"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

const streamChat = `{"model":"llama3.2","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`

func TestStreamThroughMesh(t *testing.T) {
	const delay = 60 * time.Millisecond
	mesh := openaitest.NewMesh()
	a := mesh.AddNode(1)
	b := startAINode(t, mesh, 2, openaitest.UpstreamConfig{FrameDelay: delay}, nil)
	l := startLocal(t, a, testConfig(b.Node))

	start := time.Now()
	resp := do(t, t.Context(), http.MethodPost, l.url+"/chat/completions", testKey, streamChat)
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("X-Accel-Buffering") != "no" {
		t.Errorf("headers %v", resp.Header)
	}
	events, err := openaitest.ReadEvents(resp.Body, start)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	// role, 6 content, finish, usage (asked for), [DONE]
	if len(events) != 10 || events[9].Frame != "data: [DONE]\n\n" {
		t.Fatalf("got %d frames, want 10 ending in [DONE]", len(events))
	}
	openaitest.AssertIncremental(t, events, delay)
	data, _ := wire.FrameData([]byte(events[8].Frame))
	if c := wire.ParseChunk(data); !c.UsageOnly || c.Usage.CompletionTokens != 6 {
		t.Errorf("frame 8 = %q, want the usage chunk", events[8].Frame)
	}
}

func TestLocalDisconnectCancelsRemote(t *testing.T) {
	mesh := openaitest.NewMesh()
	a := mesh.AddNode(1)
	b := startAINode(t, mesh, 2, openaitest.UpstreamConfig{FrameDelay: 300 * time.Millisecond}, nil)
	l := startLocal(t, a, testConfig(b.Node))
	ctx, cancel := context.WithCancel(t.Context())
	resp := do(t, ctx, http.MethodPost, l.url+"/chat/completions", testKey, streamChat)
	if _, err := resp.Body.Read(make([]byte, 16)); err != nil {
		t.Fatalf("first read: %v", err)
	}
	cancel()
	resp.Body.Close()
	select {
	case <-b.up.Canceled():
	case <-time.After(3 * time.Second):
		t.Fatal("B's upstream request was not cancelled when the local client went away")
	}
	// The node stays usable.
	if resp, body := call(t, http.MethodPost, l.url+"/chat/completions", chat); resp.StatusCode != 200 {
		t.Errorf("next request: %d %s", resp.StatusCode, body)
	}
}

func TestRemoteDiesMidStream(t *testing.T) {
	mesh := openaitest.NewMesh()
	a := mesh.AddNode(1)
	b := startAINode(t, mesh, 2, openaitest.UpstreamConfig{DieAfter: 3, FrameDelay: 10 * time.Millisecond}, nil)
	c := startAINode(t, mesh, 3, openaitest.UpstreamConfig{}, nil)
	a.SetMetric(b.Addr, 1)
	l := startLocal(t, a, testConfig(b.Node, c.Node))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	resp := do(t, ctx, http.MethodPost, l.url+"/chat/completions", testKey, streamChat)
	defer resp.Body.Close()
	events, err := openaitest.ReadEvents(resp.Body, time.Now())
	if ctx.Err() != nil {
		t.Fatal("the local client hung until the test deadline")
	}
	if err == nil {
		t.Error("body ended cleanly; want a transport error after the interruption")
	}
	errorEvents := 0
	for _, e := range events {
		if strings.Contains(e.Frame, `"error"`) {
			errorEvents++
		}
	}
	if len(events) != 5 || errorEvents != 1 {
		t.Errorf("got %d frames with %d error events, want role, 3 content and one error event: %+v", len(events), errorEvents, events)
	}
	if got := len(c.up.Requests()); got != 1 {
		t.Errorf("node C saw %d requests, want only its health check: no retry after bytes were sent", got)
	}
}

func TestDiscovery(t *testing.T) {
	mesh := openaitest.NewMesh()
	a := mesh.AddNode(1)
	d := startAINode(t, mesh, 4, openaitest.UpstreamConfig{Models: []string{"mistral"}}, nil)
	stranger := startAINode(t, mesh, 5, openaitest.UpstreamConfig{Models: []string{"evil"}}, nil)
	cfg := testConfig()
	cfg.Discovery = true
	cfg.DiscoveryFrom = []sdk.PublicKey{d.Key}
	l := startLocal(t, a, cfg)

	announce := func(from *openaitest.Node, kind string) {
		a := wire.Announcement{Version: 1, Kind: kind, Port: servePort, TTL: 60}
		if _, err := from.SendMessage(t.Context(), sdkMsg(a, l.h)); err != nil {
			t.Fatal(err)
		}
	}
	announce(stranger.Node, wire.KindAnnounce)
	announce(d.Node, wire.KindAnnounce)
	waitFor(t, func() bool {
		_, body := call(t, http.MethodGet, l.url+"/models", "")
		return strings.Contains(string(body), `"mistral"`)
	})
	if _, body := call(t, http.MethodGet, l.url+"/models", ""); strings.Contains(string(body), "evil") {
		t.Errorf("a node outside discovery_from was added: %s", body)
	}
	if resp, body := call(t, http.MethodPost, l.url+"/chat/completions", `{"model":"mistral","messages":[]}`); resp.StatusCode != 200 {
		t.Errorf("chat on the discovered node: %d %s", resp.StatusCode, body)
	}
	announce(d.Node, wire.KindWithdraw)
	waitFor(t, func() bool {
		known, _ := l.h.reg.counts()
		return known == 0
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAnnouncementValidation(t *testing.T) {
	mesh := openaitest.NewMesh()
	a := mesh.AddNode(1)
	cfg := testConfig()
	cfg.Discovery = true
	h, err := New(cfg, a, discard(), newReg())
	if err != nil {
		t.Fatal(err)
	}
	for _, payload := range []string{`{"v":1,"kind":"announce","port":0,"ttl":5}`, `garbage`, `{"v":9}`} {
		h.announcement(inbound(openaitest.KeyOf(3), []byte(payload)))
	}
	if known, _ := h.reg.counts(); known != 0 {
		t.Errorf("bad announcements added %d nodes", known)
	}
	good, _ := json.Marshal(wire.Announcement{Version: 1, Kind: wire.KindAnnounce, Port: 9000, TTL: 5})
	h.announcement(inbound(openaitest.KeyOf(3), good))
	if st := h.reg.status(); len(st) != 1 || st[0].Port != 9000 || st[0].Configured {
		t.Errorf("after a good announcement: %+v", st)
	}
}
