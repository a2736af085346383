package wire

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

var chunkData = []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"llama3.2","system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":" token"},"logprobs":null,"finish_reason":null}],"usage":null}`)

func BenchmarkParseChunk(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ParseChunk(chunkData)
	}
}

func BenchmarkFrameReader(b *testing.B) {
	frame := "data: " + string(chunkData) + "\n\n"
	stream := []byte(strings.Repeat(frame, 100))
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		fr := NewFrameReader(bytes.NewReader(stream), 0)
		for {
			f, err := fr.Next()
			if err == io.EOF {
				break
			}
			data, _ := FrameData(f)
			ParseChunk(data)
		}
	}
}
