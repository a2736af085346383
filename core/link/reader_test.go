package link

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/mycelium-go/mycelium/core/wire"
)

// sinkRecorder collects what readStream delivers, tagged by type.
type sinkRecorder struct {
	pkts    [][]byte
	types   []byte
	batches int
}

func (s *sinkRecorder) deliverControl(p []byte) {
	s.pkts = append(s.pkts, slices.Clone(p))
	s.types = append(s.types, wire.TypeControl)
}

func (s *sinkRecorder) deliverData(ps [][]byte) {
	s.batches++
	for _, p := range ps {
		s.pkts = append(s.pkts, slices.Clone(p))
		s.types = append(s.types, wire.TypeData)
	}
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	b []byte
	n int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), r.n)], r.b)
	r.b = r.b[k:]
	return k, nil
}

func testBase(maxBody int) *linkBase {
	b := &linkBase{}
	b.initBase(nil, linkOptions{maxBody: maxBody, readBuf: 0, dataQueue: 1 << 20, ctrlQueue: 1 << 20}, Info{}, func() {})
	return b
}

// parseAll splits a whole stream at once: the expected result for any
// chunking.
func parseAll(b []byte, maxBody int) (pkts [][]byte, types []byte, err error) {
	for {
		n, typ, ferr := wire.FrameSize(b, maxBody)
		if ferr != nil {
			return pkts, types, ferr
		}
		if n == 0 {
			return pkts, types, nil
		}
		pkts = append(pkts, b[wire.OuterHeaderSize:n])
		types = append(types, typ)
		b = b[n:]
	}
}

func streamOf(pkts ...[]byte) []byte { return bytes.Join(pkts, nil) }

func helloPkt(seq uint16) []byte {
	return wire.AppendControl(nil, &wire.TLV{Type: wire.TLVHello, Hello: wire.Hello{Seqno: wire.SeqNo(seq), Interval: 2000}})
}

func dataPkt(n int) []byte {
	b := wire.AppendOuterHeader(nil, wire.TypeData)
	b = wire.AppendDataHeader(b, wire.DataHeader{Length: uint16(n), HopLimit: 64})
	return append(b, bytes.Repeat([]byte{0xab}, n)...)
}

func TestReadStreamChunkings(t *testing.T) {
	stream := streamOf(helloPkt(1), dataPkt(0), dataPkt(1400), helloPkt(2), dataPkt(65535), dataPkt(3), helloPkt(3))
	want, wantTypes, _ := parseAll(stream, wire.MaxDataBody)
	for _, chunk := range []int{1, 3, 4, 5, 7, 100, 1500, 70000, 1 << 20} {
		b := testBase(wire.MaxDataBody)
		var s sinkRecorder
		err := b.readStream(&chunkReader{b: stream, n: chunk}, &s)
		if !errors.Is(err, io.EOF) {
			t.Errorf("chunk %d: readStream = %v, want EOF", chunk, err)
		}
		if !slices.EqualFunc(s.pkts, want, bytes.Equal) || !bytes.Equal(s.types, wantTypes) {
			t.Errorf("chunk %d: delivered %d packets, want %d in the same order", chunk, len(s.pkts), len(want))
		}
		if got := b.rx.Load(); got != uint64(len(stream)) {
			t.Errorf("chunk %d: rx = %d, want %d", chunk, got, len(stream))
		}
	}
}

func TestReadStreamErrors(t *testing.T) {
	tests := []struct {
		name    string
		stream  []byte
		maxBody int
		want    error
	}{
		{"bad version", []byte{2, 0, 0, 0}, wire.MaxDataBody, wire.ErrVersion},
		{"bad type", []byte{1, 9, 0, 0, 0, 0, 0, 0}, wire.MaxDataBody, wire.ErrPacketType},
		{"bad control magic", []byte{1, 1, 0, 0, 43, 3, 0, 0}, wire.MaxDataBody, wire.ErrControlHead},
		{"body over bound", dataPkt(2000), 1500, wire.ErrTooLarge},
		{"garbage after a packet", append(helloPkt(1), 0xff, 0xff), wire.MaxDataBody, wire.ErrVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s sinkRecorder
			err := testBase(tt.maxBody).readStream(&chunkReader{b: tt.stream, n: 1 << 20}, &s)
			if !errors.Is(err, ErrProtocol) || !errors.Is(err, tt.want) {
				t.Errorf("readStream = %v, want ErrProtocol wrapping %v", err, tt.want)
			}
		})
	}
}

func TestReadStreamTruncatedIsEOF(t *testing.T) {
	var s sinkRecorder
	stream := dataPkt(100)
	err := testBase(wire.MaxDataBody).readStream(&chunkReader{b: stream[:50], n: 10}, &s)
	if !errors.Is(err, io.EOF) || len(s.pkts) != 0 {
		t.Errorf("truncated stream: err %v, %d packets; want EOF and none", err, len(s.pkts))
	}
}

func TestReadStreamBatchesPerRead(t *testing.T) {
	var stream []byte
	for range 50 {
		stream = append(stream, dataPkt(1000)...)
	}
	var s sinkRecorder
	_ = testBase(wire.MaxDataBody).readStream(&chunkReader{b: stream, n: len(stream)}, &s)
	if len(s.pkts) != 50 || s.batches != 1 {
		t.Errorf("one read of 50 packets: %d packets in %d batches, want 50 in 1", len(s.pkts), s.batches)
	}
}

func FuzzReadStream(f *testing.F) {
	f.Add(streamOf(helloPkt(1), dataPkt(10)), byte(3), uint16(1500))
	f.Add(streamOf(dataPkt(0), helloPkt(2), dataPkt(300)), byte(1), uint16(65535))
	f.Add([]byte{1, 0, 0, 0, 0, 0xff, 0xff, 0}, byte(200), uint16(100))
	f.Add([]byte{1, 1, 0, 0, 42, 3, 0, 0}, byte(5), uint16(0))
	f.Fuzz(func(t *testing.T, stream []byte, chunk byte, maxBody uint16) {
		want, wantTypes, wantErr := parseAll(stream, int(maxBody))
		var s sinkRecorder
		err := testBase(int(maxBody)).readStream(&chunkReader{b: stream, n: int(chunk) + 1}, &s)
		if wantErr != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("readStream = %v, want a protocol error (%v)", err, wantErr)
			}
		} else if !errors.Is(err, io.EOF) {
			t.Fatalf("readStream = %v, want EOF", err)
		}
		if !slices.EqualFunc(s.pkts, want, bytes.Equal) || !bytes.Equal(s.types, wantTypes) {
			t.Fatalf("delivered %d packets, want %d", len(s.pkts), len(want))
		}
	})
}
