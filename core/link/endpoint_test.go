package link

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		in   string
		want Endpoint
		text string // canonical form; "" means in
	}{
		{in: "tcp://1.2.3.4:9651", want: Endpoint{Proto: ProtoTCP, Addr: netip.MustParseAddrPort("1.2.3.4:9651")}},
		{in: "tcp://[2001:db8::1]:9651", want: Endpoint{Proto: ProtoTCP, Addr: netip.MustParseAddrPort("[2001:db8::1]:9651")}},
		{in: "tcp://[fe80::1%eth0]:9651", want: Endpoint{Proto: ProtoTCP, Addr: netip.MustParseAddrPort("[fe80::1%eth0]:9651")}},
		{in: "tcp://[fe80::1%2]:9651", want: Endpoint{Proto: ProtoTCP, Addr: netip.MustParseAddrPort("[fe80::1%2]:9651")}},
		{in: "quic://[2001:db8::1]:9651", want: Endpoint{Proto: ProtoQUIC, Addr: netip.MustParseAddrPort("[2001:db8::1]:9651")}},
		{in: "QUIC://1.2.3.4:1", want: Endpoint{Proto: ProtoQUIC, Addr: netip.MustParseAddrPort("1.2.3.4:1")}, text: "quic://1.2.3.4:1"},
		{in: "Tcp://[2001:DB8::1]:9651", want: Endpoint{Proto: ProtoTCP, Addr: netip.MustParseAddrPort("[2001:db8::1]:9651")}, text: "tcp://[2001:db8::1]:9651"},
		{in: "tls://1.2.3.4:9651", want: Endpoint{Proto: ProtoTLS, Addr: netip.MustParseAddrPort("1.2.3.4:9651")}},
		{in: "vsock://3:9651", want: Endpoint{Proto: ProtoVsock, CID: 3, Port: 9651}},
		{in: "tcp://[::ffff:1.2.3.4]:9651", want: Endpoint{Proto: ProtoTCP, Addr: netip.MustParseAddrPort("[::ffff:1.2.3.4]:9651")}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseEndpoint(tt.in)
			if err != nil {
				t.Fatalf("ParseEndpoint(%q) error %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseEndpoint(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			text := tt.text
			if text == "" {
				text = tt.in
			}
			if got.String() != text {
				t.Errorf("String() = %q, want %q", got.String(), text)
			}
		})
	}
}

func TestParseEndpointErrors(t *testing.T) {
	tests := []struct {
		in, msg string
	}{
		{"1.2.3.4:9651", "<proto>://"},
		{"udp://1.2.3.4:9651", "unknown protocol"},
		{"tcp://example.com:9651", "host names are not allowed"},
		{"quic://localhost:9651", "host names are not allowed"},
		{"tcp://1.2.3.4", "socket address"},
		{"tcp://2001:db8::1:9651", "socket address"},
		{"tcp://[2001:db8::1]:70000", "socket address"},
		{"tcp://1.2.3.4:0", "port 0"},
		{"tcp://", "socket address"},
		{"vsock://3", "<cid>:<port>"},
		{"vsock://x:1", "vsock address"},
		{"tcp://[::ffff:1.2.3.4%eth0]:1", "zone"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseEndpoint(tt.in)
			if !errors.Is(err, ErrEndpoint) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("ParseEndpoint(%q) = %v, want ErrEndpoint mentioning %q", tt.in, err, tt.msg)
			}
		})
	}
}

func TestEndpointText(t *testing.T) {
	var ep Endpoint
	if err := ep.UnmarshalText([]byte("quic://[2001:db8::1]:9651")); err != nil {
		t.Fatal(err)
	}
	b, _ := ep.MarshalText()
	if string(b) != "quic://[2001:db8::1]:9651" {
		t.Errorf("MarshalText = %s", b)
	}
	if err := ep.UnmarshalText([]byte("bogus")); err == nil {
		t.Error("UnmarshalText accepted garbage")
	}
}

func TestStaticCost(t *testing.T) {
	tests := []struct {
		p    Proto
		addr string
		want uint16
	}{
		{ProtoTCP, "2001:db8::1", 10},
		{ProtoTCP, "1.2.3.4", 15},
		{ProtoTCP, "::ffff:1.2.3.4", 15},
		{ProtoQUIC, "2001:db8::1", 7},
		{ProtoQUIC, "1.2.3.4", 12},
		{ProtoVsock, "::", 5},
	}
	for _, tt := range tests {
		if got := staticCost(tt.p, netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("staticCost(%s, %s) = %d, want %d", tt.p, tt.addr, got, tt.want)
		}
	}
}

func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{
		"tcp://1.2.3.4:9651", "tcp://[2001:db8::1]:9651", "tcp://[fe80::1%eth0]:9651",
		"QUIC://[::1]:1", "tls://1.2.3.4:1", "vsock://3:9651", "tcp://example.com:1", "tcp://[::ffff:1.2.3.4]:9",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ep, err := ParseEndpoint(s)
		if err != nil {
			if !errors.Is(err, ErrEndpoint) {
				t.Fatalf("error %v does not wrap ErrEndpoint", err)
			}
			return
		}
		again, err := ParseEndpoint(ep.String())
		if err != nil {
			t.Fatalf("String() %q of %q does not parse: %v", ep.String(), s, err)
		}
		if again != ep {
			t.Fatalf("round trip of %q: %+v -> %q -> %+v", s, ep, ep.String(), again)
		}
	})
}
