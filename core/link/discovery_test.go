package link

import (
	"errors"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/mycelium-go/mycelium/core/wire"
)

func beaconID(b byte) wire.RouterID {
	var id wire.RouterID
	for i := range id {
		id[i] = b
	}
	return id
}

func TestBeaconRoundTrip(t *testing.T) {
	id := beaconID(7)
	b := AppendBeacon(nil, 9651, id)
	if len(b) != 50 || string(b[:8]) != "mycelium" || b[8] != 0x25 || b[9] != 0xb3 {
		t.Fatalf("beacon = %x", b)
	}
	port, got, err := ParseBeacon(b)
	if err != nil || port != 9651 || got != id {
		t.Errorf("ParseBeacon = %d, %x, %v", port, got, err)
	}
	for _, bad := range [][]byte{b[:49], append(b, 0), append([]byte("myceliuM"), b[8:]...), nil} {
		if _, _, err := ParseBeacon(bad); !errors.Is(err, ErrBeacon) {
			t.Errorf("ParseBeacon(%x) = %v, want ErrBeacon", bad, err)
		}
	}
}

func TestBeaconAcceptRules(t *testing.T) {
	own, other := beaconID(1), beaconID(2)
	m := &Manager{cfg: Config{RouterID: own}, log: slog.New(slog.DiscardHandler)}
	d := &discovery{m: m}
	src := netip.MustParseAddrPort("[fe80::1%veth0]:9650")
	tests := []struct {
		name string
		msg  []byte
		src  netip.AddrPort
		want string
		only []string
	}{
		{"accepted", AppendBeacon(nil, 9651, other), src, "tcp://[fe80::1%veth0]:9651", nil},
		{"own beacon", AppendBeacon(nil, 9651, own), src, "", nil},
		{"not fe80::/64", AppendBeacon(nil, 9651, other), netip.MustParseAddrPort("[fe80:1::1%veth0]:9650"), "", nil},
		{"global source", AppendBeacon(nil, 9651, other), netip.MustParseAddrPort("[2001:db8::1]:9650"), "", nil},
		{"no zone", AppendBeacon(nil, 9651, other), netip.MustParseAddrPort("[fe80::1]:9650"), "", nil},
		{"port 0", AppendBeacon(nil, 0, other), src, "", nil},
		{"short", AppendBeacon(nil, 9651, other)[:49], src, "", nil},
		{"interface allowed", AppendBeacon(nil, 9651, other), src, "tcp://[fe80::1%veth0]:9651", []string{"veth0"}},
		{"interface not allowed", AppendBeacon(nil, 9651, other), src, "", []string{"eth1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m.cfg.DiscoveryInterfaces = tt.only
			ep, ok := d.accept(tt.msg, tt.src)
			if got := map[bool]string{true: ep.String(), false: ""}[ok]; got != tt.want {
				t.Errorf("accept = %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzParseBeacon(f *testing.F) {
	f.Add(AppendBeacon(nil, 9651, beaconID(3)))
	f.Add([]byte("mycelium"))
	f.Add(make([]byte, 50))
	f.Fuzz(func(t *testing.T, b []byte) {
		port, id, err := ParseBeacon(b)
		if err != nil {
			return
		}
		if again := AppendBeacon(nil, port, id); string(again) != string(b) {
			t.Fatalf("beacon %x re-encodes as %x", b, again)
		}
	})
}
