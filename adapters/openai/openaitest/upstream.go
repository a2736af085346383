package openaitest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// UpstreamConfig sets how a fake Upstream behaves. Change it at run time
// with Upstream.Configure.
type UpstreamConfig struct {
	Models []string // served model ids; default "llama3.2" and "nomic-embed-text"
	APIKey string   // if set, requests need "Authorization: Bearer APIKey"
	Tokens []string // content pieces of a generated answer, one per frame
	// FrameDelay is slept before every streamed frame after the first.
	FrameDelay time.Duration
	// DieAfter > 0 aborts a stream (connection closed, no terminating
	// chunk) after that many content frames.
	DieAfter int
	// RejectStreamOptions answers 400 to any request with stream_options,
	// as some backends do.
	RejectStreamOptions bool
	// Status, if non-zero, makes the generation endpoints fail with this
	// status and an OpenAI-shaped error body; RetryAfter goes in the
	// Retry-After header.
	Status     int
	RetryAfter string
	// ChatReply, if set, is the exact non-streaming chat response body.
	ChatReply []byte
	// StreamFrames, if set, are the exact frames of a chat stream.
	StreamFrames []string
	// NoUsage leaves usage out of every response, as old servers do.
	NoUsage bool
}

func (c *UpstreamConfig) defaults() {
	if len(c.Models) == 0 {
		c.Models = []string{"llama3.2", "nomic-embed-text"}
	}
	if len(c.Tokens) == 0 {
		c.Tokens = []string{"Hello", " from", " the", " fake", " upstream", "."}
	}
}

// Request is a request the fake upstream received.
type Request struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// maxRecorded bounds the requests an Upstream remembers.
const maxRecorded = 256

// Upstream is a fake OpenAI-compatible model server on a loopback port.
type Upstream struct {
	URL string // base URL, ending in /v1

	srv      *httptest.Server
	canceled chan string

	mu   sync.Mutex
	cfg  UpstreamConfig
	reqs []Request
}

// NewUpstream starts a fake upstream that is closed at the end of the test.
func NewUpstream(t testing.TB, cfg UpstreamConfig) *Upstream {
	t.Helper()
	cfg.defaults()
	u := &Upstream{cfg: cfg, canceled: make(chan string, 64)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", u.models)
	mux.HandleFunc("GET /v1/models/{id...}", u.model)
	mux.HandleFunc("POST /v1/chat/completions", u.generate(chatResponse, chatFrames))
	mux.HandleFunc("POST /v1/completions", u.generate(textResponse, textFrames))
	mux.HandleFunc("POST /v1/embeddings", u.embeddings)
	u.srv = httptest.NewServer(u.authenticate(mux))
	u.URL = u.srv.URL + "/v1"
	t.Cleanup(u.srv.Close)
	return u
}

// Configure changes the behaviour for the following requests.
func (u *Upstream) Configure(f func(*UpstreamConfig)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	f(&u.cfg)
	u.cfg.defaults()
}

func (u *Upstream) config() UpstreamConfig {
	u.mu.Lock()
	defer u.mu.Unlock()
	c := u.cfg
	return c
}

// Requests returns the requests received so far (the last 256).
func (u *Upstream) Requests() []Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.reqs)
}

// LastRequest returns the most recent request, or the zero Request.
func (u *Upstream) LastRequest() Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		return Request{}
	}
	return u.reqs[len(u.reqs)-1]
}

// Canceled receives the path of every request whose context ended (the
// caller went away) before the fake finished answering.
func (u *Upstream) Canceled() <-chan string { return u.canceled }

// CloseClientConnections drops every open connection.
func (u *Upstream) CloseClientConnections() { u.srv.CloseClientConnections() }

func (u *Upstream) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		u.mu.Lock()
		if len(u.reqs) >= maxRecorded {
			u.reqs = slices.Delete(u.reqs, 0, len(u.reqs)-maxRecorded+1)
		}
		u.reqs = append(u.reqs, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
		key := u.cfg.APIKey
		u.mu.Unlock()
		if key != "" && r.Header.Get("Authorization") != "Bearer "+key {
			writeError(w, http.StatusUnauthorized, "invalid api key", "invalid_api_key")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeError(w http.ResponseWriter, status int, msg, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": "api_error", "param": nil, "code": code}})
	w.Write(b)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

type modelEntry struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (u *Upstream) models(w http.ResponseWriter, _ *http.Request) {
	cfg := u.config()
	list := struct {
		Object string       `json:"object"`
		Data   []modelEntry `json:"data"`
	}{Object: "list", Data: []modelEntry{}}
	for _, m := range cfg.Models {
		list.Data = append(list.Data, modelEntry{ID: m, Object: "model", Created: 1700000000, OwnedBy: "library"})
	}
	writeJSON(w, list)
}

func (u *Upstream) model(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !slices.Contains(u.config().Models, id) {
		writeError(w, http.StatusNotFound, "model '"+id+"' not found", "")
		return
	}
	writeJSON(w, modelEntry{ID: id, Object: "model", Created: 1700000000, OwnedBy: "library"})
}
