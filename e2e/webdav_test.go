package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	// webdavPort is the webdav service's overlay port.
	webdavPort = 80
	// forwardLocal is where C's port forward to B's webdav listens.
	forwardLocal = "127.0.0.1:18090"
)

// webdavConfig runs the webdav plugin and lets the keys in allow use it
// over the overlay.
func webdavConfig(t *testing.T, allow ...string) string {
	t.Helper()
	return pluginTOML(t, "webdav", "") + policyTOML("webdav", allow...)
}

// TestWebDAVOverMesh: node B (kernel TUN) serves the webdav plugin; its
// [policy.webdav] allows A (kernel TUN) and C (userspace netstack). From
// A's namespace rclone copies a tree with awkward names to
// http://[B]:80/ and back, byte for byte, with no password: A's key is
// its identity, and the files land in B's tree for that key. C has no
// overlay route in its kernel; a [[forward]] 127.0.0.1:18090 -> B:80
// carries a 50 MB curl upload and download through its netstack, and B
// files it under C's key. D, not in the policy, is refused.
func TestWebDAVOverMesh(t *testing.T) {
	l := newLab(t)
	requireTools(t, "rclone", "curl")
	nsA, nsB, nsC, nsD := l.namespace("A"), l.namespace("B"), l.namespace("C"), l.namespace("D")
	ab, cb, db := l.connect(nsA, nsB), l.connect(nsC, nsB), l.connect(nsD, nsB)
	a, b, c := l.prepareNode(nsA), l.prepareNode(nsB), l.prepareNode(nsC)
	l.launch(b, nodeConfig{Config: webdavConfig(t, a.pub, c.pub)})
	l.launch(a, nodeConfig{Peers: []string{tcpPeer(ab.addrB)}})
	l.launch(c, nodeConfig{Device: "netstack", Config: forwardTOML(forwardLocal, fmt.Sprintf("%s:%d", b.pub, webdavPort)),
		Peers: []string{tcpPeer(cb.addrB)}})
	d := l.node(nsD, nodeConfig{Peers: []string{tcpPeer(db.addrB)}})
	a.waitReachable(t, b.addr, 20*time.Second)
	d.waitReachable(t, b.addr, 20*time.Second)
	b.waitReachable(t, c.addr, 20*time.Second)
	b.waitPlugin(t, "webdav")
	trees := filepath.Join(b.dir, "plugins", "webdav", "trees", "keys")

	t.Run("rclone", func(t *testing.T) {
		work := t.TempDir()
		src, back := filepath.Join(work, "src"), filepath.Join(work, "back")
		writeOddTree(t, src)
		conf := filepath.Join(work, "rclone.conf")
		if err := os.WriteFile(conf, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		url := fmt.Sprintf("http://[%s]:%d/", b.addr, webdavPort)
		rclone := func(args ...string) {
			t.Helper()
			full := append([]string{"env", "RCLONE_CONFIG_MESH_TYPE=webdav", "RCLONE_CONFIG_MESH_URL=" + url,
				"RCLONE_CONFIG_MESH_VENDOR=other", "rclone", "--config", conf, "--retries", "1", "--low-level-retries", "1"}, args...)
			if out, err := nsA.try(2*time.Minute, full...); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		}
		start := time.Now()
		rclone("copy", src, "mesh:up/tree")
		up := time.Since(start)
		rclone("copy", "mesh:up/tree", back)
		t.Logf("rclone on A to %s: copy up %v, back %v", url, up.Round(time.Millisecond), (time.Since(start) - up).Round(time.Millisecond))
		want := treeHashes(t, src)
		if diff := cmp.Diff(want, treeHashes(t, back)); diff != "" {
			t.Errorf("tree after the round trip over the mesh differs (-sent +received):\n%s", diff)
		}
		// B filed it under A's key: the key is the identity.
		if diff := cmp.Diff(want, treeHashes(t, filepath.Join(trees, a.pub, "up", "tree"))); diff != "" {
			t.Errorf("tree on B under A's key differs (-sent +stored):\n%s", diff)
		}
	})

	t.Run("forward-50MB", func(t *testing.T) {
		const size = 50 << 20
		work := t.TempDir()
		blob := randomFile(t, work, "big.bin", size)
		sum := sha256.Sum256(blob)
		url := "http://" + forwardLocal + "/big.bin"
		curl := func(args ...string) (code int, speed float64) {
			t.Helper()
			out, err := nsC.try(2*time.Minute, append([]string{"curl", "-sS", "--max-time", "90"}, args...)...)
			f := strings.Fields(out)
			if err != nil || len(f) != 2 {
				t.Fatalf("%v\n%s", err, out)
			}
			code, _ = strconv.Atoi(f[0])
			speed, _ = strconv.ParseFloat(f[1], 64)
			return code, speed
		}
		code, upSpeed := curl("-T", filepath.Join(work, "big.bin"), "-o", "/dev/null", "-w", "%{http_code} %{speed_upload}", url)
		if code != 201 && code != 204 {
			t.Fatalf("PUT through C's forward: HTTP %d", code)
		}
		got := filepath.Join(work, "got.bin")
		code, downSpeed := curl("-o", got, "-w", "%{http_code} %{speed_download}", url)
		if code != 200 {
			t.Fatalf("GET through C's forward: HTTP %d", code)
		}
		if gotSum := fileSHA256(t, got); gotSum != hex.EncodeToString(sum[:]) {
			t.Fatalf("sha256 of the file fetched back %s, want %s", gotSum, hex.EncodeToString(sum[:]))
		}
		t.Logf("50 MiB through C's forward (netstack) to B's webdav: PUT %.0f MB/s, GET %.0f MB/s", upSpeed/1e6, downSpeed/1e6)

		// B's plugin saw C's key: the file is in C's tree, and
		// PROPFIND through the forward lists it at the root.
		if onDisk := fileSHA256(t, filepath.Join(trees, c.pub, "big.bin")); onDisk != hex.EncodeToString(sum[:]) {
			t.Errorf("B stored %s under C's key, want sha256 %s", onDisk, hex.EncodeToString(sum[:]))
		}
		out, err := nsC.try(30*time.Second, "curl", "-sS", "-X", "PROPFIND", "-H", "Depth: 1", "-w", "\n%{http_code}", "http://"+forwardLocal+"/")
		if err != nil || !strings.HasSuffix(strings.TrimSpace(out), "207") || !strings.Contains(out, "big.bin") {
			t.Errorf("PROPFIND / through C's forward: %v\n%s", err, out)
		}
		st := c.gatewayStatus(t)
		if len(st.Forwards) != 1 || st.Forwards[0].Accepted < 3 || st.Forwards[0].Error != "" {
			t.Errorf("C's gateway status of the forward: %+v", st.Forwards)
		} else {
			t.Logf("C's forward %s -> %s: accepted %d, failed %d", st.Forwards[0].Local, st.Forwards[0].Target, st.Forwards[0].Accepted, st.Forwards[0].Failed)
		}
	})

	t.Run("not-in-policy", func(t *testing.T) {
		out, err := nsD.try(30*time.Second, "curl", "-sS", "-g", "--max-time", "10", "-X", "PROPFIND", "-H", "Depth: 1",
			"-w", "\n%{http_code}", fmt.Sprintf("http://[%s]:%d/", b.addr, webdavPort))
		if err == nil || strings.Contains(out, "multistatus") {
			t.Errorf("D (not in B's [policy.webdav]) got an answer: %v\n%s", err, out)
		}
		p, _ := b.gatewayStatus(t).plugin("webdav")
		svc, _ := p.service("webdav")
		t.Logf("D to B's webdav: %q; B's webdav service: accepted %d, refused %d", strings.TrimSpace(out), svc.Accepted, svc.Refused)
		if svc.Refused == 0 {
			t.Errorf("B's gateway status shows no refused webdav connection")
		}
		if _, err := os.Stat(filepath.Join(trees, d.pub)); err == nil {
			t.Errorf("B created a tree for D's key")
		}
	})
	for _, n := range []*node{a, b, c, d} {
		n.alive(t)
	}
}

// writeOddTree writes files with awkward names and sizes under dir.
func writeOddTree(t *testing.T, dir string) {
	t.Helper()
	big := make([]byte, 1<<20+13)
	for i := range big {
		big[i] = byte(i*7 + i>>9)
	}
	files := map[string][]byte{
		"space name.txt":                    []byte("one\n"),
		"ümläut ñ 日本.txt":                   []byte("two\n"),
		"#hash%pct&amp+plus;semi=eq,c.txt":  []byte("three\n"),
		"quote's [brackets] (parens) ~.txt": []byte("four\n"),
		"empty":                             nil,
		"a/b/c/deep dir/deep file.bin":      big,
		"dir with space/.DS_Store":          []byte("finder junk"),
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// treeHashes returns the sha256 of every regular file under root, keyed
// by slash path.
func treeHashes(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = fileSHA256(t, p)
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return out
}

// fileSHA256 is the hex sha256 of a file's contents.
func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
