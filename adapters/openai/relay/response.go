package relay

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/mycelium-go/mycelium/adapters/openai/wire"
)

// Options tunes Response.
type Options struct {
	// Observe is called for every event that has data, before it is
	// forwarded, with the data and what ParseChunk found in it. It returns
	// false to drop the event. Nil forwards everything.
	Observe func(data []byte, c wire.Chunk) (forward bool)
	// IdleTimeout, if positive, calls OnIdle when the upstream sends
	// nothing for that long during an event stream. OnIdle should cancel
	// the upstream request, which makes the next read fail.
	IdleTimeout time.Duration
	OnIdle      func()
	// MaxFrameBytes bounds one event (wire.MaxFrameBytes if zero).
	MaxFrameBytes int
}

// Result reports what Response forwarded.
type Result struct {
	Status      int
	EventStream bool
	Events      int  // data events forwarded, not counting [DONE]
	Done        bool // the stream ended with data: [DONE]
	// LastWasError: the last forwarded event was an error event.
	LastWasError bool
	Usage        wire.Usage // the usage the upstream reported
	HasUsage     bool
	Bytes        int64 // body bytes written to the client
	// ReadErr is the error that ended reading the upstream body early
	// (nil at a clean end). The client has already received the status,
	// so the caller reports it in the stream (Interrupt) and aborts the
	// response (panic(http.ErrAbortHandler)).
	ReadErr error
	// WriteErr is the error writing to the client: it went away.
	WriteErr error
}

// Failed reports whether the copy ended early on either side.
func (r *Result) Failed() bool { return r.ReadErr != nil || r.WriteErr != nil }

// Response writes resp to w: headers, status, then the body. An event
// stream is forwarded one frame at a time, each written and flushed as
// soon as it is complete, so the client sees every token when the
// upstream sends it. Any other body is copied through as it arrives; a
// JSON body is scanned for its usage object on the way.
func Response(w http.ResponseWriter, resp *http.Response, opts Options) Result {
	res := Result{Status: resp.StatusCode, EventStream: IsEventStream(resp.Header)}
	CopyResponseHeaders(w.Header(), resp.Header, res.EventStream)
	if !res.EventStream && resp.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(resp.StatusCode)
	if res.EventStream {
		copyEvents(w, resp.Body, opts, &res)
	} else {
		copyBody(w, resp.Body, &res)
	}
	return res
}

func copyEvents(w http.ResponseWriter, body io.Reader, opts Options, res *Result) {
	rc := http.NewResponseController(w)
	if res.WriteErr = rc.Flush(); res.WriteErr != nil {
		return // headers go out at once: the client knows the stream started
	}
	var idle *time.Timer
	if opts.IdleTimeout > 0 && opts.OnIdle != nil {
		idle = time.AfterFunc(opts.IdleTimeout, opts.OnIdle)
		defer idle.Stop()
	}
	frames := frameReaders.Get().(*wire.FrameReader)
	frames.Reset(body, opts.MaxFrameBytes)
	defer func() {
		frames.Reset(nil, 0) // drop the body
		frameReaders.Put(frames)
	}()
	for {
		frame, err := frames.Next()
		if idle != nil {
			idle.Reset(opts.IdleTimeout) // any frame, keep-alives too, is progress
		}
		if err != nil {
			if err != io.EOF {
				res.ReadErr = err
			}
			return
		}
		if !forwardFrame(frame, opts.Observe, res) {
			continue
		}
		n, err := w.Write(frame)
		res.Bytes += int64(n)
		if res.WriteErr = err; err != nil {
			return
		}
		if res.WriteErr = rc.Flush(); res.WriteErr != nil {
			return
		}
	}
}

// forwardFrame records what the frame carries and reports whether to
// write it to the client.
func forwardFrame(frame []byte, observe func([]byte, wire.Chunk) bool, res *Result) bool {
	data, ok := wire.FrameData(frame)
	if !ok {
		return true // comments and keep-alives pass through
	}
	if wire.IsDone(data) {
		res.Done = true
		return true
	}
	c := wire.ParseChunk(data)
	if c.HasUsage {
		res.Usage, res.HasUsage = c.Usage, true
	}
	if observe != nil && !observe(data, c) {
		return false
	}
	res.Events++
	res.LastWasError = c.Error
	return true
}

// writeRecorder remembers the first error writing to the client, so a
// failed tee is told apart from a failed read.
type writeRecorder struct {
	w   io.Writer
	n   int64
	err error
}

func (r *writeRecorder) Write(p []byte) (int, error) {
	n, err := r.w.Write(p)
	r.n += int64(n)
	if err != nil && r.err == nil {
		r.err = err
	}
	return n, err
}

// frameReaders holds the frame readers of copyEvents and their buffers.
var frameReaders = sync.Pool{New: func() any { return wire.NewFrameReader(nil, 0) }}

// copyBuffers holds the buffers of copyBody, so that a response does not
// allocate 32 KiB.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func copyBody(w http.ResponseWriter, body io.Reader, res *Result) {
	out := &writeRecorder{w: w}
	if res.Status >= 200 && res.Status < 300 && isJSON(w.Header()) {
		res.Usage, res.HasUsage = wire.ScanUsage(io.TeeReader(body, out))
	}
	buf := copyBuffers.Get().(*[]byte)
	_, err := io.CopyBuffer(out, body, *buf)
	copyBuffers.Put(buf)
	res.Bytes = out.n
	switch {
	case out.err != nil:
		res.WriteErr = out.err
	case err != nil:
		res.ReadErr = err
	}
}

// Interrupt reports a broken stream to the client as a final error event,
// in the shape the openai clients raise as an APIError, and flushes it. It
// writes nothing if the last forwarded event already was an error. The
// caller then aborts the response so that the HTTP framing also shows the
// stream did not end cleanly.
func Interrupt(w http.ResponseWriter, res *Result, msg string) {
	if res.LastWasError || res.WriteErr != nil {
		return
	}
	e := &wire.Error{Status: http.StatusBadGateway, Message: msg, Type: wire.TypeServer, Code: wire.CodeStreamInterrupted}
	if _, err := w.Write(e.EventFrame()); err == nil {
		_ = http.NewResponseController(w).Flush()
	}
}

// ErrIdle is the cause given when an event stream is cancelled because
// the upstream went quiet for longer than Options.IdleTimeout.
var ErrIdle = errors.New("upstream sent nothing within the stream idle timeout")
