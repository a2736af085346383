package socks5

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var overlayAddr = netip.MustParseAddr("4a0:1111:2222:3333::a")

func TestReadRequest(t *testing.T) {
	tests := []struct {
		name     string
		in       []byte
		want     request
		wantCode byte // reply code of a *replyError, 0 if none
		wantErr  bool
	}{
		{"ipv6 connect", request{cmd: cmdConnect, addr: overlayAddr, port: 25}.marshal(),
			request{cmd: cmdConnect, addr: overlayAddr, port: 25}, 0, false},
		{"ipv4", []byte{5, 1, 0, 1, 10, 0, 0, 1, 0, 80},
			request{cmd: cmdConnect, addr: netip.MustParseAddr("10.0.0.1"), port: 80}, 0, false},
		{"domain", []byte{5, 1, 0, 3, 4, 'h', 'o', 's', 't', 1, 187},
			request{cmd: cmdConnect, host: "host", port: 443}, 0, false},
		{"udp associate parses", []byte{5, 3, 0, 1, 0, 0, 0, 0, 0, 0},
			request{cmd: cmdUDPAssociate, addr: netip.MustParseAddr("0.0.0.0")}, 0, false},
		{"bad atyp", []byte{5, 1, 0, 9, 1, 2, 3, 4, 0, 80}, request{}, ReplyAddrNotSupported, true},
		{"wrong version", []byte{4, 1, 0, 80, 1, 2, 3, 4, 0}, request{}, 0, true},
		{"empty domain", []byte{5, 1, 0, 3, 0, 0, 80}, request{}, 0, true},
		{"truncated address", []byte{5, 1, 0, 4, 1, 2, 3}, request{}, 0, true},
		{"truncated port", []byte{5, 1, 0, 1, 1, 2, 3, 4, 0}, request{}, 0, true},
		{"empty", nil, request{}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readRequest(bytes.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("readRequest() error = %v, want error %v", err, tt.wantErr)
			}
			var re *replyError
			if code := byte(0); errors.As(err, &re) {
				code = re.code
				if code != tt.wantCode {
					t.Fatalf("reply code %#02x, want %#02x", code, tt.wantCode)
				}
			} else if tt.wantCode != 0 {
				t.Fatalf("readRequest() = %v, want reply code %#02x", err, tt.wantCode)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(request{}), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Fatalf("readRequest() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadGreetingAndAuth(t *testing.T) {
	if m, err := readGreeting(bytes.NewReader([]byte{5, 2, 0, 2})); err != nil || !bytes.Equal(m, []byte{0, 2}) {
		t.Errorf("readGreeting() = %v, %v", m, err)
	}
	for _, in := range [][]byte{{5, 0}, {4, 1, 0}, {5, 3, 0}, {'G', 'E', 'T'}} {
		if _, err := readGreeting(bytes.NewReader(in)); err == nil {
			t.Errorf("readGreeting(% x) succeeded, want error", in)
		}
	}
	u, p, err := readUserPass(bytes.NewReader([]byte{1, 3, 'b', 'o', 'b', 2, 'p', 'w'}))
	if err != nil || u != "bob" || p != "pw" {
		t.Errorf("readUserPass() = %q, %q, %v", u, p, err)
	}
	for _, in := range [][]byte{{2, 1, 'a', 1, 'b'}, {1, 0, 1, 'b'}, {1, 1, 'a'}} {
		if _, _, err := readUserPass(bytes.NewReader(in)); err == nil {
			t.Errorf("readUserPass(% x) succeeded, want error", in)
		}
	}
}

func TestReply(t *testing.T) {
	tests := []struct {
		bnd  netip.AddrPort
		want []byte
	}{
		{netip.AddrPort{}, []byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0}},
		{netip.MustParseAddrPort("10.1.2.3:258"), []byte{5, 5, 0, 1, 10, 1, 2, 3, 1, 2}},
		{netip.MustParseAddrPort("[400::1]:80"), append(append([]byte{5, 5, 0, 4}, netip.MustParseAddr("400::1").AsSlice()...), 0, 80)},
	}
	for _, tt := range tests {
		if got := reply(ReplyConnectionRefused, tt.bnd); !bytes.Equal(got, tt.want) {
			t.Errorf("reply(%v) = % x, want % x", tt.bnd, got, tt.want)
		}
	}
}

func TestHexHost(t *testing.T) {
	tests := []struct {
		host string
		want netip.Addr
		ok   bool
	}{
		{"04a01111222233330000000000000000.mycelium", netip.MustParseAddr("4a0:1111:2222:3333::"), true},
		{"04A01111222233330000000000000000", netip.MustParseAddr("4a0:1111:2222:3333::"), true},
		{"04a0111122223333000000000000000.x", netip.Addr{}, false},
		{"zza01111222233330000000000000000.x", netip.Addr{}, false},
		{"example.com", netip.Addr{}, false},
	}
	for _, tt := range tests {
		if got, ok := HexHost(tt.host); got != tt.want || ok != tt.ok {
			t.Errorf("HexHost(%q) = %v, %v, want %v, %v", tt.host, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzReadRequest: any input parses or fails cleanly, and what parses
// re-encodes to the bytes it came from.
func FuzzReadRequest(f *testing.F) {
	f.Add(request{cmd: cmdConnect, addr: overlayAddr, port: 25}.marshal())
	f.Add([]byte{5, 1, 0, 1, 10, 0, 0, 1, 0, 80})
	f.Add([]byte{5, 1, 0, 3, 4, 'h', 'o', 's', 't', 1, 187})
	f.Add([]byte{5, 1, 0, 9, 1, 2, 3, 4, 0, 80})
	f.Add([]byte{5, 1, 0, 3, 0, 0, 80})
	f.Fuzz(func(t *testing.T, in []byte) {
		q, err := readRequest(bytes.NewReader(in))
		if err != nil {
			return
		}
		enc := q.marshal()
		if len(enc) > len(in) || !bytes.Equal(enc[:3], []byte{5, q.cmd, 0}) || !bytes.Equal(enc[3:], in[3:len(enc)]) {
			t.Fatalf("readRequest(% x) = %+v, re-encoded % x", in, q, enc)
		}
	})
}

// scriptConn is a net.Conn whose reads come from a fixed script and whose
// writes are collected.
type scriptConn struct {
	net.Conn // nil: methods not overridden panic
	in       *bytes.Reader
	out      bytes.Buffer
}

func (c *scriptConn) Read(b []byte) (int, error)  { return c.in.Read(b) }
func (c *scriptConn) Write(b []byte) (int, error) { return c.out.Write(b) }

// FuzzNegotiate drives the whole server-side negotiation (greeting, auth,
// request) with arbitrary client bytes.
func FuzzNegotiate(f *testing.F) {
	f.Add([]byte{5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 1, 0, 80}, false)
	f.Add([]byte{5, 1, 2, 1, 1, 'a', 1, 'b', 5, 1, 0, 3, 3, 'a', 'b', 'c', 0, 1}, true)
	f.Add([]byte{5, 2, 0, 2, 1, 1, 'x', 1, 'y'}, true)
	f.Add([]byte("GET / HTTP/1.0\r\n\r\n"), false)
	f.Fuzz(func(t *testing.T, in []byte, auth bool) {
		s := &Server{Dial: func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("no") }}
		if auth {
			s.Authenticate = StaticCredentials("a", "b")
		}
		s.init()
		c := &scriptConn{in: bytes.NewReader(in)}
		q, err := s.negotiate(c)
		if err == nil && q.host == "" && !q.addr.IsValid() {
			t.Fatalf("negotiate() accepted a request without destination: %+v", q)
		}
		if out := c.out.Bytes(); len(out) > 0 && out[0] != version5 {
			t.Fatalf("negotiate() wrote % x", out)
		}
	})
}
