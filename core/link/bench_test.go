package link

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countHandler counts delivered data packets and discards the rest.
type countHandler struct {
	pkts, bytes atomic.Uint64
	batches     atomic.Uint64
	elapsed     time.Duration // set by pump
	cpu         time.Duration // process CPU used during pump
}

func (h *countHandler) LinkUp(Link)                {}
func (h *countHandler) LinkDown(Link, error)       {}
func (h *countHandler) HandleControl(Link, []byte) {}
func (h *countHandler) HandleData(_ Link, pkts [][]byte) {
	h.batches.Add(1)
	h.pkts.Add(uint64(len(pkts)))
	for _, p := range pkts {
		h.bytes.Add(uint64(len(p)))
	}
}

func benchOptions() linkOptions {
	cfg := Default()
	return cfg.linkOptions()
}

// pump sends n copies of pkt, waiting briefly whenever the queue is full
// (a node would drop instead), then waits until h has seen them all or,
// for lossy datagrams, until deliveries stop for 200 ms.
func pump(b *testing.B, l Link, h *countHandler, pkt []byte, n int) (full int) {
	start, cpu0 := time.Now(), processCPU()
	for i := 0; i < n; {
		err := l.SendData(pkt)
		switch {
		case err == nil:
			i++
		case errors.Is(err, ErrQueueFull):
			full++
			time.Sleep(20 * time.Microsecond)
		default:
			b.Fatal(err)
		}
	}
	last, idle := h.pkts.Load(), time.Now()
	for last < uint64(n) && time.Since(idle) < 200*time.Millisecond {
		time.Sleep(20 * time.Microsecond)
		if now := h.pkts.Load(); now != last {
			last, idle = now, time.Now()
		}
	}
	b.StopTimer()
	h.elapsed = idle.Sub(start) // up to the last delivery
	h.cpu = processCPU() - cpu0
	return full
}

// reportRate reports delivered packets (and frame bits) per second and
// the fraction lost.
func reportRate(b *testing.B, h *countHandler, pkt []byte) {
	s := h.elapsed.Seconds()
	got := float64(h.pkts.Load())
	b.ReportMetric(got/s, "pkts/s")
	b.ReportMetric(got*float64(len(pkt))*8/s/1e9, "Gbit/s")
	b.ReportMetric(1-got/float64(b.N), "lost")
	if h.cpu > 0 {
		// both ends plus the benchmark loop, in one process
		b.ReportMetric(got*float64(len(pkt))*8/1e9/h.cpu.Seconds(), "Gbit/cpu-s")
	}
}

func BenchmarkStreamTCP(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	c2 := <-accepted
	tuneTCP(c1)
	tuneTCP(c2)
	ep := Endpoint{Proto: ProtoTCP, Addr: netip.MustParseAddrPort("127.0.0.1:1")}
	var sink countHandler
	tx := newStreamLink(c1, &countHandler{}, benchOptions(), ep, KindStatic)
	rx := newStreamLink(c2, &sink, benchOptions(), ep, KindInbound)
	var wg sync.WaitGroup
	wg.Go(func() { _ = tx.run() })
	wg.Go(func() { _ = rx.run() })

	pkt := dataPkt(1432) // 1472 bytes: a 1400-byte inner packet, sealed
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	b.ResetTimer()
	full := pump(b, tx, &sink, pkt, b.N)
	reportRate(b, &sink, pkt)
	tx.Close()
	rx.Close()
	wg.Wait()
	b.ReportMetric(float64(b.N)/float64(tx.writes), "pkts/write")
	b.ReportMetric(float64(b.N)/float64(rx.reads), "pkts/read")
	b.ReportMetric(float64(full)/float64(b.N), "queuefull/pkt")
}

// quicPair connects two QUIC endpoints on loopback and returns the
// dialling side's link and the accepting side's.
func quicBenchPair(b *testing.B, sink Handler) (tx, rx *quicLink, closeAll func()) {
	mk := func(id byte) *quicEndpoint {
		cfg := Default()
		cfg.RouterID[0] = id
		cfg.QUICListen = netip.MustParseAddrPort("127.0.0.1:0")
		q, err := listenQUIC(context.Background(), &cfg)
		if err != nil {
			b.Fatal(err)
		}
		return q
	}
	qa, qb := mk(1), mk(2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addr := qa.udp.LocalAddr().(*net.UDPAddr).AddrPort()
	conn, stream, err := qb.dial(ctx, addr)
	if err != nil {
		b.Fatal(err)
	}
	ep := Endpoint{Proto: ProtoQUIC, Addr: addr}
	tx = newQUICLink(conn, stream, &countHandler{}, benchOptions(), ep, KindStatic)
	if err := tx.SendControl(helloPkt(0)); err != nil { // materialise the stream
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = tx.run() })
	sc, err := qa.ln.Accept(ctx)
	if err != nil {
		b.Fatal(err)
	}
	ss, err := qa.acceptStream(ctx, sc, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	rx = newQUICLink(sc, ss, sink, benchOptions(), ep, KindInbound)
	wg.Go(func() { _ = rx.run() })
	return tx, rx, func() {
		tx.Close()
		rx.Close()
		wg.Wait()
		qa.closeListener()
		qb.closeListener()
		qa.close()
		qb.close()
	}
}

func benchQUIC(b *testing.B, body int) {
	var sink countHandler
	tx, _, closeAll := quicBenchPair(b, &sink)
	defer closeAll()
	pkt := dataPkt(body)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	b.ResetTimer()
	full := pump(b, tx, &sink, pkt, b.N)
	reportRate(b, &sink, pkt)
	s := tx.QUICStats()
	b.ReportMetric(float64(s.DatagramsSent)/float64(b.N), "dgram/pkt")
	b.ReportMetric(float64(full)/float64(b.N), "queuefull/pkt")
}

// BenchmarkQUICDatagram: 1400-byte frames, each one DATAGRAM frame.
func BenchmarkQUICDatagram(b *testing.B) { benchQUIC(b, 1360) }

// BenchmarkQUICStreamFallback: full-size 1472-byte frames, which exceed
// quic-go's datagram limit and go on the stream.
func BenchmarkQUICStreamFallback(b *testing.B) { benchQUIC(b, 1432) }
