package e2e

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPluginRestart: node S (kernel TUN) runs the whoami and mail
// plugins. A `kill -9` of the whoami process (its pid from `mycelium
// gateway status --json`) is survived: T's next connection over the
// overlay is answered within a second, and the status shows a new pid
// and restarts=1. Then a `kill -9` of the node itself takes its plugin
// processes with it within a few seconds.
func TestPluginRestart(t *testing.T) {
	l := newLab(t)
	requireTools(t, "bash", "timeout")
	nsT, nsS := l.namespace("T"), l.namespace("S")
	ts := l.connect(nsT, nsS)
	tn, sn := l.prepareNode(nsT), l.prepareNode(nsS)
	l.launch(tn, nodeConfig{})
	l.launch(sn, nodeConfig{Config: whoamiConfig(t, tn.pub) + pluginTOML(t, "mail", ""), Peers: []string{tcpPeer(ts.addrA)}})
	tn.waitReachable(t, sn.addr, 20*time.Second)
	before := sn.waitPlugin(t, "whoami")
	mail := sn.waitPlugin(t, "mail")
	if out, err := readAll(nsT, sn.addr, whoamiPort); err != nil || !strings.HasPrefix(out, "key="+tn.pub) {
		t.Fatalf("whoami before the kill: %q (%v)", out, err)
	}

	t.Run("kill-plugin", func(t *testing.T) {
		if before.Restarts != 0 {
			t.Fatalf("whoami restarts = %d before the kill, want 0", before.Restarts)
		}
		killPlugin(t, before.Pid, "whoami")
		killed := time.Now()
		var answer string
		var failures []string
		for time.Since(killed) < 5*time.Second {
			out, err := readAll(nsT, sn.addr, whoamiPort)
			if err == nil && strings.HasPrefix(out, "key="+tn.pub) {
				answer = out
				break
			}
			failures = append(failures, fmt.Sprintf("%v: %q (%v)", time.Since(killed).Round(time.Millisecond), out, err))
			time.Sleep(20 * time.Millisecond)
		}
		back := time.Since(killed)
		if answer == "" {
			t.Fatalf("whoami did not answer T within 5 s of the kill -9")
		}
		t.Logf("kill -9 of whoami (pid %d): T's connection answered %v later (bash startup included); failed attempts before: %q",
			before.Pid, back.Round(time.Millisecond), failures)
		if back > time.Second {
			t.Errorf("the first answer after the kill took %v, want within 1 s", back)
		}
		after, _ := sn.gatewayStatus(t).plugin("whoami")
		if after.Restarts != 1 || after.Pid == before.Pid || after.Pid == 0 || after.State != "running" {
			t.Errorf("gateway status after the kill: state %s pid %d restarts %d, want running, a new pid, restarts=1",
				after.State, after.Pid, after.Restarts)
		}
		if m, _ := sn.gatewayStatus(t).plugin("mail"); m.Pid != mail.Pid || m.Restarts != 0 {
			t.Errorf("mail was touched by whoami's restart: pid %d -> %d, restarts %d", mail.Pid, m.Pid, m.Restarts)
		}
	})

	t.Run("kill-node", func(t *testing.T) {
		st := sn.gatewayStatus(t)
		var pids []int
		for _, p := range st.Plugins {
			if p.Pid == 0 {
				t.Fatalf("plugin %s has no pid: %+v", p.Name, p)
			}
			pids = append(pids, p.Pid)
		}
		if err := sn.proc.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		if !sn.proc.wait(5 * time.Second) {
			t.Fatal("the node did not die of SIGKILL")
		}
		for _, pid := range pids {
			for alive(pid) && time.Since(killed) < 5*time.Second {
				time.Sleep(10 * time.Millisecond)
			}
			if alive(pid) {
				t.Errorf("plugin pid %d still runs 5 s after the node's kill -9", pid)
			}
		}
		t.Logf("kill -9 of the node: its %d plugin processes %v were gone %v later", len(pids), pids, time.Since(killed).Round(time.Millisecond))
	})
	tn.alive(t)
}

// killPlugin sends SIGKILL to pid after checking that it is the named
// plugin's binary (as started by a node of this suite).
func killPlugin(t *testing.T, pid int, name string) {
	t.Helper()
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "plugin-"+name) {
		t.Fatalf("pid %d is not plugin %s (cmdline %q, %v)", pid, name, cmdline, err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
}

// alive reports whether a process runs: it exists and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// Field 3, after the parenthesized command name, is the state.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	return stat[i+2] != 'Z'
}
