package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var sseCases = []struct {
	name   string
	in     string
	frames []string
	err    error
}{
	{"empty", "", nil, io.EOF},
	{"one event", "data: {}\n\n", []string{"data: {}\n\n"}, io.EOF},
	{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []string{"data: a\r\n\r\n", "data: b\r\n\r\n"}, io.EOF},
	{"done", "data: {\"x\":1}\n\ndata: [DONE]\n\n", []string{"data: {\"x\":1}\n\n", "data: [DONE]\n\n"}, io.EOF},
	{"multi line", "event: e\ndata: a\ndata: b\nid: 1\n\n", []string{"event: e\ndata: a\ndata: b\nid: 1\n\n"}, io.EOF},
	{"comment then event", ": keepalive\n\ndata: x\n\n", []string{": keepalive\n\n", "data: x\n\n"}, io.EOF},
	{"leading blank lines", "\n\ndata: x\n\n", []string{"\n\n", "data: x\n\n"}, io.EOF},
	{"partial", "data: x\n\ndata: y\n", []string{"data: x\n\n", "data: y\n"}, io.ErrUnexpectedEOF},
	{"partial no newline", "data: [DONE]", []string{"data: [DONE]"}, io.ErrUnexpectedEOF},
	{"lone cr stays in line", "data: a\rb\n\n", []string{"data: a\rb\n\n"}, io.EOF},
}

func TestFrameReader(t *testing.T) {
	for _, tc := range sseCases {
		t.Run(tc.name, func(t *testing.T) {
			fr := NewFrameReader(strings.NewReader(tc.in), 0)
			var got []string
			var err error
			for {
				var f []byte
				f, err = fr.Next()
				if len(f) > 0 {
					got = append(got, string(f))
				}
				if err != nil {
					break
				}
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("final error = %v, want %v", err, tc.err)
			}
			if diff := cmp.Diff(tc.frames, got); diff != "" {
				t.Errorf("frames (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFrameReaderLongLineAndLimit(t *testing.T) {
	long := "data: " + strings.Repeat("x", 100<<10) + "\n\n"
	fr := NewFrameReader(strings.NewReader(long+"data: y\n\n"), 0)
	f, err := fr.Next()
	if err != nil || string(f) != long {
		t.Fatalf("Next() = %d bytes, %v; want %d bytes", len(f), err, len(long))
	}
	fr = NewFrameReader(strings.NewReader(long), 1000)
	if _, err := fr.Next(); !errors.Is(err, ErrFrameTooLong) {
		t.Fatalf("Next() over limit: err = %v, want ErrFrameTooLong", err)
	}
}

func TestFrameData(t *testing.T) {
	tests := []struct {
		frame, data string
		ok          bool
	}{
		{"data: {\"a\":1}\n\n", `{"a":1}`, true},
		{"data:{\"a\":1}\r\n\r\n", `{"a":1}`, true},
		{"data: a\ndata: b\ndata:  c\n\n", "a\nb\n c", true},
		{": comment\n\n", "", false},
		{"event: ping\n\n", "", false},
		{"data\n\n", "", true},
		{"data: [DONE]\n\n", "[DONE]", true},
	}
	for _, tc := range tests {
		data, ok := FrameData([]byte(tc.frame))
		if string(data) != tc.data || ok != tc.ok {
			t.Errorf("FrameData(%q) = %q, %v; want %q, %v", tc.frame, data, ok, tc.data, tc.ok)
		}
	}
	if !IsDone([]byte("[DONE]")) || IsDone([]byte(`{"x":"[DONE]"}`)) {
		t.Error("IsDone misclassifies")
	}
}

// FuzzFrameReader checks that frames concatenate back to the input, that
// every complete frame ends in a blank line, and that nothing panics.
func FuzzFrameReader(f *testing.F) {
	for _, tc := range sseCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fr := NewFrameReader(bytes.NewReader(in), 1<<12)
		var out []byte
		for {
			frame, err := fr.Next()
			if errors.Is(err, ErrFrameTooLong) {
				return
			}
			out = append(out, frame...)
			if err == nil && !bytes.HasSuffix(frame, []byte("\n\n")) && !bytes.HasSuffix(frame, []byte("\r\n\r\n")) && !bytes.HasSuffix(frame, []byte("\n\r\n")) {
				t.Fatalf("frame %q does not end with a blank line", frame)
			}
			if err != nil {
				break
			}
			FrameData(frame)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("frames concatenate to %q, want %q", out, in)
		}
	})
}

func TestFrameReaderReset(t *testing.T) {
	fr := NewFrameReader(strings.NewReader("data: a\n\ndata: partial"), 0)
	if f, err := fr.Next(); err != nil || string(f) != "data: a\n\n" {
		t.Fatalf("Next() = %q, %v", f, err)
	}
	fr.Reset(strings.NewReader("data: b\n\n"), 0)
	if f, err := fr.Next(); err != nil || string(f) != "data: b\n\n" {
		t.Fatalf("after Reset: Next() = %q, %v; want only the new input", f, err)
	}
}
