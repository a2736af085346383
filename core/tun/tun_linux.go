package tun

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	wgtun "golang.zx2c4.com/wireguard/tun"
)

// DefaultName is the interface name used when Config.Name is empty.
const DefaultName = "mycelium"

// validateName checks the Linux interface-name rules (IFNAMSIZ).
func validateName(name string) error {
	if len(name) >= unix.IFNAMSIZ {
		return fmt.Errorf("tun: interface name %q longer than %d bytes", name, unix.IFNAMSIZ-1)
	}
	for _, r := range name {
		if r == '/' || r == ':' || r <= ' ' || r > '~' {
			return fmt.Errorf("tun: interface name %q has invalid character %q", name, r)
		}
	}
	return nil
}

// create opens /dev/net/tun with offloads (wireguard-go) and configures the
// link with netlink: address <addr>/7 with IFA_F_NODAD, MTU, link up.
func create(cfg Config) (wgtun.Device, error) {
	dev, err := wgtun.CreateTUN(cfg.Name, cfg.MTU)
	if err != nil {
		return nil, fmt.Errorf("tun: create %q: %w", cfg.Name, err)
	}
	name, err := dev.Name()
	if err == nil {
		err = configure(name, cfg)
	}
	if err != nil {
		dev.Close()
		return nil, err
	}
	return dev, nil
}

// configure sets the address, MTU and up state of the interface name.
func configure(name string, cfg Config) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("tun: find link %q: %w", name, err)
	}
	if err := netlink.LinkSetMTU(link, cfg.MTU); err != nil {
		return fmt.Errorf("tun: set mtu %d on %q: %w", cfg.MTU, name, err)
	}
	addr := &netlink.Addr{
		IPNet: &net.IPNet{IP: cfg.Addr.AsSlice(), Mask: net.CIDRMask(PrefixLen, 128)},
		Flags: unix.IFA_F_NODAD,
	}
	if err := removeStale(link, cfg); err != nil {
		return err
	}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("tun: add address %v/%d to %q: %w", cfg.Addr, PrefixLen, name, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("tun: set %q up: %w", name, err)
	}
	return nil
}

// dumpRetries bounds how often retryDump repeats an interrupted dump.
const dumpRetries = 5

// retryDump runs a netlink dump (AddrList, RouteList, LinkList, ...) and
// repeats it while the kernel reports the dump as interrupted
// (netlink.ErrDumpInterrupted: the table changed while it was read, so the
// partial result may be inconsistent). After dumpRetries attempts the last
// partial result is returned with the error.
func retryDump[T any](dump func() (T, error)) (T, error) {
	var (
		out T
		err error
	)
	for i := range dumpRetries {
		out, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
		time.Sleep(time.Duration(i+1) * time.Millisecond)
	}
	return out, fmt.Errorf("tun: netlink dump still interrupted after %d attempts: %w", dumpRetries, err)
}

// removeStale deletes overlay addresses other than cfg.Addr from link. A
// persistent TUN (created with `ip tuntap add`) keeps the address of a
// previous run, possibly from another key, and two overlay addresses on one
// interface would make the kernel pick the wrong source.
func removeStale(link netlink.Link, cfg Config) error {
	addrs, err := retryDump(func() ([]netlink.Addr, error) {
		return netlink.AddrList(link, netlink.FAMILY_V6)
	})
	if err != nil {
		return fmt.Errorf("tun: list addresses of %q: %w", link.Attrs().Name, err)
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok || ip.Unmap() == cfg.Addr || !overlay.Contains(ip.Unmap()) {
			continue
		}
		cfg.Logger.Info("removing stale overlay address", "name", link.Attrs().Name, "addr", ip)
		if err := netlink.AddrDel(link, &a); err != nil {
			return fmt.Errorf("tun: remove stale address %v from %q: %w", ip, link.Attrs().Name, err)
		}
	}
	return nil
}
