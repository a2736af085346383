package wire

import (
	"encoding/json"
	"errors"
	"testing"
)

var peekCases = []struct {
	name    string
	body    string
	want    Request
	wantErr bool
}{
	{"chat", `{"model":"llama3","messages":[]}`, Request{Model: "llama3"}, false},
	{"stream", `{"model":"m","stream":true}`, Request{Model: "m", Stream: true}, false},
	{"stream options", `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`,
		Request{Model: "m", Stream: true, StreamOptions: true, IncludeUsage: true}, false},
	{"null members", `{"model":null,"stream":null,"stream_options":null}`, Request{}, false},
	{"case matters", `{"MODEL":"x","model":"y"}`, Request{Model: "y"}, false},
	{"array", `[1]`, Request{}, true},
	{"null body", `null`, Request{}, true},
	{"string", `"x"`, Request{}, true},
	{"malformed", `{"model":`, Request{}, true},
	{"model not a string", `{"model":5}`, Request{}, true},
	{"stream not a bool", `{"stream":"yes"}`, Request{}, true},
	{"stream_options not an object", `{"stream_options":[]}`, Request{}, true},
}

func TestPeekRequest(t *testing.T) {
	for _, tc := range peekCases {
		got, err := PeekRequest([]byte(tc.body))
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: PeekRequest(%s) error = %v, wantErr %v", tc.name, tc.body, err, tc.wantErr)
			continue
		}
		if err == nil && got != tc.want {
			t.Errorf("%s: PeekRequest(%s) = %+v, want %+v", tc.name, tc.body, got, tc.want)
		}
	}
	if _, err := PeekRequest([]byte(`[]`)); !errors.Is(err, ErrNotObject) {
		t.Errorf("PeekRequest([]) error = %v, want ErrNotObject", err)
	}
}

func FuzzPeekRequest(f *testing.F) {
	for _, tc := range peekCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := PeekRequest(body)
		if err == nil && !json.Valid(body) {
			t.Fatalf("PeekRequest accepted invalid JSON %q as %+v", body, req)
		}
	})
}
