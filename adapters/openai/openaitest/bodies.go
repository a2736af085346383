package openaitest

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
)

type chatMessage struct {
	Role    string `json:"role,omitempty"`
	Content string `json:"content"`
}

type chatChoice struct {
	Index        int          `json:"index"`
	Message      *chatMessage `json:"message,omitempty"`
	Delta        *chatMessage `json:"delta,omitempty"`
	Text         *string      `json:"text,omitempty"`
	Logprobs     any          `json:"logprobs"`
	FinishReason *string      `json:"finish_reason"`
}

type completion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Choices           []chatChoice `json:"choices"`
	Usage             *usage       `json:"usage,omitempty"`
}

// chunk is a streamed chunk. Its usage member is null on content chunks
// when the client asked for usage (as OpenAI sends it), absent otherwise.
type chunk struct {
	completion
	Usage json.RawMessage `json:"usage,omitempty"`
}

var stop = "stop"

func chatResponse(req genRequest, cfg UpstreamConfig) any {
	c := completion{ID: "chatcmpl-fake", Object: "chat.completion", Created: 1700000000, Model: req.Model,
		SystemFingerprint: "fp_fake", Choices: []chatChoice{{
			Message:      &chatMessage{Role: "assistant", Content: strings.Join(cfg.Tokens, "")},
			FinishReason: &stop,
		}}}
	if !cfg.NoUsage {
		c.Usage = newUsage(req.promptTokens, len(cfg.Tokens))
	}
	return c
}

func textResponse(req genRequest, cfg UpstreamConfig) any {
	text := strings.Join(cfg.Tokens, "")
	c := completion{ID: "cmpl-fake", Object: "text_completion", Created: 1700000000, Model: req.Model,
		SystemFingerprint: "fp_fake", Choices: []chatChoice{{Text: &text, FinishReason: &stop}}}
	if !cfg.NoUsage {
		c.Usage = newUsage(req.promptTokens, len(cfg.Tokens))
	}
	return c
}

// streamFrames builds the frames of a stream: one per piece built by
// choice, a final chunk with finish_reason, the usage chunk if asked for,
// and [DONE].
func streamFrames(req genRequest, cfg UpstreamConfig, object string, pieces []chatChoice) []string {
	withUsage := includeUsage(req, cfg)
	base := completion{ID: "chatcmpl-fake", Object: object, Created: 1700000000, Model: req.Model, SystemFingerprint: "fp_fake"}
	var frames []string
	for _, p := range pieces {
		c := chunk{completion: base}
		c.Choices = []chatChoice{p}
		if withUsage {
			c.Usage = json.RawMessage("null")
		}
		frames = append(frames, frame(c))
	}
	if withUsage {
		u, _ := json.Marshal(newUsage(req.promptTokens, len(cfg.Tokens)))
		c := chunk{completion: base, Usage: u}
		c.Choices = []chatChoice{}
		frames = append(frames, frame(c))
	}
	return append(frames, doneFrame)
}

func chatFrames(req genRequest, cfg UpstreamConfig) []string {
	pieces := []chatChoice{{Delta: &chatMessage{Role: "assistant", Content: ""}}}
	for _, t := range cfg.Tokens {
		pieces = append(pieces, chatChoice{Delta: &chatMessage{Content: t}})
	}
	pieces = append(pieces, chatChoice{Delta: &chatMessage{}, FinishReason: &stop})
	return streamFrames(req, cfg, "chat.completion.chunk", pieces)
}

func textFrames(req genRequest, cfg UpstreamConfig) []string {
	var pieces []chatChoice
	for _, t := range cfg.Tokens {
		pieces = append(pieces, chatChoice{Text: &t})
	}
	empty := ""
	pieces = append(pieces, chatChoice{Text: &empty, FinishReason: &stop})
	return streamFrames(req, cfg, "text_completion", pieces)
}

// Vector returns the fake embedding of the i-th input.
func Vector(i int) []float32 {
	v := make([]float32, 8)
	for j := range v {
		v[j] = float32(i+1) * 0.125 * float32(j+1)
	}
	return v
}

type embedding struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"`
}

func (u *Upstream) embeddings(w http.ResponseWriter, r *http.Request) {
	cfg := u.config()
	var req struct {
		Model          string          `json:"model"`
		Input          json.RawMessage `json:"input"`
		EncodingFormat string          `json:"encoding_format"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON", "")
		return
	}
	if !slices.Contains(cfg.Models, req.Model) {
		writeError(w, http.StatusNotFound, "model \""+req.Model+"\" not found, try pulling it first", "")
		return
	}
	n := countInputs(req.Input)
	data := make([]embedding, n)
	for i := range data {
		data[i] = embedding{Object: "embedding", Index: i, Embedding: encodeVector(Vector(i), req.EncodingFormat)}
	}
	resp := map[string]any{"object": "list", "data": data, "model": req.Model}
	if !cfg.NoUsage {
		resp["usage"] = map[string]int{"prompt_tokens": 4 * n, "total_tokens": 4 * n}
	}
	writeJSON(w, resp)
}

func countInputs(raw json.RawMessage) int {
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil && len(list) > 0 {
		if _, isNumber := json.Number(strings.TrimSpace(string(list[0]))).Int64(); isNumber == nil {
			return 1 // one input given as token ids
		}
		return len(list)
	}
	return 1
}

func encodeVector(v []float32, format string) any {
	if format != "base64" {
		return v
	}
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(b)
}
