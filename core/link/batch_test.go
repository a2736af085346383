package link_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/link"
	"github.com/mycelium-go/mycelium/core/link/linktest"
	"github.com/mycelium-go/mycelium/core/wire"
)

func TestSendDataBatch(t *testing.T) {
	var ra, rb linktest.Recorder
	a, _ := startManager(t, testConfig(1), &ra)
	b, _ := startManager(t, testConfig(2), &rb)
	if _, err := linktest.Connect(a, b, addrA, addrB); err != nil {
		t.Fatal(err)
	}
	bs, ok := waitUp(t, &ra).(link.BatchSender)
	if !ok {
		t.Fatal("stream link does not implement BatchSender")
	}
	bad := [][]byte{dataPacket(10, 1), hello(1), dataPacket(10, 2)}
	if n, err := bs.SendDataBatch(bad, 0); n != 0 || err == nil {
		t.Errorf("SendDataBatch with a control packet inside = %d, %v; want 0 and an error", n, err)
	}
	var batch [][]byte
	for i := range 50 {
		batch = append(batch, dataPacket(100+i*20, uint32(i)))
	}
	if n, err := bs.SendDataBatch(batch, time.Second); n != len(batch) || err != nil {
		t.Fatalf("SendDataBatch = %d, %v; want %d, nil", n, err, len(batch))
	}
	var got [][]byte
	eventually(t, "the batch arriving", func() bool {
		got = nil
		for _, e := range rb.Events() {
			if e.Kind == linktest.Data {
				got = append(got, e.Pkt)
			}
		}
		return len(got) >= len(batch)
	})
	if len(got) != len(batch) {
		t.Fatalf("received %d data packets, want %d (the rejected batch must not be sent)", len(got), len(batch))
	}
	for i, p := range got {
		if !bytes.Equal(p, batch[i][wire.OuterHeaderSize:]) {
			t.Errorf("packet %d differs or is out of order", i)
		}
	}
}

func TestSendDataBatchWaitsForRoom(t *testing.T) {
	var r linktest.Recorder
	cfg := testConfig(1)
	cfg.SendQueueBytes = 128 << 10
	m, _ := startManager(t, cfg, &r)
	p := linktest.NewPairSize(addrA, addrB, 16<<10)
	if err := m.AddConn(p.A, link.Endpoint{Proto: link.ProtoTCP, Addr: addrB}, link.KindStatic); err != nil {
		t.Fatal(err)
	}
	bs := waitUp(t, &r).(link.BatchSender)
	pkt := dataPacket(1400, 0)
	batch := make([][]byte, 400) // ~570 KiB: more than queue, writer and pipe hold
	for i := range batch {
		batch[i] = pkt
	}
	// nobody reads: the wait runs out and the rest is refused
	start := time.Now()
	n, err := bs.SendDataBatch(batch, 30*time.Millisecond)
	if !errors.Is(err, link.ErrQueueFull) || n >= len(batch) {
		t.Fatalf("SendDataBatch into a stalled link = %d, %v; want fewer than %d and ErrQueueFull", n, err, len(batch))
	}
	if d := time.Since(start); d < 30*time.Millisecond || d > 5*time.Second {
		t.Errorf("SendDataBatch returned after %v, want about the 30 ms wait", d)
	}
	// a reader appears: the same batch now goes through by waiting
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := p.B.Read(buf); err != nil {
				return
			}
		}
	}()
	if n, err := bs.SendDataBatch(batch, 10*time.Second); n != len(batch) || err != nil {
		t.Errorf("SendDataBatch with a reader = %d, %v; want %d, nil", n, err, len(batch))
	}
}
