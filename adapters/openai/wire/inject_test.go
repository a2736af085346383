package wire

import (
	"encoding/json"
	"testing"
)

var injectCases = []struct {
	name, in, want string
	ok             bool
}{
	{"absent", `{"model":"m","stream":true}`, `{"stream_options":{"include_usage":true},"model":"m","stream":true}`, true},
	{"absent with spaces", "{ \n \"model\" : \"m\" }", "{\"stream_options\":{\"include_usage\":true}, \n \"model\" : \"m\" }", true},
	{"empty object", `{}`, `{"stream_options":{"include_usage":true}}`, true},
	{"null", `{"stream_options":null,"x":1}`, `{"stream_options":{"include_usage":true},"x":1}`, true},
	{"other option", `{"stream_options":{"include_obfuscation":false}}`, `{"stream_options":{"include_usage":true,"include_obfuscation":false}}`, true},
	{"empty options", `{"stream_options":{ }}`, `{"stream_options":{"include_usage":true }}`, true},
	{"false", `{"stream_options": {"include_usage" : false},"a":[1]}`, `{"stream_options": {"include_usage" : true},"a":[1]}`, true},
	{"already true", `{"stream_options":{"include_usage":true}}`, `{"stream_options":{"include_usage":true}}`, false},
	{"duplicate key", `{"stream_options":{},"stream_options":{}}`, `{"stream_options":{},"stream_options":{}}`, false},
	{"not an object", `[1]`, `[1]`, false},
	{"options not an object", `{"stream_options":5}`, `{"stream_options":5}`, false},
	{"trailing data", `{"a":1} {}`, `{"a":1} {}`, false},
	{"unicode kept", `{"messages":[{"content":"h\u00e9 \ud83d\ude00 é"}]}`, `{"stream_options":{"include_usage":true},"messages":[{"content":"h\u00e9 \ud83d\ude00 é"}]}`, true},
}

func TestInjectIncludeUsage(t *testing.T) {
	for _, tc := range injectCases {
		got, ok := InjectIncludeUsage([]byte(tc.in))
		if string(got) != tc.want || ok != tc.ok {
			t.Errorf("%s: InjectIncludeUsage(%s) = %s, %v; want %s, %v", tc.name, tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzInjectIncludeUsage checks that an injected body is valid JSON that
// asks for usage, and that removing the inserted bytes gives back the input.
func FuzzInjectIncludeUsage(f *testing.F) {
	for _, tc := range injectCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, ok := InjectIncludeUsage(in)
		if !ok {
			if string(out) != string(in) {
				t.Fatalf("body changed without injection")
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("InjectIncludeUsage(%q) = %q, not valid JSON", in, out)
		}
		if _, err := PeekRequest(in); err != nil {
			return // the adapter rejects such a body before injecting
		}
		req, err := PeekRequest(out)
		if err != nil || !req.IncludeUsage {
			t.Fatalf("InjectIncludeUsage(%q) = %q: peek %+v, %v", in, out, req, err)
		}
		if grow := len(out) - len(in); grow < -1 || grow > len(`"stream_options":{"include_usage":true},`) {
			t.Fatalf("InjectIncludeUsage(%q) = %q: size changed by %d", in, out, grow)
		}
	})
}
