package wire

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
)

// Usage is the token accounting of one response.
type Usage struct {
	PromptTokens     int64
	CompletionTokens int64
	TotalTokens      int64
}

type usageJSON struct {
	PromptTokens     float64 `json:"prompt_tokens"`
	CompletionTokens float64 `json:"completion_tokens"`
	TotalTokens      float64 `json:"total_tokens"`
}

func (u *usageJSON) usage() Usage {
	out := Usage{
		PromptTokens:     clampTokens(u.PromptTokens),
		CompletionTokens: clampTokens(u.CompletionTokens),
		TotalTokens:      clampTokens(u.TotalTokens),
	}
	if out.TotalTokens == 0 {
		out.TotalTokens = out.PromptTokens + out.CompletionTokens
	}
	return out
}

// clampTokens turns a JSON number into a token count in [0, 2^40].
func clampTokens(f float64) int64 {
	if !(f > 0) {
		return 0
	}
	return int64(math.Min(f, 1<<40))
}

// Chunk is what the adapter reads from one streamed chunk.
type Chunk struct {
	Usage    Usage
	HasUsage bool // the chunk carries a non-null "usage" object
	// UsageOnly: the chunk is the extra usage chunk that
	// stream_options.include_usage adds (an empty "choices" array and a
	// usage object).
	UsageOnly bool
	// Error: the chunk is an error event ({"error": ...}).
	Error bool
}

var (
	usageKey = []byte(`"usage"`)
	errorKey = []byte(`"error"`)
)

// ParseChunk reads a streamed event's data. It never fails: data that is
// not a JSON object yields the zero Chunk.
func ParseChunk(data []byte) Chunk {
	var c Chunk
	hasUsage, hasError := bytes.Contains(data, usageKey), bytes.Contains(data, errorKey)
	if !hasUsage && !hasError {
		return c // the common case: no parse at all
	}
	var fields struct {
		Usage   *usageJSON      `json:"usage"`
		Choices json.RawMessage `json:"choices"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(data, &fields) != nil {
		return c
	}
	c.Error = len(fields.Error) > 0 && !isNull(fields.Error)
	if fields.Usage != nil {
		c.Usage, c.HasUsage = fields.Usage.usage(), true
		c.UsageOnly = isEmptyArray(fields.Choices)
	}
	return c
}

func isEmptyArray(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) >= 2 && t[0] == '[' && len(bytes.TrimSpace(t[1:len(t)-1])) == 0 && t[len(t)-1] == ']'
}

// ScanUsage reads a JSON response body from r and returns its top-level
// "usage" object. It reads member by member, so a caller can tee the body
// to the client while it scans. ok is false if there is no usage object or
// the body is not a JSON object. ScanUsage stops at the end of the
// top-level object; the caller drains whatever follows.
func ScanUsage(r io.Reader) (u Usage, ok bool) {
	dec := json.NewDecoder(r)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return u, false
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return u, false
		}
		if key == "usage" {
			var uj *usageJSON
			if dec.Decode(&uj) != nil {
				return u, false
			}
			if uj != nil {
				u, ok = uj.usage(), true
			}
			continue
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return u, false
		}
	}
	return u, ok
}
