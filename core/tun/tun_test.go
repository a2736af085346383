package tun

import (
	"errors"
	"net/netip"
	"runtime"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	node := netip.MustParseAddr("400:1234::1")
	type tcase struct {
		name    string
		cfg     Config
		wantErr string
	}
	tests := []tcase{
		{"defaults", Config{Addr: node}, ""},
		{"upper half of overlay", Config{Addr: netip.MustParseAddr("5ff:ffff::1")}, ""},
		{"zero address", Config{}, "not an overlay address"},
		{"outside overlay", Config{Addr: netip.MustParseAddr("600::1")}, "not an overlay address"},
		{"ipv4", Config{Addr: netip.MustParseAddr("10.0.0.1")}, "not an overlay address"},
		{"mtu too small", Config{Addr: node, MTU: 1000}, "mtu 1000 out of range"},
		{"mtu too big", Config{Addr: node, MTU: 70000}, "mtu 70000 out of range"},
	}
	if runtime.GOOS == "linux" {
		tests = append(tests,
			tcase{"name too long", Config{Addr: node, Name: "a-very-long-interface-name"}, "longer than 15"},
			tcase{"name with slash", Config{Addr: node, Name: "my/tun"}, "invalid character"},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.Name != DefaultName || c.MTU != DefaultMTU || c.Logger == nil {
		t.Fatalf("withDefaults() = %+v, want name %q, mtu %d and a logger", c, DefaultName, DefaultMTU)
	}
}

func TestCreateRejectsBadConfig(t *testing.T) {
	dev, err := Create(Config{Addr: netip.MustParseAddr("2001:db8::1")})
	if err == nil {
		dev.Close()
		t.Fatal("Create(non-overlay address) succeeded, want error")
	}
	if errors.Is(err, ErrUnsupported) {
		t.Fatalf("Create(bad config) = %v, want a validation error first", err)
	}
}
