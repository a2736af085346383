package webdav

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// treeHashes returns the sha256 of every regular file under root, keyed
// by slash path.
func treeHashes(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// oddTree writes files with awkward names and sizes under dir.
func oddTree(t *testing.T, dir string) {
	t.Helper()
	files := map[string][]byte{
		"space name.txt":                   []byte("one\n"),
		"ümläut ñ 日本.txt":                  []byte("two\n"),
		"#hash%pct&amp+plus;semi=eq,c.txt": []byte("three\n"),
		"empty":                            nil,
		"a/b/c/d/e/f/g/h/i/j/deep file.bin": func() []byte {
			b := make([]byte, 3<<20+17)
			for i := range b {
				b[i] = byte(i*7 + i>>9)
			}
			return b
		}(),
		"dir with space/._resource fork": []byte("apple double"),
		"dir with space/.DS_Store":       []byte("finder junk"),
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

// TestRclone copies a tree with odd names up and back with rclone's
// WebDAV backend (vendor "other") and compares every file's sha256.
func TestRclone(t *testing.T) {
	bin, err := exec.LookPath("rclone")
	if err != nil {
		t.Skip("rclone not installed (apt-get install rclone)")
	}
	ta := newTestAdapter(t, "", "", nil)
	ta.addUser("alice", "alice-password")
	url := ta.serve(ServiceHTTP, sdk.OriginLoopback, sdk.PublicKey{})

	work := t.TempDir()
	src, back := filepath.Join(work, "src"), filepath.Join(work, "back")
	oddTree(t, src)
	obscured, err := exec.Command(bin, "obscure", "alice-password").Output()
	if err != nil {
		t.Fatalf("rclone obscure: %v", err)
	}
	conf := filepath.Join(work, "rclone.conf")
	os.WriteFile(conf, nil, 0o600)
	env := append(os.Environ(),
		"RCLONE_CONFIG_DAV_TYPE=webdav",
		"RCLONE_CONFIG_DAV_URL="+url+"/",
		"RCLONE_CONFIG_DAV_VENDOR=other",
		"RCLONE_CONFIG_DAV_USER=alice",
		"RCLONE_CONFIG_DAV_PASS="+strings.TrimSpace(string(obscured)),
	)
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--config", conf, "--retries", "1", "--low-level-retries", "1"}, args...)...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("rclone %v: %v\n%s", args, err, out)
		}
	}
	run("copy", src, "dav:up/tree")
	run("copy", "dav:up/tree", back)
	want, got := treeHashes(t, src), treeHashes(t, back)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tree after the round trip differs (-sent +received):\n%s", diff)
	}
	// The files sit in alice's tree on disk, byte for byte.
	onDisk := treeHashes(t, filepath.Join(ta.dataDir, "trees", "users", "alice", "up", "tree"))
	if diff := cmp.Diff(want, onDisk); diff != "" {
		t.Errorf("tree on the server differs (-sent +stored):\n%s", diff)
	}
}

// TestCadaver drives a scripted cadaver session with credentials from
// ~/.netrc in a temporary HOME.
func TestCadaver(t *testing.T) {
	bin, err := exec.LookPath("cadaver")
	if err != nil {
		t.Skip("cadaver not installed (apt-get install cadaver)")
	}
	ta := newTestAdapter(t, "", "", nil)
	ta.addUser("alice", "alice-password")
	url := ta.serve(ServiceHTTP, sdk.OriginLoopback, sdk.PublicKey{})

	work := t.TempDir()
	home := filepath.Join(work, "home")
	os.MkdirAll(home, 0o700)
	os.WriteFile(filepath.Join(home, ".netrc"), []byte("machine 127.0.0.1 login alice password alice-password\n"), 0o600)
	os.WriteFile(filepath.Join(work, "local.txt"), []byte("hello cadaver\n"), 0o644)
	script := strings.Join([]string{
		"mkcol newdir",
		"put local.txt newdir/file.txt",
		"get newdir/file.txt got.txt",
		"propset newdir/file.txt color blue",
		"propget newdir/file.txt color",
		"lock newdir/file.txt",
		"discover newdir/file.txt",
		"put local.txt newdir/file.txt",
		"unlock newdir/file.txt",
		"discover newdir/file.txt",
		"move newdir/file.txt newdir/moved.txt",
		"propget newdir/moved.txt color",
		"ls newdir",
		"delete newdir/moved.txt",
		"rmcol newdir",
		"ls",
		"quit",
	}, "\n") + "\n"
	cmd := exec.Command(bin, url+"/")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Stdin = strings.NewReader(script)
	outb, err := cmd.CombinedOutput()
	out := string(outb)
	if err != nil {
		t.Fatalf("cadaver: %v\n%s", err, out)
	}
	wants := []string{
		"Creating `newdir': succeeded.",
		"Uploading local.txt to `/newdir/file.txt':",
		"Downloading `/newdir/file.txt' to got.txt:",
		"Setting property on `newdir/file.txt': succeeded.",
		"Value of color is: blue",
		"Locking `newdir/file.txt': succeeded.",
		"Lock token <opaquelocktoken:",
		"Scope: exclusive  Type: write  Timeout: 3600 seconds",
		"Unlocking `newdir/file.txt': succeeded.",
		"Moving `/newdir/file.txt' to `/newdir/moved.txt':  succeeded.",
		"moved.txt",
		"Deleting `newdir/moved.txt': succeeded.",
		"Deleting collection `newdir': succeeded.",
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("cadaver output lacks %q", w)
		}
	}
	if n := strings.Count(out, "Value of color is: blue"); n != 2 {
		t.Errorf("property seen %d times, want 2 (before and after the move)", n)
	}
	if strings.Count(out, "succeeded.") != 12 || strings.Contains(out, "failed") {
		t.Errorf("cadaver reported failures:\n%s", out)
	}
	if got, _ := os.ReadFile(filepath.Join(work, "got.txt")); string(got) != "hello cadaver\n" {
		t.Errorf("downloaded %q", got)
	}
	if t.Failed() {
		t.Log(out)
	}
}
