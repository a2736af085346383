package openaitest

import (
	"bufio"
	"bytes"
	"io"
	"testing"
	"time"
)

// Event is one server-sent-events frame as a client received it.
type Event struct {
	Frame string        // the frame's bytes, blank line included
	At    time.Duration // when it arrived, since the request started
}

// ReadEvents reads a stream frame by frame ("\n"-terminated lines, a blank
// line ends a frame), timing each, until the body ends. It returns the
// frames and the error that ended the body: nil at a clean end.
func ReadEvents(body io.Reader, start time.Time) ([]Event, error) {
	br := bufio.NewReader(body)
	var out []Event
	var cur bytes.Buffer
	for {
		line, err := br.ReadString('\n')
		cur.WriteString(line)
		if line == "\n" {
			out = append(out, Event{Frame: cur.String(), At: time.Since(start)})
			cur.Reset()
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// AssertIncremental fails t unless the events arrived spread out the way
// an upstream with the given per-frame delay produced them: the second
// event (the first content) before half of the last one's arrival time,
// and at least half of the gaps between events at least delay/2. A relay
// that buffers or coalesces the stream fails both checks; a couple of
// frames bunched by a scheduler stall on a loaded machine do not.
func AssertIncremental(t testing.TB, events []Event, delay time.Duration) {
	t.Helper()
	if len(events) < 4 {
		t.Fatalf("only %d events", len(events))
	}
	total := events[len(events)-1].At
	if first := events[1].At; first > total/2 {
		t.Errorf("first content arrived after %v of %v: the stream was held back", first, total)
	}
	spread := 0
	for i := 2; i < len(events); i++ {
		if events[i].At-events[i-1].At >= delay/2 {
			spread++
		}
	}
	if gaps := len(events) - 2; spread*2 < gaps {
		var at []time.Duration
		for _, e := range events {
			at = append(at, e.At)
		}
		t.Errorf("only %d of %d gaps were at least %v (arrivals %v): frames were coalesced", spread, gaps, delay/2, at)
	}
}
