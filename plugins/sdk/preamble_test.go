package sdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
)

func testKey(b byte) PublicKey {
	var k PublicKey
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

func overlayPeer() Peer {
	return Peer{
		Key:     testKey(1),
		Addr:    netip.MustParseAddrPort("[4ab:cd::1]:40001"),
		Local:   netip.MustParseAddrPort("[5ff:1::1]:25"),
		Origin:  OriginOverlay,
		Service: "smtp",
	}
}

func loopbackPeer() Peer {
	return Peer{
		Addr:    netip.MustParseAddrPort("127.0.0.1:50123"),
		Local:   netip.MustParseAddrPort("127.0.0.1:1587"),
		Origin:  OriginLoopback,
		Service: "submission",
	}
}

// goldenOverlay is the byte layout documented in docs/plugins.md.
func goldenOverlay() []byte {
	var b []byte
	b = append(b, 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A)
	b = append(b, 0x21, 0x21)
	b = append(b, 0x00, 36+4+4+35+7) // body length 86
	b = append(b, 0x04, 0xab, 0x00, 0xcd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)
	b = append(b, 0x05, 0xff, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)
	b = append(b, 0x9c, 0x41, 0x00, 25)
	b = append(b, 0xE0, 0, 1, 1)
	b = append(b, 0xE1, 0, 1, 1)
	k := testKey(1)
	b = append(b, 0xE2, 0, 32)
	b = append(b, k[:]...)
	b = append(b, 0xE3, 0, 4, 's', 'm', 't', 'p')
	return b
}

func TestEncodePreambleGolden(t *testing.T) {
	got, err := EncodePreamble(overlayPeer())
	if err != nil {
		t.Fatal(err)
	}
	if want := goldenOverlay(); !bytes.Equal(got, want) {
		t.Errorf("EncodePreamble(overlay) =\n% x\nwant\n% x", got, want)
	}
}

func TestPreambleRoundTrip(t *testing.T) {
	v6loop := loopbackPeer()
	v6loop.Addr = netip.MustParseAddrPort("[::1]:50000")
	v6loop.Local = netip.MustParseAddrPort("[::1]:1993")
	for name, p := range map[string]Peer{
		"overlay":       overlayPeer(),
		"loopback ipv4": loopbackPeer(),
		"loopback ipv6": v6loop,
	} {
		t.Run(name, func(t *testing.T) {
			b, err := EncodePreamble(p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodePreamble(b)
			if err != nil {
				t.Fatalf("DecodePreamble: %v", err)
			}
			if got != p {
				t.Errorf("round trip = %+v, want %+v", got, p)
			}
			// ReadPreamble must stop exactly at the end of the preamble.
			r := bytes.NewReader(append(b, "EHLO"...))
			got, err = ReadPreamble(r)
			if err != nil || got != p {
				t.Fatalf("ReadPreamble = %+v, %v", got, err)
			}
			rest, _ := io.ReadAll(r)
			if string(rest) != "EHLO" {
				t.Errorf("bytes after preamble = %q, want EHLO", rest)
			}
		})
	}
}

func TestEncodePreambleRejects(t *testing.T) {
	mod := func(f func(*Peer)) Peer { p := overlayPeer(); f(&p); return p }
	for name, p := range map[string]Peer{
		"no key":            mod(func(p *Peer) { p.Key = PublicKey{} }),
		"not overlay addr":  mod(func(p *Peer) { p.Addr = netip.MustParseAddrPort("[2001:db8::1]:1") }),
		"no service":        mod(func(p *Peer) { p.Service = "" }),
		"bad service":       mod(func(p *Peer) { p.Service = "a b" }),
		"long service":      mod(func(p *Peer) { p.Service = strings.Repeat("a", 65) }),
		"bad origin":        mod(func(p *Peer) { p.Origin = 9 }),
		"no local":          mod(func(p *Peer) { p.Local = netip.AddrPort{} }),
		"zone":              mod(func(p *Peer) { p.Local = netip.MustParseAddrPort("[fe80::1%eth0]:1") }),
		"loopback with key": mod(func(p *Peer) { *p = loopbackPeer(); p.Key = testKey(2) }),
		"loopback remote":   mod(func(p *Peer) { *p = loopbackPeer(); p.Addr = netip.MustParseAddrPort("10.0.0.1:5") }),
	} {
		t.Run(name, func(t *testing.T) {
			if b, err := EncodePreamble(p); err == nil {
				t.Errorf("EncodePreamble(%+v) = % x, want error", p, b)
			}
		})
	}
}

// badPreambles are malformed inputs with a fragment of the expected error.
func badPreambles() map[string]struct {
	in   []byte
	want string
} {
	g := goldenOverlay()
	mod := func(f func([]byte) []byte) []byte { return f(append([]byte(nil), g...)) }
	// withBody replaces the TLVs after the address block and fixes the length.
	withBody := func(tlvs ...byte) []byte {
		b := append(append([]byte(nil), g[:16+36]...), tlvs...)
		binary.BigEndian.PutUint16(b[14:16], uint16(len(b)-16))
		return b
	}
	ver := []byte{0xE0, 0, 1, 1}
	svc := []byte{0xE3, 0, 1, 'x'}
	loop := []byte{0xE1, 0, 1, 2}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	return map[string]struct {
		in   []byte
		want string
	}{
		"empty":          {nil, "shorter than"},
		"http":           {[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "signature"},
		"proxy v1":       {[]byte("PROXY TCP6 ::1 ::1 1 2\r\n"), "signature"},
		"local command":  {mod(func(b []byte) []byte { b[12] = 0x20; return b }), "version/command"},
		"ipv4 family":    {mod(func(b []byte) []byte { b[13] = 0x11; return b }), "family"},
		"too long":       {mod(func(b []byte) []byte { b[14], b[15] = 0xff, 0xff; return b }), "limit"},
		"short body":     {mod(func(b []byte) []byte { b[14], b[15] = 0, 10; return b[:26] }), "address block"},
		"trailing":       {append(append([]byte(nil), g...), 0), "announces"},
		"truncated":      {g[:len(g)-1], "announces"},
		"tlv truncated":  {withBody(0xE0, 0), "truncated TLV"},
		"tlv overrun":    {withBody(0xE0, 0, 9, 1), "announces 9"},
		"no version":     {withBody(cat(loop, svc)...), "no version"},
		"version 2":      {withBody(0xE0, 0, 1, 2), "unsupported version"},
		"duplicate":      {withBody(cat(ver, ver)...), "duplicate"},
		"unknown tlv":    {withBody(cat(ver, []byte{0xE7, 0, 0})...), "unknown TLV"},
		"alpn tlv":       {withBody(cat(ver, []byte{0x01, 0, 2, 'h', '2'})...), "unknown TLV"},
		"short key":      {withBody(cat(ver, []byte{0xE2, 0, 1, 7})...), "peer key TLV"},
		"long origin":    {withBody(cat(ver, []byte{0xE1, 0, 2, 1, 1})...), "origin TLV"},
		"no origin":      {withBody(cat(ver, svc)...), "unknown origin"},
		"overlay no key": {withBody(cat(ver, []byte{0xE1, 0, 1, 1}, svc)...), "without a public key"},
		"loopback key":   {withBody(cat(ver, loop, svc, []byte{0xE2, 0, 32}, bytes.Repeat([]byte{7}, 32))...), "must not carry"},
	}
}

func TestDecodePreambleRejects(t *testing.T) {
	for name, tc := range badPreambles() {
		t.Run(name, func(t *testing.T) {
			p, err := DecodePreamble(tc.in)
			if err == nil {
				t.Fatalf("DecodePreamble = %+v, want error containing %q", p, tc.want)
			}
			if !errors.Is(err, ErrBadPreamble) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("DecodePreamble error = %q, want ErrBadPreamble containing %q", err, tc.want)
			}
		})
	}
}

func TestReadPreambleNeverReadsPastLimit(t *testing.T) {
	g := goldenOverlay()
	g[14], g[15] = 0xff, 0xff
	r := bytes.NewReader(append(g, make([]byte, 70000)...))
	if _, err := ReadPreamble(r); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("ReadPreamble(oversized) error = %v, want limit error", err)
	}
	if read := int(r.Size()) - r.Len(); read != 16 {
		t.Errorf("ReadPreamble consumed %d bytes of an oversized preamble, want 16", read)
	}
}

func TestDecodePreambleSkipsNoop(t *testing.T) {
	g := goldenOverlay()
	b := append(append([]byte(nil), g...), 0x04, 0, 3, 0, 0, 0)
	binary.BigEndian.PutUint16(b[14:16], uint16(len(b)-16))
	p, err := DecodePreamble(b)
	if err != nil || p != overlayPeer() {
		t.Fatalf("DecodePreamble(with NOOP) = %+v, %v", p, err)
	}
}

func TestValidateServiceName(t *testing.T) {
	for name, ok := range map[string]bool{
		"smtp": true, "imaps": true, "web-dav_2.x": true, "A1": true,
		"": false, "-x": false, ".x": false, "a b": false, "a/b": false, "é": false,
		strings.Repeat("x", 64): true, strings.Repeat("x", 65): false,
	} {
		if err := ValidateServiceName(name); (err == nil) != ok {
			t.Errorf("ValidateServiceName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}
