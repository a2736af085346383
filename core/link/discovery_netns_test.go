package link_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/link"
	"github.com/mycelium-go/mycelium/core/link/linktest"
)

const discoveryHelperEnv = "MYCELIUM_LINK_DISCOVERY_HELPER"

// TestDiscoveryNetns joins two network namespaces with a veth pair and
// runs one manager in each (as helper processes of this test binary):
// they must find each other by link-local discovery and connect.
func TestDiscoveryNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("ip not installed (apt-get install iproute2)")
	}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	suffix := strconv.Itoa(os.Getpid())
	ns := [2]string{"mlinkA" + suffix, "mlinkB" + suffix}
	ifs := [2]string{"vetha", "vethb"}
	for _, n := range ns {
		run("netns", "add", n)
		t.Cleanup(func() { _ = exec.Command(ip, "netns", "del", n).Run() })
	}
	run("link", "add", ifs[0], "netns", ns[0], "type", "veth", "peer", "name", ifs[1], "netns", ns[1])
	for i := range ns {
		// no duplicate address detection: the fe80 address is usable at once
		run("netns", "exec", ns[i], "sh", "-c", "echo 0 > /proc/sys/net/ipv6/conf/"+ifs[i]+"/accept_dad")
		run("-n", ns[i], "link", "set", ifs[i], "up")
	}

	var wg sync.WaitGroup
	outs := make([]string, 2)
	errs := make([]error, 2)
	for i := range ns {
		wg.Go(func() {
			cmd := exec.Command(ip, "netns", "exec", ns[i], os.Args[0], "-test.run=^TestDiscoveryHelper$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", discoveryHelperEnv, i+1))
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		})
	}
	wg.Wait()
	for i := range ns {
		if errs[i] != nil || !strings.Contains(outs[i], "DISCOVERED tcp://[fe80::") {
			t.Errorf("node in %s: %v\n%s", ns[i], errs[i], outs[i])
		}
	}
}

// TestDiscoveryHelper is one node of TestDiscoveryNetns; it does nothing
// unless started by it.
func TestDiscoveryHelper(t *testing.T) {
	id := os.Getenv(discoveryHelperEnv)
	if id == "" {
		t.Skip("helper process of TestDiscoveryNetns")
	}
	n, _ := strconv.Atoi(id)
	cfg := testConfig(byte(n))
	cfg.TCPListen = netip.MustParseAddrPort("[::]:9651")
	cfg.DisableDiscovery = false
	cfg.DiscoveryInterval = 200 * time.Millisecond
	r := &linktest.Recorder{}
	m, logs := startManager(t, cfg, r)
	c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// each node dials the other (discovered) and accepts the other's dial
	for _, kind := range []link.Kind{link.KindDiscovered, link.KindInbound} {
		e, err := r.Wait(c, func(e linktest.Event) bool { return e.Kind == linktest.Up && e.Link.Info().Kind == string(kind) })
		if err != nil {
			t.Fatalf("no %s link: %v\npeers: %+v\nlogs:\n%s", kind, err, m.Peers(), logs)
		}
		if kind == link.KindDiscovered {
			fmt.Printf("DISCOVERED %s\n", e.Link.Info().Endpoint)
		}
	}
}
