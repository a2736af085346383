package openaitest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// genRequest is what the fake reads from a generation request.
type genRequest struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	promptTokens int
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func newUsage(prompt, completion int) *usage {
	return &usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

// readGen parses the request and answers the configured failures. It
// returns false if it already answered.
func (u *Upstream) readGen(w http.ResponseWriter, r *http.Request, cfg UpstreamConfig) (genRequest, bool) {
	var req genRequest
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON: "+err.Error(), "")
		return req, false
	}
	req.promptTokens = len(body)/16 + 1
	switch {
	case cfg.Status != 0:
		if cfg.RetryAfter != "" {
			w.Header().Set("Retry-After", cfg.RetryAfter)
		}
		writeError(w, cfg.Status, fmt.Sprintf("forced failure %d", cfg.Status), "forced")
		return req, false
	case cfg.RejectStreamOptions && req.StreamOptions != nil:
		writeError(w, http.StatusBadRequest, "unrecognized request argument: stream_options", "")
		return req, false
	case !slices.Contains(cfg.Models, req.Model):
		writeError(w, http.StatusNotFound, fmt.Sprintf("model %q not found, try pulling it first", req.Model), "")
		return req, false
	}
	return req, true
}

type responder func(req genRequest, cfg UpstreamConfig) any
type framer func(req genRequest, cfg UpstreamConfig) []string

func (u *Upstream) generate(respond responder, frames framer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cfg := u.config()
		req, ok := u.readGen(w, r, cfg)
		if !ok {
			return
		}
		if !req.Stream {
			if cfg.ChatReply != nil && strings.HasSuffix(r.URL.Path, "/chat/completions") {
				w.Header().Set("Content-Type", "application/json")
				w.Write(cfg.ChatReply)
				return
			}
			writeJSON(w, respond(req, cfg))
			return
		}
		fs := frames(req, cfg)
		if cfg.StreamFrames != nil {
			fs = cfg.StreamFrames
		}
		u.stream(w, r, fs, cfg)
	}
}

// stream writes frames one by one, flushing each, with cfg.FrameDelay
// before every frame but the first. With cfg.DieAfter it closes the
// connection abruptly before frame DieAfter+1.
func (u *Upstream) stream(w http.ResponseWriter, r *http.Request, frames []string, cfg UpstreamConfig) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	rc.Flush()
	for i, f := range frames {
		if i > 0 && !u.sleep(r, cfg.FrameDelay) {
			return
		}
		// Frame 0 of a chat stream is the role chunk, frames 1..n content.
		if cfg.DieAfter > 0 && i == cfg.DieAfter+1 {
			panic(http.ErrAbortHandler) // the upstream dies mid-stream
		}
		if _, err := w.Write([]byte(f)); err != nil {
			u.canceled <- r.URL.Path
			return
		}
		rc.Flush()
	}
}

// sleep waits d or until the request context ends, which it records.
func (u *Upstream) sleep(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		u.canceled <- r.URL.Path
		return false
	}
}

func includeUsage(req genRequest, cfg UpstreamConfig) bool {
	return req.StreamOptions != nil && req.StreamOptions.IncludeUsage && !cfg.NoUsage
}

func frame(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return "data: " + string(b) + "\n\n"
}

const doneFrame = "data: [DONE]\n\n"
