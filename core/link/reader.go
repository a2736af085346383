package link

import (
	"errors"
	"fmt"
	"io"

	"github.com/mycelium-go/mycelium/core/wire"
)

// ErrProtocol wraps the reason a link was dropped because the neighbour
// sent bytes that are not a valid packet stream.
var ErrProtocol = errors.New("link: protocol violation")

// maxFrameSize is the largest frame (outer header included) the reader
// must be able to hold whole for a data body bound of maxBody.
func maxFrameSize(maxBody int) int {
	data := wire.OuterHeaderSize + wire.DataHeaderSize + maxBody
	ctrl := wire.OuterHeaderSize + wire.ControlHeaderSize + 0xFFFF
	return max(data, ctrl)
}

// frameSink receives what a reader splits out of its input. Slices are
// valid only during the call.
type frameSink interface {
	deliverControl(pkt []byte)
	deliverData(pkts [][]byte)
}

// readStream reads framed packets from r until a read error, EOF or a
// framing error, handing them to s: data packets batched per read,
// control packets one by one, in stream order. The buffer is reused, so
// nothing is allocated per packet.
func (b *linkBase) readStream(r io.Reader, s frameSink) error {
	maxFrame := maxFrameSize(b.opts.maxBody)
	buf := make([]byte, max(b.opts.readBuf, 2*maxFrame))
	batch := make([][]byte, 0, 64)
	start, end := 0, 0
	for {
		n, err := r.Read(buf[end:])
		if n > 0 {
			b.reads++
			b.received(n)
			end += n
			var ferr error
			start, batch, ferr = splitFrames(buf[:end], start, b.opts.maxBody, batch, s)
			if ferr != nil {
				return ferr
			}
			switch {
			case start == end:
				start, end = 0, 0
			case len(buf)-start < maxFrame:
				end = copy(buf, buf[start:end])
				start = 0
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("read: connection closed by peer: %w", err)
			}
			return fmt.Errorf("read: %w", err)
		}
	}
}

// splitFrames delivers every complete frame in b[start:] and returns the
// offset of the first incomplete one.
func splitFrames(b []byte, start, maxBody int, batch [][]byte, s frameSink) (int, [][]byte, error) {
	for {
		n, typ, err := wire.FrameSize(b[start:], maxBody)
		if err != nil {
			flush(batch, s)
			return start, batch[:0], fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if n == 0 {
			break
		}
		pkt := b[start+wire.OuterHeaderSize : start+n]
		start += n
		if typ == wire.TypeData {
			batch = append(batch, pkt)
			continue
		}
		batch = flush(batch, s)
		s.deliverControl(pkt)
	}
	return start, flush(batch, s), nil
}

func flush(batch [][]byte, s frameSink) [][]byte {
	if len(batch) > 0 {
		s.deliverData(batch)
		clear(batch)
	}
	return batch[:0]
}
