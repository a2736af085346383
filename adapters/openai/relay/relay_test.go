package relay

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mycelium-go/mycelium/adapters/openai/wire"
)

func TestCopyRequestHeaders(t *testing.T) {
	src := http.Header{
		"Authorization":   {"Bearer local"},
		"Api-Key":         {"k"},
		"Cookie":          {"c"},
		"Connection":      {"keep-alive, X-Hop"},
		"X-Hop":           {"1"},
		"Keep-Alive":      {"timeout=5"},
		"Content-Length":  {"10"},
		"Accept-Encoding": {"gzip"},
		"Openai-Beta":     {"assistants=v2"},
		"X-Stainless-Os":  {"Linux"},
		"Content-Type":    {"application/json"},
	}
	dst := http.Header{}
	CopyRequestHeaders(dst, src)
	want := http.Header{
		"Openai-Beta":    {"assistants=v2"},
		"X-Stainless-Os": {"Linux"},
		"Content-Type":   {"application/json"},
	}
	if diff := cmp.Diff(want, dst); diff != "" {
		t.Errorf("forwarded headers (-want +got):\n%s", diff)
	}
}

func response(status int, ctype, body string, length int64) *http.Response {
	h := http.Header{"Content-Type": {ctype}, "X-Request-Id": {"r1"}, "Connection": {"close"}}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body)), ContentLength: length}
}

func TestResponseJSON(t *testing.T) {
	body := `{"id":"x","usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5},"extra":[1]}` + "\n"
	rec := httptest.NewRecorder()
	res := Response(rec, response(200, "application/json", body, int64(len(body))), Options{})
	if rec.Body.String() != body || rec.Code != 200 {
		t.Errorf("body %q status %d", rec.Body.String(), rec.Code)
	}
	if res.EventStream || !res.HasUsage || res.Usage != (wire.Usage{PromptTokens: 2, CompletionTokens: 3, TotalTokens: 5}) || res.Bytes != int64(len(body)) {
		t.Errorf("result %+v", res)
	}
	if rec.Header().Get("X-Request-Id") != "r1" || rec.Header().Get("Connection") != "" || rec.Header().Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Errorf("headers %v", rec.Header())
	}
}

func TestResponseEvents(t *testing.T) {
	frames := []string{
		"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n",
		": ping\n\n",
		"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}\n\n",
		"data: [DONE]\n\n",
	}
	rec := httptest.NewRecorder()
	res := Response(rec, response(200, "text/event-stream; charset=utf-8", strings.Join(frames, ""), -1), Options{
		Observe: func(_ []byte, c wire.Chunk) bool { return !c.UsageOnly },
	})
	want := frames[0] + frames[1] + frames[3]
	if rec.Body.String() != want {
		t.Errorf("forwarded %q, want %q", rec.Body.String(), want)
	}
	if !rec.Flushed || rec.Header().Get("X-Accel-Buffering") != "no" || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("not flushed or missing no-buffering headers: %v", rec.Header())
	}
	if !res.EventStream || !res.Done || res.Events != 1 || !res.HasUsage || res.Usage.TotalTokens != 2 || res.Failed() {
		t.Errorf("result %+v", res)
	}
}

// slowReader returns its chunks one per Read, blocking between them on
// a channel, so a test can see when each one is forwarded.
type slowReader struct {
	chunks chan string
}

func (r *slowReader) Read(p []byte) (int, error) {
	s, ok := <-r.chunks
	if !ok {
		return 0, io.ErrUnexpectedEOF
	}
	return copy(p, s), nil
}

// flushRecorder records what was flushed, and when.
type flushRecorder struct {
	*httptest.ResponseRecorder
	flushed chan string
	sent    int
}

func (f *flushRecorder) Flush() {
	b := f.Body.String()
	f.flushed <- b[f.sent:]
	f.sent = len(b)
}

func TestResponseFlushesEveryFrameAndReportsBreaks(t *testing.T) {
	src := &slowReader{chunks: make(chan string)}
	rec := &flushRecorder{ResponseRecorder: httptest.NewRecorder(), flushed: make(chan string, 16)}
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(src)}
	done := make(chan Result)
	go func() { done <- Response(rec, resp, Options{}) }()
	if got := <-rec.flushed; got != "" {
		t.Fatalf("first flush %q, want the headers alone", got)
	}
	src.chunks <- "data: 1\n"
	src.chunks <- "\ndata: 2"
	if got := <-rec.flushed; got != "data: 1\n\n" {
		t.Errorf("flush %q, want exactly the first frame", got)
	}
	select {
	case got := <-rec.flushed:
		t.Errorf("a partial frame was flushed: %q", got)
	case <-time.After(20 * time.Millisecond):
	}
	close(src.chunks)
	res := <-done
	if !errors.Is(res.ReadErr, io.ErrUnexpectedEOF) {
		t.Errorf("ReadErr = %v, want unexpected EOF", res.ReadErr)
	}
	Interrupt(rec, &res, "broken")
	if !strings.HasSuffix(rec.Body.String(), "data: {\"error\":{\"message\":\"broken\",\"type\":\"server_error\",\"param\":null,\"code\":\"stream_interrupted\"}}\n\n") {
		t.Errorf("no interruption event: %q", rec.Body.String())
	}
	res.LastWasError = true
	before := rec.Body.Len()
	Interrupt(rec, &res, "again")
	if rec.Body.Len() != before {
		t.Error("Interrupt wrote a second error event")
	}
}

func TestResponseIdleTimeout(t *testing.T) {
	src := &slowReader{chunks: make(chan string)}
	rec := httptest.NewRecorder()
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(src)}
	idle := make(chan struct{})
	go func() {
		<-idle
		close(src.chunks) // what cancelling the upstream request does to the body
	}()
	res := Response(rec, resp, Options{IdleTimeout: 30 * time.Millisecond, OnIdle: func() { close(idle) }})
	if res.ReadErr == nil {
		t.Error("an idle stream ended without an error")
	}
}

func TestIsEventStream(t *testing.T) {
	for ct, want := range map[string]bool{
		"text/event-stream": true, "Text/Event-Stream; charset=utf-8": true,
		"application/json": false, "": false, "text/event-streams": false,
	} {
		if got := IsEventStream(http.Header{"Content-Type": {ct}}); got != want {
			t.Errorf("IsEventStream(%q) = %v", ct, got)
		}
	}
}
