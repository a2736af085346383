package link

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mycelium-go/mycelium/core/wire"
)

// monoEpoch anchors LastReceive: links store monotonic nanoseconds since
// it in an atomic, which is cheaper than storing a time.Time per read.
var monoEpoch = time.Now()

func monoNow() int64 { return int64(time.Since(monoEpoch)) }

// linkOptions are the per-link settings a Manager derives from its Config.
type linkOptions struct {
	maxBody    int // largest data body a peer may announce
	readBuf    int // reader buffer size
	dataQueue  int // bytes of data frames that may wait for the writer
	ctrlQueue  int // bytes of control frames that may wait
	writeChunk int // largest data write between control checks
}

// linkBase is what stream and QUIC links share: identity, counters,
// the send queue and the once-only teardown.
type linkBase struct {
	h        Handler
	opts     linkOptions
	info     Info // static fields only; counters live below
	cost     uint16
	rx, tx   atomic.Uint64
	lastRecv atomic.Int64 // monoNow() of the last read
	reads    int          // stream read calls; reader-owned, for benchmarks

	q sendQueue

	closeOnce sync.Once
	cause     error  // why the link ended; set inside closeOnce, read after it
	shutdown  func() // closes the transport, unblocking reader and writer
}

func (b *linkBase) initBase(h Handler, opts linkOptions, info Info, shutdown func()) {
	b.h, b.opts, b.info, b.shutdown = h, opts, info, shutdown
	b.info.Since = time.Now()
	b.cost = staticCost(protoOf(info.Transport), info.Remote.Addr())
	b.lastRecv.Store(monoNow())
	b.q.init(opts.dataQueue, opts.ctrlQueue)
}

func protoOf(transport string) Proto {
	if transport == "quic" {
		return ProtoQUIC
	}
	return ProtoTCP
}

// fail ends the link with err as the reason; only the first call counts.
func (b *linkBase) fail(err error) {
	b.closeOnce.Do(func() {
		b.cause = err
		b.q.close()
		b.shutdown()
	})
}

// received records n bytes read from the neighbour.
func (b *linkBase) received(n int) {
	b.rx.Add(uint64(n))
	b.lastRecv.Store(monoNow())
}

// Close implements Link.
func (b *linkBase) Close() error {
	b.fail(ErrClosed)
	return nil
}

// SendDataBatch implements BatchSender.
func (b *linkBase) SendDataBatch(pkts [][]byte, wait time.Duration) (int, error) {
	if _, err := checkBatch(pkts); err != nil {
		return 0, err
	}
	return b.q.putDataBatch(pkts, wait)
}

// checkBatch validates every frame of a data batch and returns its size.
func checkBatch(pkts [][]byte) (int, error) {
	bytes := 0
	for i, p := range pkts {
		if err := checkFrame(p, wire.TypeData, wire.MaxDataBody); err != nil {
			return 0, fmt.Errorf("send data (packet %d of batch): %w", i, err)
		}
		bytes += len(p)
	}
	return bytes, nil
}

// StaticCost implements Link.
func (b *linkBase) StaticCost() uint16 { return b.cost }

// LastReceive implements Link.
func (b *linkBase) LastReceive() time.Time {
	return monoEpoch.Add(time.Duration(b.lastRecv.Load()))
}

// Info implements Link.
func (b *linkBase) Info() Info {
	i := b.info
	i.RxBytes, i.TxBytes = b.rx.Load(), b.tx.Load()
	return i
}

func addrString(a netip.AddrPort) string {
	if !a.IsValid() {
		return "?"
	}
	return a.String()
}
