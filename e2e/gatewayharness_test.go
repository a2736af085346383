package e2e

import (
	"context"
	"encoding/hex"
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

// The gateway side of the harness: node configs with plugins, policies
// and forwards; the node's CLI (plugin subcommands, `gateway status`,
// `ca export`) run in the node's namespace, as a user on that machine
// would.

// pluginTOML is a [[plugin]] table running plugins/<name> (built on first
// use) followed by extra: the plugin's [plugin.settings] and
// [plugin.services.<service>] tables, as TOML.
func pluginTOML(t *testing.T, name, extra string) string {
	t.Helper()
	return fmt.Sprintf("[[plugin]]\nname = %q\npath = %q\n%s\n", name, pluginBin(t, name), extra)
}

// policyTOML is a [policy.<service>] table allowing exactly keys.
func policyTOML(service string, keys ...string) string {
	return fmt.Sprintf("[policy.%s]\nallow = [%s]\n", service, quoteAll(keys))
}

// forwardTOML is a [[forward]] table: local (a loopback address and port)
// to remote ("<key>:<port>" or "[<overlay address>]:<port>").
func forwardTOML(local, remote string) string {
	return fmt.Sprintf("[[forward]]\nlocal = %q\nremote = %q\n", local, remote)
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// cli runs `mycelium -k <key> [-c <config>] args...` in the node's
// namespace with stdin as its standard input and returns its combined
// output. Plugin subcommands (`mail adduser`) read the same key, config
// and data directory as the running node.
func (n *node) cli(t testing.TB, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	full := []string{myceliumBin, "-k", n.key}
	if n.cfg != "" {
		full = append(full, "-c", n.cfg)
	}
	cmd := n.ns.command(ctx, append(full, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("mycelium %s in %s: %w", strings.Join(args, " "), n.ns.short, err)
	}
	return string(out), nil
}

// mustCLI is cli that fails t on error.
func (n *node) mustCLI(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	out, err := n.cli(t, stdin, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// gwStatus is what the suite reads of `mycelium gateway status --json`.
type gwStatus struct {
	Plugins  []gwPlugin  `json:"plugins"`
	Forwards []gwForward `json:"forwards"`
}

type gwPlugin struct {
	Name      string      `json:"name"`
	State     string      `json:"state"`
	Pid       int         `json:"pid"`
	Restarts  int         `json:"restarts"`
	LastError string      `json:"lastError"`
	Services  []gwService `json:"services"`
}

type gwService struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	Overlay  string `json:"overlay"`
	Accepted int64  `json:"accepted"`
	Refused  int64  `json:"refused"`
	Failed   int64  `json:"failed"`
}

type gwForward struct {
	Local    string `json:"local"`
	Target   string `json:"target"`
	Error    string `json:"error"`
	Accepted int64  `json:"accepted"`
	Failed   int64  `json:"failed"`
}

// gatewayStatus runs `mycelium gateway status --json` in the node's
// namespace (its API is on the default 127.0.0.1:8989 there).
func (n *node) gatewayStatus(t testing.TB) gwStatus {
	t.Helper()
	out := n.mustCLI(t, "", "gateway", "status", "--json")
	var st gwStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("mycelium gateway status --json in %s: %v\n%s", n.ns.short, err, out)
	}
	return st
}

// plugin returns the named plugin's entry of st.
func (st gwStatus) plugin(name string) (gwPlugin, bool) {
	for _, p := range st.Plugins {
		if p.Name == name {
			return p, true
		}
	}
	return gwPlugin{}, false
}

// service returns the named service's entry of p.
func (p gwPlugin) service(name string) (gwService, bool) {
	for _, s := range p.Services {
		if s.Name == name {
			return s, true
		}
	}
	return gwService{}, false
}

// ready reports whether the plugin runs with every enabled service's
// listeners open.
func (p gwPlugin) ready() bool {
	if p.State != "running" || p.Pid == 0 {
		return false
	}
	for _, s := range p.Services {
		if s.State != "listening" && s.State != "unbound" && s.State != "disabled" {
			return false
		}
	}
	return true
}

// waitPlugin waits until the gateway of n reports the plugin running with
// its listeners open, at most 20 s, and returns its status.
func (n *node) waitPlugin(t testing.TB, name string) gwPlugin {
	t.Helper()
	var last gwPlugin
	for start := time.Now(); time.Since(start) < 20*time.Second; time.Sleep(100 * time.Millisecond) {
		n.alive(t)
		p, ok := n.gatewayStatus(t).plugin(name)
		if ok && p.ready() {
			return p
		}
		last = p
	}
	t.Fatalf("plugin %s on node %s not running with open listeners after 20 s: %+v", name, n.ns.short, last)
	return gwPlugin{}
}

// exportCA runs `mycelium ca export` as a user of n would and writes the
// PEM next to n's data dir; it returns the file's path.
func (n *node) exportCA(t testing.TB) string {
	t.Helper()
	pem := n.mustCLI(t, "", "ca", "export")
	if !strings.HasPrefix(pem, "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("mycelium ca export in %s printed no PEM certificate:\n%s", n.ns.short, pem)
	}
	path := filepath.Join(n.ns.lab.dir, "ca-"+n.ns.short+".pem")
	if err := os.WriteFile(path, []byte(pem), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// hexAddr is the 32 lowercase hex digits of an overlay address.
func hexAddr(a netip.Addr) string {
	b := a.As16()
	return hex.EncodeToString(b[:])
}

// mailDomain is the node's canonical mail domain.
func (n *node) mailDomain() string { return hexAddr(n.addr) + ".mycelium.internal" }

// pythonBin is the Python the suite runs its client scripts with: the
// system's (which has the Debian python3-* modules), else python3 on PATH.
func pythonBin(t testing.TB) string {
	t.Helper()
	if fileExists("/usr/bin/python3") {
		return "/usr/bin/python3"
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("e2e: python3 not installed (apt-get install python3)")
	}
	return p
}

// requirePythonModule skips t unless pythonBin can import module.
func requirePythonModule(t testing.TB, module, pkg string) {
	t.Helper()
	if out, err := exec.Command(pythonBin(t), "-c", "import "+module).CombinedOutput(); err != nil {
		t.Skipf("e2e: python module %s missing (apt-get install %s): %s", module, pkg, strings.TrimSpace(string(out)))
	}
}

// testdata returns the absolute path of a file in e2e/testdata (scripts
// run in other namespaces, from other directories).
func testdata(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
