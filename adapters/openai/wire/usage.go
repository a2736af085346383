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
// not a JSON object yields the zero Chunk. Member names match exactly.
func ParseChunk(data []byte) Chunk {
	if !bytes.Contains(data, escapedRune) && !hasValue(data, usageKey, '{') && !hasValue(data, errorKey, '{', '"') {
		return Chunk{} // the common case ("usage":null or none): no parse at all
	}
	return parseChunk(data)
}

// escapedRune may spell a member name in escapes ("us\u0061ge"); data
// with it skips the pre-filter.
var escapedRune = []byte(`\u`)

// parseChunk is ParseChunk without the pre-filter.
func parseChunk(data []byte) Chunk {
	var c Chunk
	var members map[string]json.RawMessage
	if json.Unmarshal(data, &members) != nil {
		return c
	}
	if e := bytes.TrimSpace(members["error"]); len(e) > 0 && (e[0] == '{' || e[0] == '"') {
		c.Error = true
	}
	u, ok := members["usage"]
	if !ok || isNull(u) {
		return c
	}
	var uj usageJSON
	if json.Unmarshal(u, &uj) != nil {
		return c
	}
	c.Usage, c.HasUsage = uj.usage(), true
	c.UsageOnly = isEmptyArray(members["choices"])
	return c
}

// hasValue reports whether data may have a member key whose value starts
// with one of the bytes in starts. It is a sound pre-filter: a real member
// always matches, because inside a JSON string the quotes of key would be
// escaped; a false match only costs a parse.
func hasValue(data, key []byte, starts ...byte) bool {
	for {
		i := bytes.Index(data, key)
		if i < 0 {
			return false
		}
		data = data[i+len(key):]
		rest := bytes.TrimLeft(data, " \t\r\n")
		if len(rest) == 0 || rest[0] != ':' {
			continue
		}
		rest = bytes.TrimLeft(rest[1:], " \t\r\n")
		if len(rest) > 0 && bytes.IndexByte(starts, rest[0]) >= 0 {
			return true
		}
	}
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
