package netstack

import (
	"io"
	"os"

	wgtun "golang.zx2c4.com/wireguard/tun"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Read implements tun.Device: it blocks until the stack has sent at least
// one packet, then fills as many of bufs as it can, each with one IPv6
// packet of at most MTU bytes starting at offset, and sets sizes. TCP
// super-segments are split here. Every buffer must hold offset+MTU bytes.
// After Close, Read returns os.ErrClosed. One Read runs at a time.
func (s *Stack) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	for _, b := range bufs {
		if len(b)-offset < s.cfg.MTU {
			return 0, io.ErrShortBuffer
		}
	}
	if len(sizes) < len(bufs) {
		return 0, io.ErrShortBuffer
	}
	for {
		if n := s.fill(bufs, sizes, offset); n > 0 {
			return n, nil
		}
		select {
		case <-s.link.notify:
		case <-s.link.closing:
			if n := s.fill(bufs, sizes, offset); n > 0 {
				return n, nil
			}
			return 0, os.ErrClosed
		}
	}
}

// fill moves packets from the outbound queue into bufs without blocking.
func (s *Stack) fill(bufs [][]byte, sizes []int, offset int) int {
	rd := &s.rd
	rd.Lock()
	defer rd.Unlock()
	n := 0
	for n < len(bufs) {
		if rd.seg.active() {
			if size := rd.seg.next(bufs[n][offset:]); size > 0 {
				sizes[n] = size
				n++
			}
			continue
		}
		if rd.next == len(rd.pending) {
			rd.pending, rd.next = s.link.swap(rd.pending[:0]), 0
			if len(rd.pending) == 0 {
				break
			}
		}
		pkt := rd.pending[rd.next]
		rd.pending[rd.next] = nil
		rd.next++
		if pkt.GSOOptions.Type == stack.GSOTCPv6 {
			rd.seg.start(pkt)
			continue
		}
		if size := copyPacket(bufs[n][offset:], pkt); size > 0 {
			sizes[n] = size
			n++
		}
		pkt.DecRef()
	}
	return n
}

// Write implements tun.Device: it hands each IPv6 packet in bufs (from
// offset to the end of the slice) to the stack and returns len(bufs).
// Packets that are not IPv6 and packets with a bad TCP, UDP or ICMPv6
// checksum are dropped, as a TUN would drop them. TCP segments of one flow
// within the batch are coalesced (GRO) first; see coalescer. After
// Close, Write returns os.ErrClosed. One Write runs at a time.
func (s *Stack) Write(bufs [][]byte, offset int) (int, error) {
	s.wr.Lock()
	defer s.wr.Unlock()
	if s.wr.closed {
		return 0, os.ErrClosed
	}
	d := s.link.dispatcher()
	if d == nil {
		return 0, os.ErrClosed
	}
	batch := s.wr.batch[:0]
	for _, b := range bufs {
		if offset > len(b) {
			continue
		}
		p := b[offset:]
		if len(p) < header.IPv6MinimumSize || header.IPVersion(p) != header.IPv6Version || !rxChecksumOK(p) {
			continue
		}
		batch = append(batch, p)
	}
	s.wr.co.run(d, batch)
	clear(batch) // do not keep the node's buffers reachable
	s.wr.batch = batch[:0]
	return len(bufs), nil
}

// BatchSize implements tun.Device.
func (s *Stack) BatchSize() int { return batchSize }

// MTU implements tun.Device.
func (s *Stack) MTU() (int, error) { return s.cfg.MTU, nil }

// Name implements tun.Device.
func (s *Stack) Name() (string, error) { return "netstack", nil }

// Events implements tun.Device: one EventUp, closed by Close.
func (s *Stack) Events() <-chan wgtun.Event { return s.events }

// File implements tun.Device: a userspace stack has no file descriptor.
func (s *Stack) File() *os.File { return nil }

var _ wgtun.Device = (*Stack)(nil)
