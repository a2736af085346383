package tun

import (
	"fmt"
	"os/exec"
	"strings"

	wgtun "golang.zx2c4.com/wireguard/tun"
)

// DefaultName is the interface name used when Config.Name is empty.
const DefaultName = "mycelium"

// validateName rejects names netsh cannot take as one argument.
func validateName(name string) error {
	if strings.ContainsAny(name, "\"\r\n") {
		return fmt.Errorf("tun: interface name %q has invalid characters", name)
	}
	return nil
}

// create opens a Wintun adapter (wintun.dll must be next to the executable or
// on the DLL search path) and configures it with netsh, as the reference node
// does: `netsh interface ipv6 set address <name> <addr>/7` and
// `netsh interface ipv6 set subinterface <name> mtu=1400`.
//
// Honesty note: this file is compiled (GOOS=windows go build) but has not been
// run on Windows by this project's tests. Wintun reads and writes raw IP
// packets, so offsets are only headroom there; BatchSize is wireguard-go's.
func create(cfg Config) (wgtun.Device, error) {
	dev, err := wgtun.CreateTUN(cfg.Name, cfg.MTU)
	if err != nil {
		return nil, fmt.Errorf("tun: create wintun adapter %q (is wintun.dll installed?): %w", cfg.Name, err)
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

// configure sets <addr>/7 and the MTU on the adapter with netsh.
func configure(name string, cfg Config) error {
	steps := [][]string{
		{"interface", "ipv6", "set", "address", "interface=" + name,
			fmt.Sprintf("address=%s/%d", cfg.Addr, PrefixLen), "store=active"},
		{"interface", "ipv6", "set", "subinterface", "interface=" + name,
			fmt.Sprintf("mtu=%d", cfg.MTU), "store=active"},
	}
	for _, args := range steps {
		out, err := exec.Command("netsh", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("tun: netsh %s: %w: %s", strings.Join(args, " "), err,
				strings.TrimSpace(string(out)))
		}
	}
	return nil
}
