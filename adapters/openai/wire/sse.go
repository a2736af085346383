package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxFrameBytes bounds one server-sent-events frame. Chat chunks are a few
// hundred bytes; a frame this large means a broken upstream.
const MaxFrameBytes = 8 << 20

// ErrFrameTooLong is returned by FrameReader.Next for a frame larger than
// its limit.
var ErrFrameTooLong = errors.New("server-sent event frame too long")

// FrameReader splits a text/event-stream body into frames. A frame is the
// exact bytes of one event: its lines and the blank line that ends it,
// with the original line endings ("\n" or "\r\n"). Concatenating the frames
// Next returns gives back the input, so a relay that writes each frame as
// it arrives forwards the stream byte for byte and never coalesces or
// splits events.
//
// A lone "\r" is not treated as a line ending (no OpenAI-style server uses
// it); it stays part of its line.
type FrameReader struct {
	r     *bufio.Reader
	max   int
	frame []byte
}

// NewFrameReader returns a FrameReader over r that rejects frames longer
// than maxBytes (MaxFrameBytes if maxBytes <= 0).
func NewFrameReader(r io.Reader, maxBytes int) *FrameReader {
	if maxBytes <= 0 {
		maxBytes = MaxFrameBytes
	}
	return &FrameReader{r: bufio.NewReaderSize(r, 16<<10), max: maxBytes}
}

// Reset makes f read from r with a new limit (as in NewFrameReader),
// keeping its buffers, so that readers can be pooled.
func (f *FrameReader) Reset(r io.Reader, maxBytes int) {
	if maxBytes <= 0 {
		maxBytes = MaxFrameBytes
	}
	f.r.Reset(r)
	f.max = maxBytes
	f.frame = f.frame[:0]
	if cap(f.frame) > 64<<10 {
		f.frame = nil // do not keep a huge frame's buffer in a pool
	}
}

// Next returns the next complete frame. The slice is valid until the next
// call. At the end of the input it returns io.EOF; if the input ends in
// the middle of a frame, it returns the partial frame with
// io.ErrUnexpectedEOF. Read errors are returned as they are, with any
// partial frame.
func (f *FrameReader) Next() ([]byte, error) {
	f.frame = f.frame[:0]
	for {
		line, err := f.readLine()
		f.frame = append(f.frame, line...)
		if len(f.frame) > f.max {
			return nil, fmt.Errorf("%w (more than %d bytes)", ErrFrameTooLong, f.max)
		}
		if err != nil {
			if err == io.EOF && len(f.frame) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return f.frame, err
		}
		if isBlankLine(line) && len(f.frame) > len(line) {
			return f.frame, nil
		}
	}
}

// readLine reads one line including its "\n", in pieces if the line is
// longer than the buffer.
func (f *FrameReader) readLine() ([]byte, error) {
	line, err := f.r.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return line, err
	}
	long := append([]byte(nil), line...)
	for err == bufio.ErrBufferFull {
		if len(long)+len(f.frame) > f.max {
			return long, nil // Next reports the overflow
		}
		line, err = f.r.ReadSlice('\n')
		long = append(long, line...)
	}
	return long, err
}

func isBlankLine(line []byte) bool {
	return bytes.Equal(line, []byte("\n")) || bytes.Equal(line, []byte("\r\n"))
}

// FrameData returns the event's data: the values of its "data" fields
// joined with "\n", as the EventSource algorithm builds them. ok is false
// if the frame has no data field (a comment or a bare event: line). For
// the usual one-line event the result aliases frame.
func FrameData(frame []byte) (data []byte, ok bool) {
	copied := false
	for len(frame) > 0 {
		var line []byte
		line, frame, _ = bytes.Cut(frame, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		name, value, _ := bytes.Cut(line, []byte(":"))
		if string(name) != "data" {
			continue
		}
		value = bytes.TrimPrefix(value, []byte(" "))
		switch {
		case !ok:
			data, ok = value, true
		case !copied:
			data = append(append([]byte(nil), data...), '\n')
			data, copied = append(data, value...), true
		default:
			data = append(append(data, '\n'), value...)
		}
	}
	return data, ok
}

// IsDone reports whether data is the terminal "[DONE]" sentinel.
func IsDone(data []byte) bool { return bytes.Equal(bytes.TrimSpace(data), []byte("[DONE]")) }
