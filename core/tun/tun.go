// Package tun creates the kernel TUN device a node uses as its data plane.
//
// Create opens the operating system's TUN interface through wireguard-go's
// tun package (batched reads and writes, and on Linux TSO/GRO offloads with
// the virtio-net header handled inside that package), gives it the node's
// overlay address with prefix length 7 so that the kernel routes 400::/7
// into it, sets the overlay MTU (1400) and brings the link up. The result is
// a plain golang.zx2c4.com/wireguard/tun.Device carrying raw IPv6 packets.
//
// Callers read with an offset of at least 16 bytes and buffers with capacity
// for 65535+offset bytes: with offloads, one read of the kernel device may
// hold a 64 KiB super-packet that Read splits into MTU-sized packets, and
// Write coalesces packets of one flow in place into the first buffer of that
// flow. The device is safe for one concurrent reader and one concurrent
// writer, not more.
//
// Platform support: Linux is implemented with netlink and tested in a
// private network namespace. macOS (utun) and Windows (Wintun) are compiled
// and written to the reference node's recipe but are not exercised by the
// test suite; see the doc comments in tun_darwin.go and tun_windows.go.
package tun

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"

	wgtun "golang.zx2c4.com/wireguard/tun"
)

// DefaultMTU is the overlay MTU every Mycelium node uses.
const DefaultMTU = 1400

// PrefixLen is the prefix length given to the node address on the
// interface. 400::/7 is the whole overlay, so the kernel installs the
// overlay route through the TUN with no separate route command.
const PrefixLen = 7

// MinOffset is the smallest offset callers should pass to Read and Write.
// wireguard-go needs room for the 10-byte virtio-net header on Linux and
// the 4-byte address-family header on macOS; 16 keeps payloads aligned.
const MinOffset = 16

// overlay is 400::/7, the address space of the overlay.
var overlay = netip.MustParsePrefix("400::/7")

// ErrUnsupported is returned by Create on platforms with no kernel TUN
// support in this package.
var ErrUnsupported = errors.New("tun: kernel TUN not supported on this platform")

// Config configures the kernel TUN device.
type Config struct {
	// Name is the interface name. Empty means DefaultName: "mycelium" on
	// Linux and Windows, "utun" (the first free utunN) on macOS.
	Name string
	// Addr is the node's overlay address; it must lie in 400::/7.
	Addr netip.Addr
	// MTU is the interface MTU. Zero means DefaultMTU.
	MTU int
	// Logger receives setup messages. Nil discards them.
	Logger *slog.Logger
}

// withDefaults returns c with empty fields filled in.
func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports whether c, after defaults, describes a usable device.
func (c Config) Validate() error {
	c = c.withDefaults()
	if !c.Addr.Is6() || c.Addr.Is4In6() || !overlay.Contains(c.Addr) {
		return fmt.Errorf("tun: address %v is not an overlay address in %v", c.Addr, overlay)
	}
	if c.MTU < 1280 || c.MTU > 65535 {
		return fmt.Errorf("tun: mtu %d out of range 1280..65535", c.MTU)
	}
	return validateName(c.Name)
}

// Create creates the TUN interface described by cfg, configures its address,
// MTU and link state, and returns it as a wireguard-go tun.Device. On error
// nothing is left behind: a device that was opened is closed again. The
// caller owns the device and must Close it.
func Create(cfg Config) (wgtun.Device, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	dev, err := create(cfg)
	if err != nil {
		return nil, err
	}
	name, _ := dev.Name()
	cfg.Logger.Info("tun device up", "name", name, "addr", cfg.Addr, "mtu", cfg.MTU,
		"batch", dev.BatchSize())
	return dev, nil
}
