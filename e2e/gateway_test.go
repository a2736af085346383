package e2e

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// whoamiConfig is a node config that runs the whoami plugin (overlay
// port 7) and lets only the keys in allow use it. Its first line is the
// [[plugin]] table (see gatewayMissing).
func whoamiConfig(t *testing.T, allow ...string) string {
	t.Helper()
	var quoted []string
	for _, k := range allow {
		quoted = append(quoted, fmt.Sprintf("%q", k))
	}
	return fmt.Sprintf(`[[plugin]]
name = "whoami"
path = %q

[plugin.services.whoami]
loopback = []

[policy.whoami]
allow = [%s]
`, pluginBin(t, "whoami"), strings.Join(quoted, ", "))
}

// whoamiPort is the whoami service's overlay port.
const whoamiPort = 7

// TestGateway: a node S serves the whoami plugin on its overlay address
// through the gateway, on the userspace netstack and on a kernel TUN. T,
// a kernel-TUN node whose key the policy allows, connects and is named by
// its key; U, whose key it does not allow, gets nothing.
func TestGateway(t *testing.T) {
	for _, device := range []string{"netstack", "tun"} {
		t.Run(device, func(t *testing.T) { testGateway(t, device) })
	}
}

func testGateway(t *testing.T, device string) {
	l := newLab(t)
	requireTools(t, "bash", "timeout")
	nsT, nsU, nsS := l.namespace("T"), l.namespace("U"), l.namespace("S")
	ts, us := l.connect(nsT, nsS), l.connect(nsU, nsS)
	tn := l.node(nsT, nodeConfig{})
	un := l.node(nsU, nodeConfig{})
	sn, err := l.startNode(nsS, nodeConfig{Device: device, Config: whoamiConfig(t, tn.pub),
		Peers: []string{tcpPeer(ts.addrA), tcpPeer(us.addrA)}})
	if err != nil {
		if line, missing := gatewayMissing(sn); missing {
			t.Skip("gateway not built yet: the node rejects the [[plugin]] table: " + line)
		}
		t.Fatal(err)
	}
	tn.waitReachable(t, sn.addr, 20*time.Second)
	un.waitReachable(t, sn.addr, 20*time.Second)

	// The plugin starts in the background: ask until it answers.
	var answer string
	start := time.Now()
	for ; time.Since(start) < 20*time.Second; time.Sleep(200 * time.Millisecond) {
		sn.alive(t)
		if out, err := readAll(nsT, sn.addr, whoamiPort); err == nil && strings.HasPrefix(out, "key=") {
			answer = out
			break
		}
	}
	if answer == "" {
		t.Fatalf("whoami on [%s]:%d did not answer T within 20 s", sn.addr, whoamiPort)
	}
	t.Logf("T got from S's whoami (%s, after %v): %s", device, time.Since(start).Round(time.Millisecond), answer)
	want := fmt.Sprintf("key=%s addr=[%s]:", tn.pub, tn.addr)
	if !strings.HasPrefix(answer, want) || !strings.HasSuffix(answer, " origin=overlay") {
		t.Errorf("whoami answered T %q, want %q<port> origin=overlay", answer, want)
	}

	// Refused on the SYN (netstack) or accepted and reset (kernel).
	out, err := readAll(nsU, sn.addr, whoamiPort)
	if strings.Contains(out, "key=") {
		t.Errorf("U, whose key the policy does not allow, got %q", out)
	}
	t.Logf("U (not allowed) got nothing: %q (%v)", out, err)
}

// readAll connects from ns to [addr]:port with bash's /dev/tcp and returns
// everything the server sends until it closes (at most 5 s).
func readAll(ns *netns, addr netip.Addr, port int) (string, error) {
	script := fmt.Sprintf("exec 3<>/dev/tcp/%s/%d && cat <&3", addr, port)
	out, err := ns.try(10*time.Second, "timeout", "5", "bash", "-c", script)
	return strings.TrimSpace(out), err
}

// gatewayMissing reports whether the node exited because its config
// parser does not know the [[plugin]] table (line 1 of whoamiConfig): the
// gateway is not wired into the daemon yet. It returns the error line.
func gatewayMissing(n *node) (string, bool) {
	if !n.proc.exited() {
		return "", false
	}
	for _, line := range strings.Split(n.proc.output(), "\n") {
		if strings.Contains(line, "mycelium.toml: line 1, column") && strings.Contains(line, "toml:") {
			return strings.TrimSpace(line), true
		}
	}
	return "", false
}
