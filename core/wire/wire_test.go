package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rid(b byte) RouterID {
	var id RouterID
	for i := range id {
		id[i] = b
	}
	return id
}

var p64 = netip.MustParsePrefix("200:19:1a:1b::/64")

// Golden TLV bodies from the reference's unit tests (spec §3.3), wrapped
// in the complete link packet the reference would send.
var goldenTLVs = []struct {
	name string
	tlv  TLV
	body string // TLV body only
}{
	{"hello", TLV{Type: TLVHello, Hello: Hello{Flags: 0, Seqno: 25, Interval: 400}}, "0000 0019 0190"},
	{"hello unicast", TLV{Type: TLVHello, Hello: Hello{Flags: 0x8000, Seqno: 16, Interval: 4000}}, "8000 0010 0fa0"},
	{"ihu ipv4", TLV{Type: TLVIHU, IHU: IHU{RxCost: 25, Interval: 400, Addr: netip.MustParseAddr("1.1.1.1")}}, "01 00 0019 0190 01010101"},
	{"ihu wildcard", TLV{Type: TLVIHU, IHU: IHU{RxCost: 1, Interval: 300}}, "00 00 0001 012c"},
	{"update", TLV{Type: TLVUpdate, Update: Update{Flags: 0xC0, Interval: 400, Seqno: 17, Metric: 25, Prefix: p64, RouterID: rid(1)}},
		"02 c0 40 00 0190 0011 0019 0200 0019 001a 001b" + strings.Repeat("01", 40)},
	{"route request", TLV{Type: TLVRouteRequest, RouteRequest: RouteRequest{Generation: 2, Prefix: p64}}, "02 02 40 0200 0019 001a 001b"},
	{"route request wildcard", TLV{Type: TLVRouteRequest, RouteRequest: RouteRequest{}}, "00 00 00"},
	{"seqno request", TLV{Type: TLVSeqnoRequest, SeqnoRequest: SeqnoRequest{Seqno: 17, HopCount: 64, RouterID: rid(1), Prefix: p64}},
		"02 40 0011 40 00" + strings.Repeat("01", 40) + "0200 0019 001a 001b"},
}

func TestControlGolden(t *testing.T) {
	for _, tt := range goldenTLVs {
		t.Run(tt.name, func(t *testing.T) {
			body := unhex(t, tt.body)
			want := append([]byte{1, 1, 0, 0, 42, 3, 0, byte(len(body) + 2), tt.tlv.Type, byte(len(body))}, body...)
			got := AppendControl(nil, &tt.tlv)
			if !bytes.Equal(got, want) {
				t.Fatalf("AppendControl =\n %x\nwant\n %x", got, want)
			}
			n, typ, err := FrameSize(got, MaxDataBody)
			if err != nil || n != len(got) || typ != TypeControl {
				t.Fatalf("FrameSize = %d, %d, %v", n, typ, err)
			}
			r, err := NewControlReader(got[OuterHeaderSize:])
			if err != nil {
				t.Fatal(err)
			}
			var dec TLV
			if !r.Next(&dec) {
				t.Fatalf("Next: %v", r.Err())
			}
			if diff := cmp.Diff(tt.tlv, dec, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Fatalf("decoded TLV differs (-want +got):\n%s", diff)
			}
			if r.Next(&dec) || r.Err() != nil {
				t.Fatalf("extra TLV or error: %v", r.Err())
			}
		})
	}
}

// The complete wire examples of spec §3.4.
func TestWireExamples(t *testing.T) {
	hello := AppendControl(nil, &TLV{Type: TLVHello, Hello: Hello{Flags: HelloFlagUnicast, Interval: HelloInterval}})
	if want := unhex(t, "01010000 2a030008 0406 80000000 07d0"); !bytes.Equal(hello, want) {
		t.Errorf("hello = %x, want %x", hello, want)
	}
	ihu := AppendControl(nil, &TLV{Type: TLVIHU, IHU: IHU{RxCost: 0xCCCC, Interval: IHUInterval}})
	if want := unhex(t, "01010000 2a030008 0506 0000 cccc 1770"); !bytes.Equal(ihu, want) {
		t.Errorf("ihu = %x, want %x", ihu, want)
	}
	sub := netip.MustParsePrefix("5a6:f0c6:f365:177d::/64")
	up := AppendControl(nil, &TLV{Type: TLVUpdate, Update: Update{Interval: UpdateInterval, Seqno: 0x1234, Prefix: sub, RouterID: rid(7)}})
	if want := unhex(t, "01010000 2a03003c 083a 02004000 7530 1234 0000 05a6f0c6f365177d"+strings.Repeat("07", 40)); !bytes.Equal(up, want) {
		t.Errorf("update = %x, want %x", up, want)
	}
	if len(up) != 68 {
		t.Errorf("own-subnet update is %d bytes on the wire, want 68", len(up))
	}
	rr := AppendControl(nil, &TLV{Type: TLVRouteRequest, RouteRequest: RouteRequest{Prefix: sub}})
	if want := unhex(t, "01010000 2a03000d 090b 000240 05a6f0c6f365177d"); !bytes.Equal(rr, want) {
		t.Errorf("route request = %x, want %x", rr, want)
	}
	sr := AppendControl(nil, &TLV{Type: TLVSeqnoRequest, SeqnoRequest: SeqnoRequest{Seqno: 0x0102, HopCount: 64, RouterID: rid(9), Prefix: sub}})
	if want := unhex(t, "01010000 2a030038 0a36 0240 0102 4000"+strings.Repeat("09", 40)+"05a6f0c6f365177d"); !bytes.Equal(sr, want) {
		t.Errorf("seqno request = %x, want %x", sr, want)
	}
}

// The data packet of spec §5.6: header and framing.
func TestDataPacketGolden(t *testing.T) {
	src := netip.MustParseAddr("5a6:f0c6:f365:177d:66be:4a2b:d9fd:b59e")
	dst := netip.MustParseAddr("4e7:5ef0:bce0:3097:f411:ef50:242b:57a4")
	body := bytes.Repeat([]byte{0xab}, 72)
	pkt := AppendOuterHeader(nil, TypeData)
	pkt = AppendDataHeader(pkt, DataHeader{Length: 72, HopLimit: 63, Src: src, Dst: dst})
	pkt = append(pkt, body...)
	want := unhex(t, "01000000 0000483f 05a6f0c6f365177d66be4a2bd9fdb59e 04e75ef0bce03097f411ef50242b57a4")
	if !bytes.Equal(pkt[:40], want) {
		t.Fatalf("data header = %x, want %x", pkt[:40], want)
	}
	if len(pkt) != 112 {
		t.Fatalf("packet length %d, want 112", len(pkt))
	}
	n, typ, err := FrameSize(pkt, MaxDataBody)
	if err != nil || n != 112 || typ != TypeData {
		t.Fatalf("FrameSize = %d %d %v", n, typ, err)
	}
	dp, err := DecodeDataPacket(pkt[OuterHeaderSize:])
	if err != nil {
		t.Fatal(err)
	}
	if dp.Src != src || dp.Dst != dst || dp.HopLimit != 63 || !bytes.Equal(dp.Body, body) {
		t.Fatalf("decoded %+v", dp.DataHeader)
	}
	// The reserved top byte of the length word is ignored.
	pkt[4] = 0xff
	if dp, err := DecodeDataPacket(pkt[OuterHeaderSize:]); err != nil || dp.Length != 72 {
		t.Fatalf("reserved byte not ignored: %v %d", err, dp.Length)
	}
}

func TestFrameSizeIncremental(t *testing.T) {
	var stream []byte
	stream = AppendControl(stream, &goldenTLVs[4].tlv)
	stream = AppendOuterHeader(stream, TypeData)
	stream = AppendDataHeader(stream, DataHeader{Length: 3, HopLimit: 64})
	stream = append(stream, 1, 2, 3)
	first := len(AppendControl(nil, &goldenTLVs[4].tlv))
	for i := 0; i < first; i++ {
		if n, _, err := FrameSize(stream[:i], MaxDataBody); n != 0 || err != nil {
			t.Fatalf("prefix %d: n=%d err=%v, want need-more", i, n, err)
		}
	}
	n, _, _ := FrameSize(stream, MaxDataBody)
	if n != first {
		t.Fatalf("first frame %d, want %d", n, first)
	}
	n2, typ, err := FrameSize(stream[n:], MaxDataBody)
	if err != nil || typ != TypeData || n2 != 4+36+3 {
		t.Fatalf("second frame %d %d %v", n2, typ, err)
	}
}

func TestFrameSizeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"version", "02000000 00000000", ErrVersion},
		{"type", "01020000 00000000", ErrPacketType},
		{"magic", "01010000 2b030004", ErrControlHead},
		{"control version", "01010000 2a020004", ErrControlHead},
		{"early version", "09", nil}, // one byte: need more
		{"early type", "0105", ErrPacketType},
	}
	for _, tt := range tests {
		_, _, err := FrameSize(unhex(t, tt.in), MaxDataBody)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	big := AppendOuterHeader(nil, TypeData)
	big = AppendDataHeader(big, DataHeader{Length: 2000})
	if _, _, err := FrameSize(big, 1500); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversize body: err = %v", err)
	}
}

func TestControlReaderRobust(t *testing.T) {
	hello := unhex(t, "04 06 8000 0001 07d0")
	unknown := unhex(t, "07 03 aabbcc")
	pad1 := []byte{0}
	padn := unhex(t, "01 02 0000")
	body := append(append(append(append(append([]byte{}, pad1...), unknown...), padn...), hello...), hello...)
	pkt := append([]byte{42, 3, 0, byte(len(body))}, body...)
	r, err := NewControlReader(pkt)
	if err != nil {
		t.Fatal(err)
	}
	var tlv TLV
	var hellos, unknowns int
	for r.Next(&tlv) {
		if tlv.Type == TLVHello {
			hellos++
		} else if !tlv.Known() {
			unknowns++
		}
	}
	if r.Err() != nil || hellos != 2 || unknowns != 3 {
		t.Fatalf("hellos=%d unknowns=%d err=%v", hellos, unknowns, r.Err())
	}

	bad := []struct {
		name string
		body string
	}{
		{"short hello", "04 04 8000 0001"},
		{"tlv overruns packet", "04 09 8000 0001 07d0"},
		{"update wildcard", "08 0a 00 00 00 00 0000 0000 0000"},
		{"update bad AE", "08 3a 07 00 40 00 7530 0000 0000 0000000000000000" + strings.Repeat("01", 40)},
		{"update plen > 128", "08 3a 02 00 81 00 7530 0000 0000 0000000000000000" + strings.Repeat("01", 40)},
		{"update no router id", "08 12 02 00 40 00 7530 0000 0000 0000000000000000"},
		{"wildcard with plen", "09 03 00 00 40"},
		{"seqno hop 0", "0a 36 02 40 0011 00 00" + strings.Repeat("01", 40) + "0200001900 1a001b"},
		{"seqno short", "0a 06 02 40 0011 01 00"},
		{"ihu short address", "05 08 02 00 0000 1770 0102"},
	}
	for _, tt := range bad {
		b := unhex(t, tt.body)
		r, err := NewControlReader(append([]byte{42, 3, 0, byte(len(b))}, b...))
		if err != nil {
			t.Fatalf("%s: header rejected: %v", tt.name, err)
		}
		for r.Next(&tlv) {
		}
		if r.Err() == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	if _, err := NewControlReader(unhex(t, "2a03 0010 0406")); !errors.Is(err, ErrShort) {
		t.Errorf("body shorter than header says: %v", err)
	}
}

// Non-/64 prefixes round trip, and host bits are masked on decode.
func TestPrefixes(t *testing.T) {
	for _, s := range []string{"400::/7", "5a6:f0c6:f365:177d::/64", "5a6:f0c6:f365:177d:1::/80", "5a6:f0c6:f365:177d:66be:4a2b:d9fd:b59e/128", "5a6:f0c0::/29"} {
		p := netip.MustParsePrefix(s)
		var dec TLV
		pkt := AppendControl(nil, &TLV{Type: TLVUpdate, Update: Update{Prefix: p, RouterID: rid(3)}})
		r, _ := NewControlReader(pkt[4:])
		if !r.Next(&dec) || dec.Update.Prefix != p {
			t.Errorf("prefix %s decoded as %s (%v)", s, dec.Update.Prefix, r.Err())
		}
	}
	// /29 with host bits set in the last partial byte.
	b := unhex(t, "09 07 00 02 1d 05a6f0c7")
	r, _ := NewControlReader(append([]byte{42, 3, 0, byte(len(b))}, b...))
	var dec TLV
	if !r.Next(&dec) || dec.RouteRequest.Prefix != netip.MustParsePrefix("5a6:f0c0::/29") {
		t.Fatalf("host bits not masked: %s %v", dec.RouteRequest.Prefix, r.Err())
	}
}

func TestUserHeader(t *testing.T) {
	b := make([]byte, 8)
	PutUserHeader(b, KindMessage)
	kind, payload, err := ParseUserHeader(b)
	if err != nil || kind != KindMessage || len(payload) != 4 {
		t.Fatalf("ParseUserHeader = %d %d %v", kind, len(payload), err)
	}
	if _, _, err := ParseUserHeader([]byte{2, 0, 0, 0}); !errors.Is(err, ErrUserHeader) {
		t.Fatalf("version 2 accepted: %v", err)
	}
	if _, _, err := ParseUserHeader([]byte{1, 0}); !errors.Is(err, ErrUserHeader) {
		t.Fatalf("short header accepted: %v", err)
	}
}

func TestRouterID(t *testing.T) {
	var key [32]byte
	key[0] = 0xa4
	id := NewRouterID(key)
	if id.PublicKey() != key || id[32] != 0 || id[33] != 0 {
		t.Fatalf("router id layout %x", id)
	}
	s := id.String()
	if len(s) != 64+1+4+1+12 {
		t.Fatalf("String = %q", s)
	}
	back, err := ParseRouterID(s)
	if err != nil || back != id {
		t.Fatalf("ParseRouterID = %v", err)
	}
	for _, bad := range []string{"", "x-y-z", s + "0", strings.Replace(s, "-", "_", 1)} {
		if _, err := ParseRouterID(bad); err == nil {
			t.Errorf("ParseRouterID(%q) accepted", bad)
		}
	}
}

func TestSeqNoAndMetric(t *testing.T) {
	tests := []struct {
		a, b SeqNo
		less bool
	}{
		{1, 2, true}, {2, 1, false}, {65535, 0, true}, {0, 65535, false},
		{0, 32767, true}, {0, 32768, false}, {32768, 0, false}, {5, 5, false},
	}
	for _, tt := range tests {
		if got := tt.a.Less(tt.b); got != tt.less {
			t.Errorf("%d.Less(%d) = %v", tt.a, tt.b, got)
		}
	}
	if !SeqNo(1).Greater(0) || SeqNo(0).Greater(32768) {
		t.Error("Greater")
	}
	if MetricInfinite.Add(1) != MetricInfinite || Metric(1).Add(MetricInfinite) != MetricInfinite {
		t.Error("Add with infinite")
	}
	if Metric(0xFFF0).Add(0x20) != 0xFFFE || Metric(10).Add(5) != 15 {
		t.Error("Add saturation")
	}
	if Metric(5).Sub(10) != 0 || MetricInfinite.Sub(3) != MetricInfinite || Metric(30).Sub(10) != 20 {
		t.Error("Sub")
	}
}

func TestMessageFrames(t *testing.T) {
	id := MessageID{1, 2, 3, 4, 5, 6, 7, 8}
	topic := []byte("chat")
	sum := [32]byte{9}
	data := bytes.Repeat([]byte{7}, 1300)
	tests := []struct {
		name  string
		frame []byte
		check func(MessageFrame) bool
		want  string
	}{
		{"init", AppendMessageInit(nil, id, 0, 5000, topic), func(f MessageFrame) bool {
			return f.Kind == MessageInit && f.Length == 5000 && string(f.Topic) == "chat"
		}, "0102030405060708 8000 0000 0000000000001388 04 63686174"},
		{"init ack", AppendMessageInit(nil, id, MsgAck, 5000, topic), func(f MessageFrame) bool {
			return f.Kind == MessageInit && f.Ack() && f.Length == 5000 && f.Topic == nil
		}, "0102030405060708 8100 0000 0000000000001388 04"},
		{"reply init", AppendMessageInit(nil, id, MsgReply, 0, nil), func(f MessageFrame) bool {
			return f.Kind == MessageInit && f.Reply() && f.Length == 0
		}, "0102030405060708 8400 0000 0000000000000000 00"},
		{"chunk", AppendMessageChunk(nil, id, 0, 1, 1300, data), func(f MessageFrame) bool {
			return f.Kind == MessageChunk && f.ChunkIndex == 1 && f.ChunkOffset == 1300 && f.ChunkSize == 1300 && bytes.Equal(f.Data, data)
		}, ""},
		{"chunk ack", AppendMessageChunkAck(nil, id, 0, 1, 1300, 1300), func(f MessageFrame) bool {
			return f.Kind == MessageChunk && f.Ack() && f.Data == nil && f.ChunkSize == 1300
		}, "0102030405060708 1100 0000 0000000000000001 0000000000000514 0000000000000514"},
		{"done", AppendMessageDone(nil, id, 0, 4, &sum), func(f MessageFrame) bool {
			return f.Kind == MessageDone && f.ChunkCount == 4 && f.Checksum == sum
		}, "0102030405060708 4000 0000 0000000000000004 09" + strings.Repeat("00", 31)},
		{"read", AppendMessageFlag(nil, id, MsgRead, 0), func(f MessageFrame) bool { return f.Kind == MessageRead }, "0102030405060708 0800 0000"},
		{"aborted", AppendMessageFlag(nil, id, MsgAborted, 0), func(f MessageFrame) bool { return f.Kind == MessageAborted }, "0102030405060708 2000 0000"},
	}
	for _, tt := range tests {
		if tt.want != "" && !bytes.Equal(tt.frame, unhex(t, tt.want)) {
			t.Errorf("%s: encoded %x, want %s", tt.name, tt.frame, tt.want)
		}
		f, err := DecodeMessage(tt.frame)
		if err != nil || f.ID != id || !tt.check(f) {
			t.Errorf("%s: decoded %+v, %v", tt.name, f, err)
		}
	}
	// A chunk whose size field exceeds the data uses the bytes present;
	// extra bytes beyond the size field are ignored.
	short := AppendMessageChunk(nil, id, 0, 0, 0, data)[:MessageHeaderSize+24+10]
	if f, err := DecodeMessage(short); err != nil || len(f.Data) != 10 {
		t.Errorf("short chunk: %d bytes, %v", len(f.Data), err)
	}
	for _, bad := range []string{"0102", "0102030405060708 0000 0000", "0102030405060708 8000 0000 00", "0102030405060708 8000 0000 0000000000000001 05 6869",
		"0102030405060708 1000 0000 00", "0102030405060708 4000 0000 0000000000000001"} {
		if _, err := DecodeMessage(unhex(t, bad)); !errors.Is(err, ErrMessage) {
			t.Errorf("DecodeMessage(%s) err = %v", bad, err)
		}
	}
	if _, err := ParseMessageID(id.String()); err != nil {
		t.Error(err)
	}
	if _, err := ParseMessageID("xyz"); err == nil {
		t.Error("bad message id accepted")
	}
}
