package link

import (
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mycelium-go/mycelium/core/wire"
)

// errControlOverflow kills a link whose peer does not drain even control
// traffic: a neighbour that cannot absorb megabytes of Hellos and Updates
// is dead whatever its socket says.
var errControlOverflow = errors.New("link: control queue overflow, peer not reading")

// sendQueue holds complete framed packets waiting for a link's writer
// goroutine. Senders append copies under mu; the writer swaps the pending
// buffers for its own empty ones (double buffering) and writes everything
// it took in as few syscalls as possible, so a send costs one copy and no
// allocation once the buffers have grown.
//
// Control packets have their own buffer, written before any data and
// checked again between data chunks, so Hello/IHU never wait behind more
// than one chunk of data.
type sendQueue struct {
	mu struct {
		sync.Mutex
		ctrl   []byte // pending control frames
		data   []byte // pending data frames; len(data) <= dataLimit
		closed bool
		// room, when not nil, is closed by the next take (or close) to
		// wake senders waiting for space in a full queue.
		room chan struct{}
		// taken: the writer goroutine is writing what it took last.
		// direct: a sender is writing to the transport itself
		// (beginDirect); the writer takes nothing meanwhile.
		taken, direct bool
		// head is the unwritten end of a frame a direct write cut short;
		// the writer sends it before anything else.
		head []byte
	}
	dataLimit int
	ctrlLimit int
	// ctrlPending is set while mu.ctrl is non-empty, so the writer can
	// check for control between data chunks without taking the lock.
	ctrlPending atomic.Bool
	// wake holds a token when something was queued into empty buffers.
	wake chan struct{}
}

func (q *sendQueue) init(dataLimit, ctrlLimit int) {
	q.dataLimit, q.ctrlLimit = dataLimit, ctrlLimit
	q.wake = make(chan struct{}, 1)
}

// putData queues a copy of a data frame, or returns ErrQueueFull.
func (q *sendQueue) putData(pkt []byte) error {
	q.mu.Lock()
	if q.mu.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	if len(q.mu.data)+len(pkt) > q.dataLimit {
		q.mu.Unlock()
		return ErrQueueFull
	}
	idle := len(q.mu.data) == 0 && len(q.mu.ctrl) == 0
	q.mu.data = append(q.mu.data, pkt...)
	q.mu.Unlock()
	if idle {
		q.notify()
	}
	return nil
}

// putDataBatch queues copies of the data frames pkts in order under one
// lock. While the queue is too full for the next frame it waits for the
// writer to take what is pending, for at most wait in all; it returns the
// number of frames queued and ErrQueueFull (or ErrClosed) for the rest.
// Waiting allocates a timer and a channel, once per wait, not per frame.
func (q *sendQueue) putDataBatch(pkts [][]byte, wait time.Duration) (int, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	i := 0
	for {
		q.mu.Lock()
		if q.mu.closed {
			q.mu.Unlock()
			return i, ErrClosed
		}
		idle := len(q.mu.data) == 0 && len(q.mu.ctrl) == 0
		start := i
		for ; i < len(pkts) && len(q.mu.data)+len(pkts[i]) <= q.dataLimit; i++ {
			q.mu.data = append(q.mu.data, pkts[i]...)
		}
		var room chan struct{}
		if i < len(pkts) && wait > 0 {
			if q.mu.room == nil {
				q.mu.room = make(chan struct{})
			}
			room = q.mu.room
		}
		q.mu.Unlock()
		if idle && i > start {
			q.notify()
		}
		switch {
		case i == len(pkts):
			return i, nil
		case room == nil:
			return i, ErrQueueFull
		case timer == nil:
			timer = time.NewTimer(wait)
		}
		select {
		case <-room:
		case <-timer.C:
			return i, ErrQueueFull
		}
	}
}

// wakeRoom wakes senders waiting for room; the caller holds mu.
func (q *sendQueue) wakeRoom() {
	if q.mu.room != nil {
		close(q.mu.room)
		q.mu.room = nil
	}
}

// putCtrl queues a copy of a control frame. It fails only when the queue
// is closed or the control backlog exceeds ctrlLimit.
func (q *sendQueue) putCtrl(pkt []byte) error {
	q.mu.Lock()
	if q.mu.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	if len(q.mu.ctrl)+len(pkt) > q.ctrlLimit {
		q.mu.Unlock()
		return errControlOverflow
	}
	idle := len(q.mu.data) == 0 && len(q.mu.ctrl) == 0
	q.mu.ctrl = append(q.mu.ctrl, pkt...)
	q.ctrlPending.Store(true)
	q.mu.Unlock()
	if idle {
		q.notify()
	}
	return nil
}

func (q *sendQueue) notify() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// close makes further puts fail and wakes the writer.
func (q *sendQueue) close() {
	q.mu.Lock()
	q.mu.closed = true
	q.wakeRoom()
	q.mu.Unlock()
	q.notify()
}

// take waits until something is pending and no direct write is under
// way, then swaps the pending buffers with the writer's spares (which it
// empties) and returns what was pending; the head of a cut frame comes
// first in ctrl. Calling take again tells the queue that the writer is
// done with what it took. ok is false once the queue is closed; frames
// still pending then are dropped with the link.
func (q *sendQueue) take(ctrlSpare, dataSpare []byte) (ctrl, data []byte, ok bool) {
	for {
		q.mu.Lock()
		q.mu.taken = false
		if q.mu.closed {
			q.mu.Unlock()
			return ctrlSpare, dataSpare, false
		}
		if !q.mu.direct && (len(q.mu.ctrl) > 0 || len(q.mu.data) > 0 || len(q.mu.head) > 0) {
			if len(q.mu.head) > 0 {
				ctrl = append(append(ctrlSpare[:0], q.mu.head...), q.mu.ctrl...)
				q.mu.head, q.mu.ctrl = q.mu.head[:0], q.mu.ctrl[:0]
			} else {
				ctrl, q.mu.ctrl = q.mu.ctrl, ctrlSpare[:0]
			}
			data, q.mu.data = q.mu.data, dataSpare[:0]
			q.mu.taken = true
			q.ctrlPending.Store(false)
			q.wakeRoom()
			q.mu.Unlock()
			return ctrl, data, true
		}
		q.mu.Unlock()
		<-q.wake
	}
}

// beginDirect reports whether the caller may write bytes frames to the
// transport itself, bypassing the queue: nothing is queued or being
// written, and the frames would fit the queue should the write be cut
// short. On true the caller must call endDirect.
func (q *sendQueue) beginDirect(bytes int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.mu.closed || q.mu.taken || q.mu.direct || bytes > q.dataLimit ||
		len(q.mu.ctrl) > 0 || len(q.mu.data) > 0 || len(q.mu.head) > 0 {
		return false
	}
	q.mu.direct = true
	return true
}

// endDirect ends a direct write and queues what it did not write, in
// order: head (the rest of a frame it cut) before anything else, then the
// whole frames rest. It wakes the writer when anything is pending.
func (q *sendQueue) endDirect(head []byte, rest [][]byte) {
	q.mu.Lock()
	q.mu.direct = false
	if !q.mu.closed {
		q.mu.head = append(q.mu.head, head...)
		for _, p := range rest {
			q.mu.data = append(q.mu.data, p...)
		}
	}
	pending := len(q.mu.ctrl) > 0 || len(q.mu.data) > 0 || len(q.mu.head) > 0
	q.mu.Unlock()
	if pending {
		q.notify()
	}
}

// takeCtrl swaps out only the pending control frames, for the writer to
// send between data chunks.
func (q *sendQueue) takeCtrl(spare []byte) []byte {
	q.mu.Lock()
	ctrl := q.mu.ctrl
	q.mu.ctrl = spare[:0]
	q.ctrlPending.Store(false)
	q.mu.Unlock()
	return ctrl
}

// frameLen is the length of the well-formed frame at the start of b.
// Frames in a sendQueue were validated when queued.
func frameLen(b []byte) int {
	if b[1] == wire.TypeData {
		return wire.OuterHeaderSize + wire.DataHeaderSize + int(binary.BigEndian.Uint16(b[5:7]))
	}
	return wire.OuterHeaderSize + wire.ControlHeaderSize + int(binary.BigEndian.Uint16(b[6:8]))
}

// chunkEnd returns the end of the chunk of whole frames starting at off:
// the first frame boundary at or after off+size, or len(b).
func chunkEnd(b []byte, off, size int) int {
	if len(b)-off <= size {
		return len(b)
	}
	end := off
	for end < len(b) && end-off < size {
		end += frameLen(b[end:])
	}
	return end
}

// checkFrame verifies that pkt is exactly one well-formed frame of type
// typ, so nothing a caller passes can desynchronise the peer's stream.
func checkFrame(pkt []byte, typ byte, maxBody int) error {
	n, t, err := wire.FrameSize(pkt, maxBody)
	switch {
	case err != nil:
		return err
	case n == 0 || n != len(pkt) || t != typ:
		return errBadFrame
	}
	return nil
}

var errBadFrame = errors.New("link: not exactly one packet of the right type")
