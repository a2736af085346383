package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// nsPrefix starts the name of every namespace the suite creates:
// <nsPrefix><test binary's PID>-<lab>-<node>. The PID lets a later run
// delete what a killed run left behind without touching a live one.
const nsPrefix = "mye2e-"

// cmdTimeout bounds every short command the harness runs.
const cmdTimeout = 30 * time.Second

var labSeq atomic.Int32

// lab is one test's throw-away network: namespaces, veth links between
// them and the processes running inside. Everything is removed in the
// test's cleanup, also when the test fails. Building the lab (namespace,
// connect, node, start) reports to the test that made it, so it belongs
// in that test's body; the helpers that may run in subtests take the
// subtest's t.
type lab struct {
	t     *testing.T
	id    string // namespace name prefix of this lab
	dir   string // scratch: keys, data dirs, logs
	nss   []*netns
	procs []*proc
	links int
}

// newLab skips t unless the suite can run, and returns an empty lab.
func newLab(t *testing.T) *lab {
	t.Helper()
	requireSuite(t)
	requireTools(t, "ping") // the harness checks links and readiness with it
	l := &lab{
		t:   t,
		id:  fmt.Sprintf("%s%d-%d-", nsPrefix, os.Getpid(), labSeq.Add(1)),
		dir: t.TempDir(),
	}
	t.Cleanup(l.close)
	return l
}

// netns is one network namespace of a lab.
type netns struct {
	lab   *lab
	name  string // full namespace name
	short string // the test's name for it: "A", "B", ...
}

// namespace creates a namespace with loopback up and duplicate address
// detection off (addresses are usable at once).
func (l *lab) namespace(short string) *netns {
	l.t.Helper()
	n := &netns{lab: l, name: l.id + short, short: short}
	l.host("ip", "netns", "add", n.name)
	l.nss = append(l.nss, n)
	n.run(l.t, "ip", "link", "set", "lo", "up")
	n.run(l.t, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
	return n
}

// host runs a command in the test's own namespace; it fails the test on
// error.
func (l *lab) host(args ...string) string {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// command returns a command that runs inside the namespace.
func (n *netns) command(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.name}, args...)...)
}

// try runs a command inside the namespace, bounded by timeout, and
// returns its combined output.
func (n *netns) try(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := n.command(ctx, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s in %s: %w", strings.Join(args, " "), n.short, err)
	}
	return string(out), nil
}

// run is try with cmdTimeout that fails t on error.
func (n *netns) run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := n.try(cmdTimeout, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// link is a veth pair between two namespaces, with a ULA /64 on it.
type link struct {
	a, b         *netns
	devA, devB   string
	addrA, addrB netip.Addr
}

// connect joins a and b with a new veth pair: fd00:e2e:0:<k>::1 on a's
// end and ::2 on b's end, k counting the lab's links from 1. Each end is
// named after the namespace on the other side ("toB" in A).
func (l *lab) connect(a, b *netns) *link {
	l.t.Helper()
	l.links++
	k := l.links
	lk := &link{
		a: a, b: b,
		devA:  fmt.Sprintf("to%s%d", b.short, k),
		devB:  fmt.Sprintf("to%s%d", a.short, k),
		addrA: netip.MustParseAddr(fmt.Sprintf("fd00:e2e:0:%x::1", k)),
		addrB: netip.MustParseAddr(fmt.Sprintf("fd00:e2e:0:%x::2", k)),
	}
	l.host("ip", "link", "add", lk.devA, "netns", a.name, "type", "veth", "peer", "name", lk.devB, "netns", b.name)
	for _, end := range []struct {
		ns   *netns
		dev  string
		addr netip.Addr
	}{{a, lk.devA, lk.addrA}, {b, lk.devB, lk.addrB}} {
		end.ns.run(l.t, "ip", "addr", "add", end.addr.String()+"/64", "dev", end.dev, "nodad")
		end.ns.run(l.t, "ip", "link", "set", end.dev, "up")
	}
	lk.waitUnderlay(l.t)
	return lk
}

// waitUnderlay pings across the link until it answers. (The first
// neighbour resolution on a fresh veth sometimes goes unanswered and is
// retried only after 1 s; without this the first peering of a lab would
// take a second longer, which would blur the timings the tests log.)
func (lk *link) waitUnderlay(t testing.TB) {
	t.Helper()
	var out string
	var err error
	for try := 0; try < 10; try++ {
		if out, err = lk.a.try(5*time.Second, "ping", "-6", "-n", "-c", "1", "-W", "2", lk.addrB.String()); err == nil {
			return
		}
	}
	t.Fatalf("veth %s-%s: %s does not answer ping: %v\n%s", lk.a.short, lk.b.short, lk.addrB, err, out)
}

// cut takes a's end of the link down: from then on neither side can send
// on it, and nothing tells the nodes (no RST, no FIN).
func (lk *link) cut(t testing.TB) {
	lk.a.run(t, "ip", "link", "set", lk.devA, "down")
}

// ifStats are an interface's counters.
type ifStats struct {
	RxPackets, TxPackets, RxBytes, TxBytes uint64
}

func (s ifStats) sub(o ifStats) ifStats {
	return ifStats{s.RxPackets - o.RxPackets, s.TxPackets - o.TxPackets, s.RxBytes - o.RxBytes, s.TxBytes - o.TxBytes}
}

// stats reads the counters of dev in the namespace.
func (n *netns) stats(t testing.TB, dev string) ifStats {
	t.Helper()
	out := n.run(t, "ip", "-j", "-s", "link", "show", "dev", dev)
	s, err := parseIfStats([]byte(out))
	if err != nil {
		t.Fatalf("ip -s link show %s in %s: %v\n%s", dev, n.short, err, out)
	}
	return s
}

// parseIfStats decodes `ip -j -s link show dev X`.
func parseIfStats(b []byte) (ifStats, error) {
	var links []struct {
		Stats64 struct {
			Rx struct{ Bytes, Packets uint64 } `json:"rx"`
			Tx struct{ Bytes, Packets uint64 } `json:"tx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal(b, &links); err != nil {
		return ifStats{}, err
	}
	if len(links) != 1 {
		return ifStats{}, fmt.Errorf("%d links in the output, want 1", len(links))
	}
	s := links[0].Stats64
	return ifStats{RxPackets: s.Rx.Packets, TxPackets: s.Tx.Packets, RxBytes: s.Rx.Bytes, TxBytes: s.Tx.Bytes}, nil
}

// close ends every process (logs of failed tests are printed first), then
// whatever still runs in the lab's namespaces, then the namespaces.
func (l *lab) close() {
	if l.t.Failed() {
		for _, p := range l.procs {
			p.dumpLog(l.t)
		}
	}
	for i := len(l.procs) - 1; i >= 0; i-- {
		l.procs[i].stop()
	}
	for _, n := range l.nss {
		deleteNamespace(n.name)
	}
}

// deleteNamespace kills the processes left in a namespace by PID and
// deletes it. Only suite-named namespaces are passed here, so every
// process inside was started by the suite.
func deleteNamespace(name string) {
	for try := 0; try < 20; try++ {
		pids := namespacePIDs(name)
		if len(pids) == 0 {
			break
		}
		sig := syscall.SIGTERM
		if try >= 10 {
			sig = syscall.SIGKILL
		}
		for _, pid := range pids {
			syscall.Kill(pid, sig)
		}
		time.Sleep(100 * time.Millisecond)
	}
	exec.Command("ip", "netns", "del", name).Run()
}

func namespacePIDs(name string) []int {
	out, _ := exec.Command("ip", "netns", "pids", name).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// sweepStaleNamespaces deletes suite namespaces whose test binary is gone
// (a run killed before its cleanup). Live runs' namespaces are left alone.
func sweepStaleNamespaces() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasPrefix(fields[0], nsPrefix) {
			continue
		}
		name := fields[0]
		pidText, _, _ := strings.Cut(strings.TrimPrefix(name, nsPrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		fmt.Fprintf(os.Stderr, "e2e: deleting namespace %s left by a dead run (pid %d)\n", name, pid)
		deleteNamespace(name)
	}
}

// proc is a background process of a lab, its output kept in a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

// start runs args inside ns in the background, stdout and stderr to
// <lab dir>/<name>.log. The lab stops it in cleanup.
func (l *lab) start(ns *netns, name string, args ...string) *proc {
	l.t.Helper()
	p := &proc{name: name, log: fmt.Sprintf("%s/%s.log", l.dir, name), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		l.t.Fatal(err)
	}
	defer f.Close()
	// `ip netns exec` execs the program, so the PID is the program's own.
	p.cmd = ns.command(context.Background(), args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		l.t.Fatalf("start %s: %v", name, err)
	}
	l.procs = append(l.procs, p)
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits at most d for the process to end.
func (p *proc) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// stop ends the process: SIGTERM, then SIGKILL after 5 s.
func (p *proc) stop() {
	if p.exited() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if !p.wait(5 * time.Second) {
		p.cmd.Process.Kill()
		p.wait(5 * time.Second)
	}
}

// output returns the process's log so far.
func (p *proc) output() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// dumpLog prints the tail of the process's log into the test output.
func (p *proc) dumpLog(t *testing.T) {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	const keep = 80
	if len(lines) > keep {
		lines = lines[len(lines)-keep:]
	}
	t.Logf("---- %s (last %d lines of %s) ----\n%s", p.name, len(lines), p.log, bytes.Join(lines, []byte("\n")))
}
