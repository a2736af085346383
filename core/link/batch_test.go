package link_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
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

// TestSendDataBatchTCPDirect sends batches over a real TCP link, where
// they are written straight from the caller while the writer is idle and
// queued (a frame possibly cut in two) when the socket is full, with
// control packets in between: everything must arrive intact and in order.
func TestSendDataBatchTCPDirect(t *testing.T) {
	var ra, rb linktest.Recorder
	cfgA := testConfig(1)
	cfgA.TCPListen = netip.MustParseAddrPort("[::1]:0")
	a, _ := startManager(t, cfgA, &ra)
	cfgB := testConfig(2)
	cfgB.Peers = []link.Endpoint{{Proto: link.ProtoTCP, Addr: a.TCPAddr()}}
	startManager(t, cfgB, &rb)
	lb := waitUp(t, &rb)
	waitUp(t, &ra)
	bs := lb.(link.BatchSender)
	const batches, per = 150, 30
	seq := uint32(0)
	for i := range batches {
		batch := make([][]byte, per)
		for j := range batch {
			batch[j] = dataPacket(200+(i*per+j)%1300, seq)
			seq++
		}
		if n, err := bs.SendDataBatch(batch, 5*time.Second); n != per || err != nil {
			t.Fatalf("batch %d: SendDataBatch = %d, %v", i, n, err)
		}
		if i%10 == 0 {
			if err := lb.SendControl(hello(uint16(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	var data [][]byte
	ctrl := 0
	eventually(t, "every packet arriving", func() bool {
		data, ctrl = data[:0], 0
		for _, e := range ra.Events() {
			switch e.Kind {
			case linktest.Data:
				data = append(data, e.Pkt)
			case linktest.Control:
				if _, ok := helloSeq(e.Pkt); ok {
					ctrl++
				}
			}
		}
		return len(data) >= batches*per && ctrl >= batches/10
	})
	for i, p := range data {
		if want := dataPacket(200+i%1300, uint32(i))[wire.OuterHeaderSize:]; !bytes.Equal(p, want) {
			t.Fatalf("data packet %d differs (lost, reordered or corrupted)", i)
		}
	}
}

// TestSendDataBatchCutFrame fills a TCP link whose peer does not read, so
// a direct write is cut inside a frame and the rest is queued, then reads
// the raw stream: every accepted packet must be there, whole and in order.
func TestSendDataBatchCutFrame(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	var r linktest.Recorder
	m, _ := startManager(t, testConfig(1), &r)
	if err := m.AddConn(conn, link.Endpoint{Proto: link.ProtoTCP, Addr: addrB}, link.KindStatic); err != nil {
		t.Fatal(err)
	}
	bs := waitUp(t, &r).(link.BatchSender)
	var sent [][]byte
	for len(sent) < 100000 {
		batch := make([][]byte, 7)
		for j := range batch {
			batch[j] = dataPacket(1301, uint32(len(sent)+j))
		}
		n, err := bs.SendDataBatch(batch, 0)
		sent = append(sent, batch[:n]...)
		if errors.Is(err, link.ErrQueueFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	want := 0
	for _, p := range sent {
		want += len(p)
	}
	peer.SetReadDeadline(time.Now().Add(20 * time.Second))
	stream := make([]byte, want)
	if _, err := io.ReadFull(peer, stream); err != nil {
		t.Fatalf("reading the %d bytes of %d accepted packets: %v", want, len(sent), err)
	}
	for i, p := range sent {
		if !bytes.Equal(stream[:len(p)], p) {
			t.Fatalf("packet %d of %d differs in the stream", i, len(sent))
		}
		stream = stream[len(p):]
	}
}
