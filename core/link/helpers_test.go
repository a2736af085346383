package link_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mycelium-go/mycelium/core/link"
	"github.com/mycelium-go/mycelium/core/link/linktest"
	"github.com/mycelium-go/mycelium/core/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// logBuffer is a goroutine-safe log sink that tests can search.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testLogger(t *testing.T) (*slog.Logger, *logBuffer) {
	t.Helper()
	lb := &logBuffer{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

func routerID(b byte) wire.RouterID {
	var id wire.RouterID
	for i := range id {
		id[i] = b
	}
	return id
}

// testConfig is a config with nothing listening and short timers.
func testConfig(id byte) link.Config {
	cfg := link.Default()
	cfg.RouterID = routerID(id)
	cfg.TCPListen = netip.AddrPort{}
	cfg.DisableQUIC = true
	cfg.DisableDiscovery = true
	cfg.DialTimeout = 2 * time.Second
	cfg.ReconnectMin = 20 * time.Millisecond
	cfg.ReconnectMax = 200 * time.Millisecond
	cfg.BackoffReset = 0
	return cfg
}

// startManager starts a manager and closes it at cleanup.
func startManager(t *testing.T, cfg link.Config, h link.Handler) (*link.Manager, *logBuffer) {
	t.Helper()
	log, lb := testLogger(t)
	m, err := link.New(cfg, h, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return m, lb
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// hello is a complete control packet (outer header included).
func hello(seq uint16) []byte {
	return wire.AppendControl(nil, &wire.TLV{Type: wire.TLVHello,
		Hello: wire.Hello{Flags: wire.HelloFlagUnicast, Seqno: wire.SeqNo(seq), Interval: wire.HelloInterval}})
}

// dataPacket is a complete data packet (outer header included) with a
// body of n bytes whose first bytes carry seq.
func dataPacket(n int, seq uint32) []byte {
	b := wire.AppendOuterHeader(nil, wire.TypeData)
	b = wire.AppendDataHeader(b, wire.DataHeader{
		Length: uint16(n), HopLimit: 64,
		Src: netip.MustParseAddr("400::1"), Dst: netip.MustParseAddr("400::2"),
	})
	body := make([]byte, n)
	for i := range body {
		body[i] = byte(i)
	}
	if n >= 4 {
		body[0], body[1], body[2], body[3] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
	}
	return append(b, body...)
}

// waitUp waits for the first LinkUp recorded by r.
func waitUp(t *testing.T, r *linktest.Recorder) link.Link {
	t.Helper()
	e, err := r.WaitKind(ctx(t), linktest.Up, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.Link
}

func waitDown(t *testing.T, r *linktest.Recorder, l link.Link) error {
	t.Helper()
	e, err := r.WaitKind(ctx(t), linktest.Down, l)
	if err != nil {
		t.Fatal(err)
	}
	return e.Err
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// helloSeq returns the seqno of a Hello control packet (outer header
// stripped).
func helloSeq(pkt []byte) (uint16, bool) {
	r, err := wire.NewControlReader(pkt)
	if err != nil {
		return 0, false
	}
	var tlv wire.TLV
	if !r.Next(&tlv) || tlv.Type != wire.TLVHello {
		return 0, false
	}
	return uint16(tlv.Hello.Seqno), true
}
