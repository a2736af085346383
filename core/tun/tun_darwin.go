package tun

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"

	wgtun "golang.zx2c4.com/wireguard/tun"
)

// DefaultName is the interface name used when Config.Name is empty: "utun"
// asks the kernel for the first free utunN.
const DefaultName = "utun"

// utunName matches the names macOS accepts for a utun interface.
var utunName = regexp.MustCompile(`^utun[0-9]*$`)

// validateName accepts any name: like the reference node, a name that is not
// utunN is replaced by the first free utunN in create.
func validateName(string) error { return nil }

// create opens a utun device and configures it with ifconfig and route.
//
// Honesty note: this file is compiled (GOOS=darwin go build) but has not been
// run on macOS by this project's tests. It follows the reference node's
// recipe: the address gets prefix length 7 (the reference uses the
// SIOCAIFADDR_IN6 ioctl with NODAD; we run ifconfig, which issues the same
// ioctl but without NODAD), MTU 1400 is set by wireguard-go, and the
// 400::/7 route is added explicitly in case the kernel did not install it
// for the point-to-point interface. wireguard-go's utun device adds and strips the 4-byte address
// family header, so Read and Write carry raw IPv6 packets with offset >= 4.
// The macOS loopback quirk (packets to the node's own /64 come out of the
// utun and must be written back) is the data plane's job, not this one.
func create(cfg Config) (wgtun.Device, error) {
	name := cfg.Name
	if !utunName.MatchString(name) {
		cfg.Logger.Warn("tun name is not utunN, using the first free utun", "name", name)
		name = "utun"
	}
	dev, err := wgtun.CreateTUN(name, cfg.MTU)
	if err != nil && name != "utun" {
		cfg.Logger.Warn("utun name taken, using the first free utun", "name", name, "err", err)
		dev, err = wgtun.CreateTUN("utun", cfg.MTU)
	}
	if err != nil {
		return nil, fmt.Errorf("tun: create utun: %w", err)
	}
	ifname, err := dev.Name()
	if err == nil {
		err = configure(ifname, cfg)
	}
	if err != nil {
		dev.Close()
		return nil, err
	}
	return dev, nil
}

// configure assigns <addr>/7 to the utun interface, brings it up and routes
// 400::/7 to it, with the same commands wg-quick uses on macOS.
func configure(name string, cfg Config) error {
	cidr := fmt.Sprintf("%s/%d", cfg.Addr, PrefixLen)
	steps := [][]string{
		{"/sbin/ifconfig", name, "inet6", cidr, "alias"},
		{"/sbin/ifconfig", name, "up"},
	}
	for _, args := range steps {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("tun: %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	out, err := exec.Command("/sbin/route", "-q", "-n", "add", "-inet6", overlay.String(),
		"-interface", name).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "File exists") {
		return fmt.Errorf("tun: route add %s -interface %s: %w: %s", overlay, name, err,
			strings.TrimSpace(string(out)))
	}
	return nil
}
