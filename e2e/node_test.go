package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Ports every node listens on (each node has its own namespace).
const (
	peerPort   = 9651
	socks5Addr = "127.0.0.1:1080"
	tunName    = "myc0"
)

// nodeConfig says how to run one node.
type nodeConfig struct {
	// Device is tun (default), netstack or none.
	Device string
	// Peers are passed as --peers.
	Peers []string
	// Config, if not empty, is written to a TOML file passed with -c.
	Config string
	// SOCKS5 turns on --socks5-listen on socks5Addr.
	SOCKS5 bool
}

// node is a running mycelium process in its namespace.
type node struct {
	ns   *netns
	dir  string // data dir; the key file is in it
	key  string
	cfg  string     // config file passed with -c; "" if none
	pub  string     // public key, 64 hex digits
	addr netip.Addr // overlay address
	proc *proc
}

// tcpPeer and quicPeer are --peers values for a node's underlay address.
func tcpPeer(a netip.Addr) string  { return fmt.Sprintf("tcp://[%s]:%d", a, peerPort) }
func quicPeer(a netip.Addr) string { return fmt.Sprintf("quic://[%s]:%d", a, peerPort) }

// node creates a key for a node in ns, starts it with cfg and waits until
// it logs that it runs; it fails the test if the node does not come up.
// Peer discovery is off: a lab's links are exactly the --peers given.
func (l *lab) node(ns *netns, cfg nodeConfig) *node {
	l.t.Helper()
	n, err := l.startNode(ns, cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	return n
}

// startNode is node that returns an error, with the node's log, when the
// node exits at start or does not come up in 15 s.
func (l *lab) startNode(ns *netns, cfg nodeConfig) (*node, error) {
	l.t.Helper()
	n := l.prepareNode(ns)
	return n, l.startPrepared(n, cfg)
}

// prepareNode creates the data dir and key of a node in ns without
// starting it, so that its key can go into other nodes' configs (and
// theirs into its own) before any of them runs.
func (l *lab) prepareNode(ns *netns) *node {
	l.t.Helper()
	n := &node{ns: ns, dir: filepath.Join(l.dir, "node"+ns.short)}
	n.key = filepath.Join(n.dir, "priv_key.bin")
	if err := os.MkdirAll(n.dir, 0o700); err != nil {
		l.t.Fatal(err)
	}
	if out, err := exec.Command(myceliumBin, "-k", n.key, "generate-keys").CombinedOutput(); err != nil {
		l.t.Fatalf("mycelium generate-keys: %v\n%s", err, out)
	}
	n.pub, n.addr = inspectKey(l, n.key)
	return n
}

// launch starts a prepared node with cfg and waits until it runs; it
// fails the test if the node does not come up.
func (l *lab) launch(n *node, cfg nodeConfig) *node {
	l.t.Helper()
	if err := l.startPrepared(n, cfg); err != nil {
		l.t.Fatal(err)
	}
	return n
}

// startPrepared starts a node made by prepareNode with cfg and waits
// until it logs that it runs.
func (l *lab) startPrepared(n *node, cfg nodeConfig) error {
	l.t.Helper()
	if cfg.Device == "" {
		cfg.Device = "tun"
	}
	args := []string{myceliumBin, "-k", n.key, "--data-dir", n.dir,
		"--disable-peer-discovery", "--device", cfg.Device, "--tun-name", tunName}
	if cfg.Config != "" {
		n.cfg = filepath.Join(n.dir, "mycelium.toml")
		if err := os.WriteFile(n.cfg, []byte(cfg.Config), 0o600); err != nil {
			l.t.Fatal(err)
		}
		args = append(args, "-c", n.cfg)
	}
	for _, p := range cfg.Peers {
		args = append(args, "--peers", p)
	}
	if cfg.SOCKS5 {
		args = append(args, "--socks5-listen", socks5Addr)
	}
	if os.Getenv("E2E_DEBUG") != "" {
		args = append(args, "-d")
	}
	n.proc = l.start(n.ns, "node"+n.ns.short, args...)
	return n.waitRunning()
}

// inspectKey returns a key file's public key and overlay address, as
// `mycelium inspect --json` prints them.
func inspectKey(l *lab, key string) (string, netip.Addr) {
	l.t.Helper()
	out, err := exec.Command(myceliumBin, "-k", key, "inspect", "--json").Output()
	if err != nil {
		l.t.Fatalf("mycelium inspect --json: %v", err)
	}
	var v struct {
		PublicKey string `json:"publicKey"`
		Address   string `json:"address"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		l.t.Fatalf("mycelium inspect --json: %v in %q", err, out)
	}
	addr, err := netip.ParseAddr(v.Address)
	if err != nil || len(v.PublicKey) != 64 {
		l.t.Fatalf("mycelium inspect --json: bad key or address in %q", out)
	}
	return v.PublicKey, addr
}

// waitRunning waits until the node logs "mycelium node running" with its
// address. It fails if the process ends or 15 s pass first.
func (n *node) waitRunning() error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		log := n.proc.output()
		if strings.Contains(log, "mycelium node running") {
			if !strings.Contains(log, "address="+n.addr.String()) {
				return fmt.Errorf("node %s runs, but not with address %s:\n%s", n.ns.short, n.addr, log)
			}
			return nil
		}
		if n.proc.exited() {
			return fmt.Errorf("node %s exited at start (%v):\n%s", n.ns.short, n.proc.err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("node %s did not log \"mycelium node running\" within 15 s:\n%s", n.ns.short, n.proc.output())
}

// alive fails the test if the node's process has ended.
func (n *node) alive(t testing.TB) {
	t.Helper()
	if n.proc.exited() {
		t.Fatalf("node %s died (%v)", n.ns.short, n.proc.err)
	}
}

// waitReachable pings dst from the node's namespace until it answers (a
// route has been found), at most timeout, and returns how long it took.
func (n *node) waitReachable(t testing.TB, dst netip.Addr, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var out string
	for time.Since(start) < timeout {
		n.alive(t)
		var err error
		out, err = n.ns.try(5*time.Second, "ping", "-6", "-n", "-c", "1", "-W", "1", dst.String())
		if err == nil {
			return time.Since(start)
		}
	}
	t.Fatalf("%s (node %s) cannot reach %s within %v; last ping:\n%s", n.addr, n.ns.short, dst, timeout, out)
	return 0
}
