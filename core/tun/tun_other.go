//go:build !linux && !darwin && !windows

package tun

import (
	"fmt"
	"runtime"

	wgtun "golang.zx2c4.com/wireguard/tun"
)

// DefaultName is the interface name used when Config.Name is empty.
const DefaultName = "mycelium"

// validateName accepts any name; create fails on this platform anyway.
func validateName(string) error { return nil }

// create reports that this platform has no kernel TUN support here; run the
// node on the userspace stack (core/netstack) instead.
func create(Config) (wgtun.Device, error) {
	return nil, fmt.Errorf("%w (%s); use the userspace stack", ErrUnsupported, runtime.GOOS)
}
