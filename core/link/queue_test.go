package link

import (
	"errors"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/wire"
)

func TestChunkEnd(t *testing.T) {
	var b []byte
	var ends []int
	for _, p := range [][]byte{dataPkt(1000), helloPkt(1), dataPkt(0), dataPkt(5000), dataPkt(10)} {
		b = append(b, p...)
		ends = append(ends, len(b))
	}
	tests := []struct {
		off, size, want int
	}{
		{0, len(b), len(b)},
		{0, 1, ends[0]},
		{0, ends[0], ends[0]},
		{0, ends[0] + 1, ends[1]},
		{ends[1], 1, ends[2]},
		{ends[2], 100, ends[3]},
		{ends[3], 1, len(b)},
	}
	for _, tt := range tests {
		if got := chunkEnd(b, tt.off, tt.size); got != tt.want {
			t.Errorf("chunkEnd(off %d, size %d) = %d, want %d", tt.off, tt.size, got, tt.want)
		}
	}
}

func TestSendQueue(t *testing.T) {
	var q sendQueue
	q.init(3000, 100)
	if err := q.putData(dataPkt(1000)); err != nil {
		t.Fatal(err)
	}
	if err := q.putData(dataPkt(1000)); err != nil {
		t.Fatal(err)
	}
	if err := q.putData(dataPkt(1000)); !errors.Is(err, ErrQueueFull) {
		t.Errorf("putData over the limit = %v, want ErrQueueFull", err)
	}
	if err := q.putCtrl(helloPkt(1)); err != nil {
		t.Fatal(err)
	}
	if !q.ctrlPending.Load() {
		t.Error("ctrlPending not set")
	}
	for range 10 {
		if err := q.putCtrl(helloPkt(1)); err != nil {
			if !errors.Is(err, errControlOverflow) {
				t.Fatalf("putCtrl = %v, want errControlOverflow", err)
			}
			break
		}
	}
	ctrl, data, ok := q.take(nil, nil)
	if !ok || len(data) != 2*1040 || len(ctrl) == 0 || len(ctrl)%16 != 0 {
		t.Errorf("take = %d ctrl, %d data bytes, %v", len(ctrl), len(data), ok)
	}
	if q.ctrlPending.Load() {
		t.Error("ctrlPending still set after take")
	}
	// the writer blocks until something is queued
	got := make(chan int)
	go func() {
		_, d, _ := q.take(ctrl, data)
		got <- len(d)
	}()
	select {
	case <-got:
		t.Fatal("take returned with nothing queued")
	case <-time.After(10 * time.Millisecond):
	}
	if err := q.putData(dataPkt(1)); err != nil {
		t.Fatal(err)
	}
	if n := <-got; n != 41 {
		t.Errorf("take after putData got %d bytes, want 41", n)
	}
	q.close()
	if _, _, ok := q.take(nil, nil); ok {
		t.Error("take on a closed queue reported ok")
	}
	if err := q.putData(dataPkt(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("putData after close = %v, want ErrClosed", err)
	}
	if err := q.putCtrl(helloPkt(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("putCtrl after close = %v, want ErrClosed", err)
	}
}

func TestSendQueueNoAllocs(t *testing.T) {
	var q sendQueue
	q.init(1<<20, 1<<20)
	pkt := dataPkt(1432)
	var ctrl, data []byte
	// grow the buffers once
	for range 100 {
		_ = q.putData(pkt)
	}
	ctrl, data, _ = q.take(ctrl, data)
	for range 100 {
		_ = q.putData(pkt)
	}
	ctrl, data, _ = q.take(ctrl, data)
	allocs := testing.AllocsPerRun(100, func() {
		for range 100 {
			if err := checkFrame(pkt, wire.TypeData, wire.MaxDataBody); err != nil {
				t.Fatal(err)
			}
			_ = q.putData(pkt)
		}
		ctrl, data, _ = q.take(ctrl, data)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per 100 queued packets, want 0", allocs)
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := time.Second, 30*time.Second
	for n, want := range []time.Duration{1, 2, 4, 8, 16, 30, 30, 30} {
		want *= time.Second
		for range 50 {
			d := backoff(n, lo, hi)
			if d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n, d, want/2, want)
			}
		}
	}
	if d := backoff(1000, lo, hi); d > hi || d < hi/2 {
		t.Errorf("backoff(1000) = %v", d)
	}
}

func TestSendQueueBatch(t *testing.T) {
	batch := func(n int) [][]byte {
		var b [][]byte
		for range n {
			b = append(b, dataPkt(1000))
		}
		return b
	}
	frame := len(dataPkt(1000))
	tests := []struct {
		name    string
		queued  int // frames already queued
		pkts    int
		wait    time.Duration
		want    int
		wantErr error
	}{
		{"fits", 0, 3, 0, 3, nil},
		{"full, no wait", 1, 3, 0, 2, ErrQueueFull},
		{"full, wait times out", 3, 2, 20 * time.Millisecond, 0, ErrQueueFull},
		{"empty batch", 0, 0, time.Second, 0, nil},
	}
	for _, tt := range tests {
		var q sendQueue
		q.init(3*frame, 100)
		if n, err := q.putDataBatch(batch(tt.queued), 0); n != tt.queued || err != nil {
			t.Fatalf("%s: prefill = %d, %v", tt.name, n, err)
		}
		n, err := q.putDataBatch(batch(tt.pkts), tt.wait)
		if n != tt.want || !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: putDataBatch = %d, %v; want %d, %v", tt.name, n, err, tt.want, tt.wantErr)
		}
	}
}

func TestSendQueueBatchWaitsForWriter(t *testing.T) {
	var q sendQueue
	frame := len(dataPkt(1000))
	q.init(2*frame, 100)
	pkts := [][]byte{dataPkt(1000), dataPkt(1000), dataPkt(1000), dataPkt(1000), dataPkt(1000)}
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := q.putDataBatch(pkts, 10*time.Second)
		done <- result{n, err}
	}()
	var got int
	var data []byte
	for got < len(pkts) {
		var ok bool
		_, data, ok = q.take(nil, data[:0])
		if !ok {
			t.Fatal("queue closed")
		}
		if len(data) > 2*frame {
			t.Fatalf("took %d bytes, limit %d", len(data), 2*frame)
		}
		got += len(data) / frame
	}
	if r := <-done; r.n != len(pkts) || r.err != nil {
		t.Errorf("putDataBatch = %d, %v; want %d, nil", r.n, r.err, len(pkts))
	}
}

func TestSendQueueBatchCloseWakesWaiter(t *testing.T) {
	var q sendQueue
	frame := len(dataPkt(1000))
	q.init(frame, 100)
	done := make(chan error, 1)
	go func() {
		_, err := q.putDataBatch([][]byte{dataPkt(1000), dataPkt(1000)}, 10*time.Second)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	q.close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("putDataBatch after close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("close did not wake the waiting sender")
	}
}
