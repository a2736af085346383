package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestNetstack pairs a kernel-TUN node T with a userspace-netstack node S
// (no TUN device in its namespace): T pings S's overlay address, which
// gVisor answers, and S reaches an HTTP server on T's overlay address only
// through its own SOCKS5 server, which dials through the netstack.
func TestNetstack(t *testing.T) {
	l := newLab(t)
	requireTools(t, "ping", "curl", "python3")
	nsT, nsS := l.namespace("T"), l.namespace("S")
	lk := l.connect(nsT, nsS)
	tn := l.node(nsT, nodeConfig{})
	sn := l.node(nsS, nodeConfig{Device: "netstack", SOCKS5: true, Peers: []string{tcpPeer(lk.addrA)}})

	took := tn.waitReachable(t, sn.addr, 20*time.Second)
	t.Logf("T %s (tun) reaches S %s (netstack) after %v", tn.addr, sn.addr, took.Round(time.Millisecond))
	if out, err := nsS.try(5*time.Second, "ip", "-6", "route", "get", tn.addr.String()); err == nil {
		t.Fatalf("S's kernel has a route to the overlay, so this test would not prove SOCKS5 works:\n%s", out)
	}

	t.Run("ping", func(t *testing.T) {
		r, out := nsT.ping(t, 15*time.Second, sn.addr, "-c", "20", "-i", "0.05")
		if r.Received != r.Sent || r.Sent != 20 {
			t.Fatalf("ping T->S: %v\n%s", r, out)
		}
		if got := r.TTLs(); len(got) != 1 || got[0] != hopTTL(1) {
			t.Errorf("ping T->S: reply TTLs %v, want [%d]", got, hopTTL(1))
		}
		t.Logf("ping T->S (netstack echo): %v", r)
	})

	dir := filepath.Join(l.dir, "www")
	blob := randomFile(t, dir, "blob", 32<<20)
	base := serveHTTP(l, tn, dir)

	t.Run("socks5", func(t *testing.T) {
		before := nsS.stats(t, lk.devB)
		got, speed := socksFetch(t, nsS, "--socks5", base+"/blob")
		if !bytes.Equal(got, blob) {
			t.Fatalf("S fetched %d bytes through SOCKS5, want the %d-byte file", len(got), len(blob))
		}
		if in := nsS.stats(t, lk.devB).sub(before); in.RxBytes < uint64(len(blob)) {
			t.Errorf("S's link to T received %d bytes during the fetch, want at least the file's %d", in.RxBytes, len(blob))
		}
		t.Logf("S fetched %d MiB from T's http.server through its SOCKS5 (IPv6 literal): %.3f Gbit/s", len(got)>>20, speed*8/1e9)
	})

	t.Run("socks5-hex-name", func(t *testing.T) {
		a16 := tn.addr.As16()
		url := fmt.Sprintf("http://%s.mycelium:%d/blob", hex.EncodeToString(a16[:]), httpPort)
		got, _ := socksFetch(t, nsS, "--socks5-hostname", url)
		if !bytes.Equal(got, blob) {
			t.Fatalf("S fetched %d bytes by hex name, want the %d-byte file", len(got), len(blob))
		}
	})

	t.Run("socks5-refused", func(t *testing.T) {
		// Nothing listens on T's port 9: T's kernel resets the netstack's
		// SYN and SOCKS5 must answer 0x05 (connection refused) at once.
		start := time.Now()
		out, err := nsS.try(30*time.Second, "curl", "-sS", "-g", "--max-time", "20", "--socks5", socks5Addr,
			fmt.Sprintf("http://[%s]:9/", tn.addr))
		took := time.Since(start)
		if err == nil {
			t.Fatalf("curl to a closed port through SOCKS5 succeeded:\n%s", out)
		}
		t.Logf("curl through SOCKS5 to a closed port on T: %v, %s", took.Round(time.Millisecond), strings.TrimSpace(out))
		if !strings.Contains(out, "(5)") && !strings.Contains(strings.ToLower(out), "refused") {
			t.Errorf("curl's error %q is not SOCKS5 reply 5 (connection refused)", strings.TrimSpace(out))
		}
		if took > 5*time.Second {
			t.Errorf("the refused connect took %v, want well under a second", took)
		}
	})
	tn.alive(t)
	sn.alive(t)
}

// httpPort is where serveHTTP listens.
const httpPort = 8080

// serveHTTP serves dir with python3's http.server on n's overlay address
// and returns the base URL once it answers.
func serveHTTP(l *lab, n *node, dir string) string {
	l.t.Helper()
	p := l.start(n.ns, "http-server"+n.ns.short, "python3", "-m", "http.server",
		"--bind", n.addr.String(), "--directory", dir, strconv.Itoa(httpPort))
	base := fmt.Sprintf("http://[%s]:%d", n.addr, httpPort)
	for start := time.Now(); time.Since(start) < 15*time.Second; time.Sleep(100 * time.Millisecond) {
		if _, err := n.ns.try(5*time.Second, "curl", "-sS", "-g", "-o", "/dev/null", "--fail", base+"/"); err == nil {
			return base
		}
		if p.exited() {
			break
		}
	}
	l.t.Fatalf("python3 http.server on %s does not answer:\n%s", base, p.output())
	return ""
}

// socksFetch downloads url with curl through the SOCKS5 server of the node
// in ns (mode is --socks5 or --socks5-hostname) and returns the body and
// curl's average download speed in bytes per second.
func socksFetch(t *testing.T, ns *netns, mode, url string) ([]byte, float64) {
	t.Helper()
	out := filepath.Join(ns.lab.dir, "fetched-"+strings.TrimPrefix(mode, "--"))
	res, err := ns.try(90*time.Second, "curl", "-sS", "-g", "--fail", "--max-time", "60",
		mode, socks5Addr, "-o", out, "-w", "%{speed_download}", url)
	if err != nil {
		t.Fatalf("curl %s %s %s: %v\n%s", mode, socks5Addr, url, err, res)
	}
	speed, err := strconv.ParseFloat(strings.TrimSpace(res), 64)
	if err != nil {
		t.Fatalf("curl -w %%{speed_download}: %q", res)
	}
	body, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return body, speed
}

// randomFile writes size random bytes to dir/name and returns them.
func randomFile(t *testing.T, dir, name string, size int) []byte {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}
