package serve

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/adapters/openai/openaitest"
	"github.com/mycelium-go/mycelium/adapters/openai/wire"
)

const streamChat = `{"model":"llama3.2","stream":true,"messages":[{"role":"user","content":"hi"}]}`

func TestStreamFramesArriveIncrementally(t *testing.T) {
	const delay = 60 * time.Millisecond
	up := openaitest.NewUpstream(t, openaitest.UpstreamConfig{FrameDelay: delay})
	s := serveFor(t, testConfig(up.URL), peerA)

	start := time.Now()
	resp := streamRequest(t, t.Context(), s.url+"/chat/completions", streamChat)
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" || resp.Header.Get("X-Accel-Buffering") != "no" {
		t.Errorf("headers: Content-Type %q, X-Accel-Buffering %q", ct, resp.Header.Get("X-Accel-Buffering"))
	}
	events, err := openaitest.ReadEvents(resp.Body, start)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	// role, 6 content, finish, [DONE]; the injected usage chunk is stripped.
	if len(events) != 9 || events[len(events)-1].Frame != "data: [DONE]\n\n" {
		t.Fatalf("got %d frames, last %q; want 9 ending in [DONE]", len(events), events[len(events)-1].Frame)
	}
	openaitest.AssertIncremental(t, events, delay)
	for _, e := range events {
		if strings.Contains(e.Frame, `"choices":[]`) {
			t.Errorf("injected usage chunk reached the caller: %q", e.Frame)
		}
	}
	if got := string(up.LastRequest().Body); !strings.Contains(got, `"stream_options":{"include_usage":true}`) {
		t.Errorf("upstream body %s lacks the injected stream_options", got)
	}
	if n := metricValue(t, s.reg, "mycelium_openai_completion_tokens_total", "peer", peerA.Key.String(), "model", "llama3.2"); n != 6 {
		t.Errorf("completion tokens = %v, want 6 from the usage chunk", n)
	}
	if n := metricValue(t, s.reg, "mycelium_openai_usage_estimated_total", "peer", peerA.Key.String(), "model", "llama3.2"); n != 0 {
		t.Errorf("usage estimated %v times, want 0", n)
	}
}

func TestStreamByteForByteWhenCallerAsksForUsage(t *testing.T) {
	frames := []string{
		`data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]},"finish_reason":null}],"usage":null,"x_extra":1}` + "\n\n",
		": keep-alive comment\n\n",
		"event: message\r\ndata: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}],\"usage\":null}\r\n\r\n",
		`data: {"id":"c","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}` + "\n\n",
		"data: [DONE]\n\n",
	}
	up := openaitest.NewUpstream(t, openaitest.UpstreamConfig{StreamFrames: frames})
	s := serveFor(t, testConfig(up.URL), peerA)
	body := `{"model":"llama3.2","stream":true,"stream_options":{"include_usage":true},"tools":[{"type":"function","function":{"name":"f"}}],"messages":[]}`
	resp := streamRequest(t, t.Context(), s.url+"/chat/completions", body)
	defer resp.Body.Close()
	if got, want := readAll(t, resp), strings.Join(frames, ""); got != want {
		t.Errorf("stream =\n%q\nwant\n%q", got, want)
	}
	if got := string(up.LastRequest().Body); got != body {
		t.Errorf("upstream body = %s, want unchanged %s", got, body)
	}
	if n := metricValue(t, s.reg, "mycelium_openai_prompt_tokens_total", "peer", peerA.Key.String(), "model", "llama3.2"); n != 4 {
		t.Errorf("prompt tokens = %v, want 4", n)
	}
}

func TestStreamOptionsRejectedByUpstream(t *testing.T) {
	up := openaitest.NewUpstream(t, openaitest.UpstreamConfig{RejectStreamOptions: true})
	s := serveFor(t, testConfig(up.URL), peerA)
	for i := range 2 {
		resp := streamRequest(t, t.Context(), s.url+"/chat/completions", streamChat)
		got := readAll(t, resp)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasSuffix(got, "data: [DONE]\n\n") {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, got)
		}
	}
	reqs := up.Requests()
	if len(reqs) != 3 {
		t.Fatalf("upstream saw %d requests, want 3 (injected, plain, plain)", len(reqs))
	}
	if string(reqs[2].Body) != streamChat {
		t.Errorf("after a rejection the body is still changed: %s", reqs[2].Body)
	}
	if n := metricValue(t, s.reg, "mycelium_openai_usage_estimated_total", "peer", peerA.Key.String(), "model", "llama3.2"); n != 2 {
		t.Errorf("usage estimated %v times, want 2", n)
	}
}

func TestUpstreamDiesMidStream(t *testing.T) {
	up := openaitest.NewUpstream(t, openaitest.UpstreamConfig{DieAfter: 2, FrameDelay: 10 * time.Millisecond})
	s := serveFor(t, testConfig(up.URL), peerA)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	resp := streamRequest(t, ctx, s.url+"/chat/completions", streamChat)
	defer resp.Body.Close()
	events, err := openaitest.ReadEvents(resp.Body, time.Now())
	if ctx.Err() != nil {
		t.Fatal("the client hung until the test deadline")
	}
	if err == nil {
		t.Errorf("body ended cleanly, want a transport error after the interruption")
	}
	if len(events) != 4 {
		t.Fatalf("got %d frames %+v, want role, 2 content, error", len(events), events)
	}
	last := events[len(events)-1].Frame
	data, _ := wire.FrameData([]byte(last))
	if _, _, code := apiError(t, data); code != "stream_interrupted" {
		t.Errorf("last frame %q, want a stream_interrupted error event", last)
	}
	if n := metricValue(t, s.reg, "mycelium_openai_errors_total", "peer", peerA.Key.String(), "model", "llama3.2", "reason", "stream_interrupted"); n != 1 {
		t.Errorf("stream_interrupted errors = %v, want 1", n)
	}
}

func TestClientDisconnectCancelsUpstream(t *testing.T) {
	up := openaitest.NewUpstream(t, openaitest.UpstreamConfig{FrameDelay: 300 * time.Millisecond})
	s := serveFor(t, testConfig(up.URL), peerA)
	ctx, cancel := context.WithCancel(t.Context())
	resp := streamRequest(t, ctx, s.url+"/chat/completions", streamChat)
	buf := make([]byte, 10)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatalf("first read: %v", err)
	}
	cancel()
	resp.Body.Close()
	select {
	case path := <-up.Canceled():
		if path != "/v1/chat/completions" {
			t.Errorf("canceled %s", path)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the upstream request was not cancelled after the client went away")
	}
}

func TestStreamIdleTimeout(t *testing.T) {
	up := openaitest.NewUpstream(t, openaitest.UpstreamConfig{FrameDelay: 2 * time.Second})
	cfg := testConfig(up.URL)
	cfg.StreamIdleTimeout = 100 * time.Millisecond
	s := serveFor(t, cfg, peerA)
	start := time.Now()
	resp := streamRequest(t, t.Context(), s.url+"/chat/completions", streamChat)
	defer resp.Body.Close()
	events, _ := openaitest.ReadEvents(resp.Body, start)
	if time.Since(start) > time.Second {
		t.Errorf("idle stream ended after %v, want about 100ms", time.Since(start))
	}
	if len(events) != 2 || !strings.Contains(events[1].Frame, "stream_interrupted") {
		t.Errorf("frames %+v, want role chunk and an interruption event", events)
	}
	select {
	case <-up.Canceled():
	case <-time.After(3 * time.Second):
		t.Error("the idle upstream request was not cancelled")
	}
}
