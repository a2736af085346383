package e2e

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// modulePath is the repository's Go module.
const modulePath = "github.com/mycelium-go/mycelium"

// The suite's shared state, set up once by TestMain.
var (
	// skipReason, when not empty, is why this machine cannot run the
	// suite (not root, no `ip netns`, -short); every test skips with it.
	skipReason string
	// binDir holds the binaries built for this run.
	binDir string
	// myceliumBin is the node binary, built without -race.
	myceliumBin string
	// buildErr is the error of building the node, reported by every test.
	buildErr error
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	if os.Getenv(helperEnv) != "" {
		// A re-executed helper (TestHelper*): no build, no probing.
		return m.Run()
	}
	skipReason = environmentProblem()
	if skipReason != "" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "mycelium-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	sweepStaleNamespaces()
	start := time.Now()
	myceliumBin, buildErr = goBuild("mycelium", modulePath+"/cmd/mycelium")
	if buildErr == nil {
		fmt.Fprintf(os.Stderr, "e2e: built %s in %v\n", myceliumBin, time.Since(start).Round(time.Millisecond))
	}
	return m.Run()
}

// environmentProblem says why the suite cannot run here, or "".
func environmentProblem() string {
	switch {
	case testing.Short():
		return "e2e: skipped in -short mode"
	case os.Geteuid() != 0:
		return "e2e: needs root and ip netns (run as root, apt-get install iproute2)"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "e2e: needs root and ip netns (run as root, apt-get install iproute2)"
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return "e2e: needs /dev/net/tun (kernel TUN support)"
	}
	// A namespace we can create and delete proves `ip netns` works.
	name := fmt.Sprintf("%s%d-probe", nsPrefix, os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return fmt.Sprintf("e2e: needs root and ip netns (ip netns add: %v: %s)", err, bytes.TrimSpace(out))
	}
	exec.Command("ip", "netns", "del", name).Run()
	return ""
}

// goBuild builds pkg into binDir/name with the go command that runs the
// tests, without the test's -race (the binaries are the system under
// test, not the test).
func goBuild(name, pkg string) (string, error) {
	out := filepath.Join(binDir, name)
	cmd := exec.Command(goTool(), "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOFLAGS="+withoutRace(os.Getenv("GOFLAGS")))
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return out, nil
}

// goTool is the go command: the one in GOROOT if set, else from PATH.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

func withoutRace(goflags string) string {
	var keep []string
	for _, f := range strings.Fields(goflags) {
		if f != "-race" {
			keep = append(keep, f)
		}
	}
	return strings.Join(keep, " ")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// requireSuite skips t when the machine cannot run the suite and fails it
// when the node did not build.
func requireSuite(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// installHints names the Debian package of each program the suite uses.
var installHints = map[string]string{
	"ping":    "iputils-ping",
	"iperf3":  "iperf3",
	"curl":    "curl",
	"python3": "python3",
	"bash":    "bash",
	"ip":      "iproute2",
	"ss":      "iproute2",
	"swaks":   "swaks",
	"rclone":  "rclone",
	"node":    "nodejs",
	"npm":     "npm",
	"timeout": "coreutils",
}

// requireTools skips t when one of the programs is missing.
func requireTools(t *testing.T, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("e2e: %s not installed (apt-get install %s)", p, installHints[p])
		}
	}
}

// pluginBins caches plugin binaries built on first use.
var pluginBins struct {
	sync.Mutex
	path map[string]string
	err  map[string]error
}

// pluginBin builds plugins/<name> once per run and returns its path.
func pluginBin(t *testing.T, name string) string {
	t.Helper()
	pluginBins.Lock()
	defer pluginBins.Unlock()
	if pluginBins.path == nil {
		pluginBins.path, pluginBins.err = map[string]string{}, map[string]error{}
	}
	if _, done := pluginBins.path[name]; !done {
		pluginBins.path[name], pluginBins.err[name] = goBuild("plugin-"+name, modulePath+"/plugins/"+name)
	}
	if err := pluginBins.err[name]; err != nil {
		t.Fatal(err)
	}
	return pluginBins.path[name]
}
