package wire

import (
	"strings"
	"testing"
)

var chunkCases = []struct {
	name string
	data string
	want Chunk
}{
	{"content chunk", `{"id":"c1","choices":[{"index":0,"delta":{"content":"hi"}}]}`, Chunk{}},
	{"usage null", `{"choices":[{"delta":{}}],"usage":null}`, Chunk{}},
	{"usage chunk", `{"id":"c1","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}`,
		Chunk{Usage: Usage{5, 7, 12}, HasUsage: true, UsageOnly: true}},
	{"usage on content chunk", `{"choices":[{"delta":{"content":"x"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`,
		Chunk{Usage: Usage{1, 2, 3}, HasUsage: true}},
	{"usage without choices", `{"usage":{"prompt_tokens":1,"total_tokens":1}}`, Chunk{Usage: Usage{1, 0, 1}, HasUsage: true}},
	{"error event", `{"error":{"message":"boom","type":"server_error"}}`, Chunk{Error: true}},
	{"error null", `{"choices":[],"error":null}`, Chunk{}},
	{"not json", `[DONE]`, Chunk{}},
	{"negative tokens", `{"choices":[ ],"usage":{"prompt_tokens":-5,"completion_tokens":1e300}}`,
		Chunk{Usage: Usage{0, 1 << 40, 1 << 40}, HasUsage: true, UsageOnly: true}},
}

func TestParseChunk(t *testing.T) {
	for _, tc := range chunkCases {
		if got := ParseChunk([]byte(tc.data)); got != tc.want {
			t.Errorf("%s: ParseChunk(%s) = %+v, want %+v", tc.name, tc.data, got, tc.want)
		}
	}
}

var scanCases = []struct {
	name string
	body string
	want Usage
	ok   bool
}{
	{"chat", `{"id":"x","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}`, Usage{3, 4, 7}, true},
	{"usage first", `{"usage":{"prompt_tokens":3,"total_tokens":3},"data":[{"embedding":[0.1,0.2]}]}` + "\n", Usage{3, 0, 3}, true},
	{"no usage", `{"data":[]}`, Usage{}, false},
	{"null usage", `{"usage":null}`, Usage{}, false},
	{"array", `[1,2]`, Usage{}, false},
	{"truncated", `{"usage":{"prompt_tokens":3}, "x":`, Usage{3, 0, 3}, false},
	{"bad usage", `{"usage":"many"}`, Usage{}, false},
}

func TestScanUsage(t *testing.T) {
	for _, tc := range scanCases {
		got, ok := ScanUsage(strings.NewReader(tc.body))
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: ScanUsage = %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzParseChunk(f *testing.F) {
	for _, tc := range chunkCases {
		f.Add([]byte(tc.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := ParseChunk(data)
		if slow := parseChunk(data); c != slow {
			t.Fatalf("ParseChunk(%q) = %+v, but a full parse gives %+v: the pre-filter is unsound", data, c, slow)
		}
		if c.UsageOnly && !c.HasUsage {
			t.Fatalf("UsageOnly without usage for %q", data)
		}
		if c.Usage.PromptTokens < 0 || c.Usage.CompletionTokens < 0 || c.Usage.TotalTokens < 0 {
			t.Fatalf("negative usage %+v", c.Usage)
		}
	})
}

func FuzzScanUsage(f *testing.F) {
	for _, tc := range scanCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		u, _ := ScanUsage(strings.NewReader(string(body)))
		if u.PromptTokens < 0 || u.CompletionTokens < 0 || u.TotalTokens < 0 {
			t.Fatalf("negative usage %+v", u)
		}
	})
}

func TestHasValue(t *testing.T) {
	tests := []struct {
		data string
		want bool
	}{
		{`{"usage":null}`, false},
		{`{"usage" : {"a":1}}`, true},
		{`{"content":"usage"}`, false},
		{`{"content":"\"usage\":{"}`, false},
		{`{"x":"usage","usage":{}}`, true},
		{`{"usage"`, false},
	}
	for _, tc := range tests {
		if got := hasValue([]byte(tc.data), usageKey, '{'); got != tc.want {
			t.Errorf("hasValue(%s) = %v, want %v", tc.data, got, tc.want)
		}
	}
}
