package message

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/core/wire"
)

// tcpEnd is one end of a loopback TCP link with the reference's framing:
// each message frame travels as an outer header, a 36-byte data header and
// an AES-256-GCM sealed body holding the user header [1,1,0,0] and the
// frame, as a node sends it. Data frames wait in a queue bounded in bytes,
// like a link's (1 MiB); beyond it SendMessage fails.
type tcpEnd struct {
	kp     *identity.KeyPair
	peer   identity.PublicKey
	secret *identity.SharedSecret
	conn   net.Conn
	bus    *Bus

	mu     sync.Mutex
	cond   *sync.Cond
	queue  [][]byte
	queued int
	closed bool
	// rate, if set, paces the writer to this many bytes per second (a
	// slower link than loopback).
	rate float64

	wg sync.WaitGroup
}

const tcpQueueBytes = 1 << 20

func (e *tcpEnd) SendMessage(dst netip.Addr, frame []byte) error {
	pkt := make([]byte, 0, wire.OuterHeaderSize+wire.DataHeaderSize+wire.UserHeaderSize+len(frame)+identity.Overhead)
	pkt = wire.AppendOuterHeader(pkt, wire.TypeData)
	pkt = wire.AppendDataHeader(pkt, wire.DataHeader{
		Length:   uint16(wire.UserHeaderSize + len(frame) + identity.Overhead),
		HopLimit: 63, Src: e.kp.Address(), Dst: dst,
	})
	plain := append([]byte{wire.UserHeaderVersion, wire.KindMessage, 0, 0}, frame...)
	pkt = e.secret.Seal(pkt, plain)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("tcp link closed")
	}
	if e.queued+len(pkt) > tcpQueueBytes {
		return errors.New("tcp link queue full")
	}
	e.queue = append(e.queue, pkt)
	e.queued += len(pkt)
	e.cond.Signal()
	return nil
}

func (e *tcpEnd) PublicKeyOf(netip.Addr) (identity.PublicKey, bool) { return e.peer, true }

func (e *tcpEnd) writer() {
	defer e.wg.Done()
	w := bufio.NewWriterSize(e.conn, 64<<10)
	var batch [][]byte
	next := time.Now()
	for {
		e.mu.Lock()
		for len(e.queue) == 0 && !e.closed {
			e.cond.Wait()
		}
		if e.closed {
			e.mu.Unlock()
			return
		}
		batch, e.queue = e.queue, batch[:0]
		e.queued = 0
		e.mu.Unlock()
		n := 0
		for _, p := range batch {
			if _, err := w.Write(p); err != nil {
				return
			}
			n += len(p)
		}
		if e.rate > 0 {
			if now := time.Now(); next.Before(now) {
				next = now
			}
			next = next.Add(time.Duration(float64(n) / e.rate * float64(time.Second)))
			time.Sleep(time.Until(next))
		}
		if err := w.Flush(); err != nil {
			return
		}
	}
}

func (e *tcpEnd) reader() {
	defer e.wg.Done()
	r := bufio.NewReaderSize(e.conn, 64<<10)
	hdr := make([]byte, wire.OuterHeaderSize+wire.DataHeaderSize)
	body := make([]byte, 0, 1<<16)
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return
		}
		h, err := wire.DecodeDataHeader(hdr[wire.OuterHeaderSize:])
		if err != nil {
			return
		}
		body = body[:h.Length]
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		plain, err := e.secret.Open(body[:0:0], body)
		if err != nil {
			panic(err)
		}
		kind, payload, err := wire.ParseUserHeader(plain)
		if err != nil || kind != wire.KindMessage {
			panic("bad user header")
		}
		e.bus.Handle(h.Src, h.Dst, payload)
	}
}

func (e *tcpEnd) close() {
	e.mu.Lock()
	e.closed = true
	e.cond.Broadcast()
	e.mu.Unlock()
	e.conn.Close()
	e.wg.Wait()
}

// tcpPair starts two buses joined by a loopback TCP link.
func tcpPair(tb testing.TB, mod func(*Config)) (a, b *tcpEnd) {
	return tcpPairRate(tb, mod, 0)
}

// tcpPairRate is tcpPair with both writers paced to rate bytes/s.
func tcpPairRate(tb testing.TB, mod func(*Config), rate float64) (a, b *tcpEnd) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	ca, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	cb := <-accepted
	kpA, _ := identity.GenerateKeyPair()
	kpB, _ := identity.GenerateKeyPair()
	a = newTCPEnd(tb, kpA, kpB.Public(), ca, mod, rate)
	b = newTCPEnd(tb, kpB, kpA.Public(), cb, mod, rate)
	return a, b
}

func newTCPEnd(tb testing.TB, kp *identity.KeyPair, peer identity.PublicKey, conn net.Conn, mod func(*Config), rate float64) *tcpEnd {
	tb.Helper()
	secret, err := kp.SharedSecret(peer)
	if err != nil {
		tb.Fatal(err)
	}
	e := &tcpEnd{kp: kp, peer: peer, secret: secret, conn: conn, rate: rate}
	e.cond = sync.NewCond(&e.mu)
	cfg := Default()
	cfg.Key = kp.Public()
	cfg.MaxInboxMessages = 1 << 16
	cfg.MaxTopicMessages = 1 << 16
	if mod != nil {
		mod(&cfg)
	}
	if e.bus, err = New(cfg, e, e, quietLog()); err != nil {
		tb.Fatal(err)
	}
	if err := e.bus.Start(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	e.wg.Add(2)
	go e.writer()
	go e.reader()
	tb.Cleanup(func() {
		e.close()
		e.bus.Close()
	})
	return e
}
