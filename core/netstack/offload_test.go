package netstack

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// captureDispatcher records what the coalescer delivers.
type captureDispatcher struct{ pkts [][]byte }

func (c *captureDispatcher) DeliverNetworkPacket(_ tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	v := pkt.ToView()
	c.pkts = append(c.pkts, bytes.Clone(v.AsSlice()))
	v.Release()
}

func (c *captureDispatcher) DeliverLinkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {}

// tcpPkt builds an IPv6/TCP packet of flow port sport -> 80.
func tcpPkt(sport uint16, seq uint32, flags uint8, opts []byte, data []byte) []byte {
	hl := 20 + len(opts)
	t := make([]byte, hl+len(data))
	binary.BigEndian.PutUint16(t[0:], sport)
	binary.BigEndian.PutUint16(t[2:], 80)
	binary.BigEndian.PutUint32(t[4:], seq)
	binary.BigEndian.PutUint32(t[8:], 777)
	t[12] = byte(hl/4) << 4
	t[13] = flags
	binary.BigEndian.PutUint16(t[14:], 1000)
	copy(t[20:], opts)
	copy(t[hl:], data)
	return buildPacket(addrB, addrA, 6, t, 16)
}

const (
	fACK = 0x10
	fPSH = 0x08
	fFIN = 0x01
)

// seqOf and payloadOf read a delivered TCP packet.
func seqOf(p []byte) uint32     { return binary.BigEndian.Uint32(p[44:]) }
func payloadOf(p []byte) []byte { return p[40+tcpHeaderLen(p):] }

func TestCoalescer(t *testing.T) {
	d1, d2, d3 := bytes.Repeat([]byte{1}, 100), bytes.Repeat([]byte{2}, 100), bytes.Repeat([]byte{3}, 100)
	ts := []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}
	ts2 := []byte{1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 2}
	type out struct {
		Seq     uint32
		Payload int
		PSH     bool
	}
	tests := []struct {
		name  string
		batch [][]byte
		want  []out
	}{
		{"run of three merges", [][]byte{
			tcpPkt(1, 100, fACK, nil, d1), tcpPkt(1, 200, fACK, nil, d2), tcpPkt(1, 300, fACK|fPSH, nil, d3),
		}, []out{{100, 300, true}}},
		{"gap splits", [][]byte{
			tcpPkt(1, 100, fACK, nil, d1), tcpPkt(1, 250, fACK, nil, d2),
		}, []out{{100, 100, false}, {250, 100, false}}},
		{"short segment closes the run", [][]byte{
			tcpPkt(1, 100, fACK, nil, d1), tcpPkt(1, 200, fACK, nil, d2[:50]), tcpPkt(1, 250, fACK, nil, d3),
		}, []out{{100, 150, false}, {250, 100, false}}},
		{"psh closes the run", [][]byte{
			tcpPkt(1, 100, fACK|fPSH, nil, d1), tcpPkt(1, 200, fACK, nil, d2),
		}, []out{{100, 100, true}, {200, 100, false}}},
		{"options must match", [][]byte{
			tcpPkt(1, 100, fACK, ts, d1), tcpPkt(1, 200, fACK, ts, d2), tcpPkt(1, 300, fACK, ts2, d3),
		}, []out{{100, 200, false}, {300, 100, false}}},
		{"fin flushes its flow first", [][]byte{
			tcpPkt(1, 100, fACK, nil, d1), tcpPkt(1, 200, fACK, nil, d2), tcpPkt(1, 300, fACK|fFIN, nil, nil),
		}, []out{{100, 200, false}, {300, 0, false}}},
		{"flows interleave", [][]byte{
			tcpPkt(1, 100, fACK, nil, d1), tcpPkt(2, 900, fACK, nil, d2), tcpPkt(1, 200, fACK, nil, d3),
			tcpPkt(2, 1000, fACK, nil, d1),
		}, []out{{100, 200, false}, {900, 200, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d captureDispatcher
			c := coalescer{enabled: true}
			c.run(&d, tt.batch)
			var got []out
			var data []byte
			for _, p := range d.pkts {
				if err := checkIPv6Length(p); err != nil {
					t.Fatalf("delivered packet: %v", err)
				}
				got = append(got, out{seqOf(p), len(payloadOf(p)), p[40+13]&fPSH != 0})
				data = append(data, payloadOf(p)...)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("delivered segments (-want +got):\n%s", diff)
			}
			var in []byte
			for _, p := range tt.batch {
				in = append(in, payloadOf(p)...)
			}
			if len(data) != len(in) {
				t.Fatalf("delivered %d payload bytes, want %d", len(data), len(in))
			}
		})
	}
}

// checkIPv6Length verifies the payload length field of p.
func checkIPv6Length(p []byte) error {
	if int(binary.BigEndian.Uint16(p[4:]))+40 != len(p) {
		return errLength
	}
	return nil
}

var errLength = bytes.ErrTooLarge

func TestSegmenter(t *testing.T) {
	const mss = 1000
	data := make([]byte, 3*mss+123)
	for i := range data {
		data[i] = byte(i * 7)
	}
	opts := []byte{1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8} // NOP NOP timestamps
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{
		ReserveHeaderBytes: 40 + 20 + len(opts),
		Payload:            buffer.MakeWithData(data),
	})
	defer pkt.DecRef()
	tcp := header.TCP(pkt.TransportHeader().Push(20 + len(opts)))
	tcp.Encode(&header.TCPFields{SrcPort: 1, DstPort: 2, SeqNum: 0xfffffff0, AckNum: 9,
		DataOffset: uint8(20 + len(opts)), Flags: header.TCPFlagAck | header.TCPFlagPsh | header.TCPFlagFin, WindowSize: 50})
	copy(tcp[20:], opts)
	ip := header.IPv6(pkt.NetworkHeader().Push(40))
	ip.Encode(&header.IPv6Fields{PayloadLength: uint16(len(tcp) + len(data)), TransportProtocol: header.TCPProtocolNumber,
		HopLimit: 64, SrcAddr: tcpip.AddrFrom16(addrA.As16()), DstAddr: tcpip.AddrFrom16(addrB.As16())})
	pkt.GSOOptions = stack.GSO{Type: stack.GSOTCPv6, NeedsCsum: true, MSS: mss, L3HdrLen: 40}

	var g segmenter
	if !g.start(pkt.IncRef()) {
		t.Fatal("start() = false for a valid super-segment")
	}
	var got []byte
	seq := uint32(0xfffffff0)
	for i := 0; g.active(); i++ {
		buf := make([]byte, 1400)
		n := g.next(buf)
		seg := buf[:n]
		if err := checkPacket(seg, 1400); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		if s := seqOf(seg); s != seq {
			t.Fatalf("segment %d seq %#x, want %#x", i, s, seq)
		}
		last := len(got)+len(payloadOf(seg)) == len(data)
		if fin := seg[40+13]&(fFIN|fPSH) != 0; fin != last {
			t.Fatalf("segment %d FIN/PSH set = %v, want %v", i, fin, last)
		}
		if !bytes.Equal(seg[60:72], opts) {
			t.Fatalf("segment %d lost the TCP options", i)
		}
		got = append(got, payloadOf(seg)...)
		seq += uint32(len(payloadOf(seg)))
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("reassembled %d bytes differ from the %d sent", len(got), len(data))
	}
}

func TestRXChecksum(t *testing.T) {
	good := tcpPkt(1, 100, fACK, nil, []byte("data"))
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 0xff
	udp := buildPacket(addrB, addrA, 17, []byte{0, 1, 0, 2, 0, 12, 0, 0, 'a', 'b', 'c', 'd'}, 6)
	tests := []struct {
		name string
		pkt  []byte
		want bool
	}{
		{"good tcp", good, true},
		{"corrupt tcp", bad, false},
		{"good udp", udp, true},
		{"truncated", good[:30], true},
		{"length beyond packet", append(bytes.Clone(good[:4]), append([]byte{0xff, 0xff}, good[6:]...)...), true},
		{"other protocol", buildPacket(addrB, addrA, 59, []byte{0, 0}, 0), true},
	}
	for _, tt := range tests {
		if got := rxChecksumOK(tt.pkt); got != tt.want {
			t.Errorf("%s: rxChecksumOK() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// FuzzWrite feeds arbitrary packets into a stack's device end: nothing may
// panic, and the stack must still work afterwards.
func FuzzWrite(f *testing.F) {
	f.Add(tcpPkt(1, 100, fACK, nil, []byte("x")), []byte{})
	f.Add(tcpPkt(1, 100, 0x02, []byte{2, 4, 5, 0}, nil), tcpPkt(1, 101, fACK, nil, []byte("y")))
	f.Add(buildPacket(addrB, addrA, 58, []byte{128, 0, 0, 0, 0, 1, 0, 1}, 2), []byte{0x60})
	f.Add(buildPacket(addrB, addrA, 17, []byte{0, 1, 0, 53, 0, 9, 0, 0, 'q'}, 6), []byte{})
	f.Add(buildPacket(addrB, addrA, 44, []byte{6, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3, 4}, 0), []byte{})
	s, err := New(Config{Addr: addrA})
	if err != nil {
		f.Fatalf("New() = %v", err)
	}
	f.Cleanup(func() { s.Close() })
	go drain(s)
	f.Fuzz(func(t *testing.T, a, b []byte) {
		for _, p := range [][]byte{a, b} {
			if len(p) >= 40 {
				copy(p[24:40], addrA.AsSlice()) // aim at the stack
			}
		}
		bufs := [][]byte{append(make([]byte, offset), a...), append(make([]byte, offset), b...), append(make([]byte, offset), a...)}
		if _, err := s.Write(bufs, offset); err != nil {
			t.Fatalf("Write() = %v", err)
		}
	})
}

// drain reads and discards what a stack sends until it closes.
func drain(s *Stack) {
	bufs := [][]byte{make([]byte, 65535)}
	for {
		if _, err := s.Read(bufs, []int{0}, offset); err != nil {
			return
		}
	}
}

// FuzzCoalescer checks that any batch is delivered with every TCP payload
// byte intact and no packet delivered twice or lost.
func FuzzCoalescer(f *testing.F) {
	f.Add([]byte{0, 1, 0, 100, 5, 1, 1, 0, 200, 5, 2, 1, 1, 44, 5})
	f.Fuzz(func(t *testing.T, spec []byte) {
		var batch [][]byte
		want := 0
		for len(spec) >= 5 && len(batch) < batchSize {
			sport := uint16(spec[0] % 3)
			seq := uint32(binary.BigEndian.Uint16(spec[1:3]))
			n := int(spec[3] % 64)
			flags := []uint8{fACK, fACK | fPSH, fACK | fFIN, 0x02}[spec[4]%4]
			batch = append(batch, tcpPkt(sport, seq, flags, nil, bytes.Repeat([]byte{spec[4]}, n)))
			want += n
			spec = spec[5:]
		}
		var d captureDispatcher
		c := coalescer{enabled: true}
		c.run(&d, batch)
		got := 0
		for _, p := range d.pkts {
			if err := checkIPv6Length(p); err != nil {
				t.Fatalf("delivered packet with bad length")
			}
			got += len(payloadOf(p))
		}
		if got != want || len(d.pkts) > len(batch) {
			t.Fatalf("delivered %d payload bytes in %d packets, want %d in at most %d", got, len(d.pkts), want, len(batch))
		}
	})
}

func TestLinkQueueHeadDrop(t *testing.T) {
	e := newLinkEndpoint(1400, 4, true)
	mk := func(tag byte) *stack.PacketBuffer {
		return stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData([]byte{tag})})
	}
	var list stack.PacketBufferList
	for tag := range byte(6) {
		list.PushBack(mk(tag))
	}
	if n, err := e.WritePackets(list); n != 6 || err != nil {
		t.Fatalf("WritePackets(6 packets) = %d, %v", n, err)
	}
	list.DecRef()
	select {
	case <-e.notify:
	default:
		t.Fatal("no notification after writing to an empty queue")
	}
	got := e.swap(nil)
	var tags []byte
	for _, p := range got {
		tags = append(tags, p.ToView().AsSlice()[0])
		p.DecRef()
	}
	if want := []byte{2, 3, 4, 5}; !bytes.Equal(tags, want) || e.dropped() != 2 {
		t.Fatalf("queue kept %v with %d drops, want %v with 2 (oldest dropped)", tags, e.dropped(), want)
	}
	e.close()
	var one stack.PacketBufferList
	one.PushBack(mk(9))
	if _, err := e.WritePackets(one); err == nil {
		t.Fatal("WritePackets() after close succeeded")
	}
	one.DecRef()
}
