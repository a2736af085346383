package webdav

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// TestDavfs2 mounts the share with davfs2 (locks on) and writes through
// the mount while the server restarts: davfs2 takes a lock when a file
// is created and uploads later with the lock token in a tagged If
// header, so the lock must survive the restart and the tag must match by
// path. This is the write loss of tailscale/tailscale#12097 (PUT 412).
//
// Directory listings are not checked: davfs2 1.6 on this kernel fails
// getdents with EINVAL against any server, Apache included.
func TestDavfs2(t *testing.T) {
	bin, err := exec.LookPath("mount.davfs")
	if err != nil {
		t.Skip("davfs2 not installed (apt-get install davfs2)")
	}
	if os.Geteuid() != 0 {
		t.Skip("mounting davfs2 needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	if testing.Short() {
		t.Skip("davfs2 mount skipped in -short mode")
	}
	dataDir := t.TempDir()
	work := t.TempDir()
	for _, d := range []string{filepath.Dir(work), work} {
		os.Chmod(d, 0o755)
	}
	cache, mnt := filepath.Join(work, "cache"), filepath.Join(work, "mnt")
	os.Mkdir(cache, 0o777)
	os.Chmod(cache, 0o777)
	os.Mkdir(mnt, 0o755)
	conf := filepath.Join(work, "davfs2.conf")
	os.WriteFile(conf, []byte("ask_auth 0\nuse_locks 1\ndelay_upload 0\ncache_dir "+cache+"\n"), 0o644)

	first := newTestAdapter(t, dataDir, "", nil)
	url, stopFirst := first.serveAt("127.0.0.1:0", ServiceHTTP, sdk.OriginOverlay, keyOf(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, bin, "-o", "conf="+conf, url+"/", mnt).CombinedOutput(); err != nil {
		t.Skipf("davfs2 mount failed (no FUSE here?): %v %s", err, out)
	}
	mounted := true
	umount := func() {
		if mounted {
			mounted = false
			if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
				t.Errorf("umount: %v %s", err, out)
			}
		}
	}
	defer umount()

	home := filepath.Join(dataDir, "trees", "keys", keyOf(1).String())
	os.WriteFile(filepath.Join(mnt, "before.txt"), []byte("written before the restart\n"), 0o644)
	os.Mkdir(filepath.Join(mnt, "dir"), 0o755)
	if err := os.WriteFile(filepath.Join(mnt, "dir", "copy"), []byte(strings.Repeat("davfs2 ", 10000)), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(mnt, "open-across-restart.txt"), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("first half, ")

	// Restart: a new adapter on the same data directory and port.
	addr := strings.TrimPrefix(url, "http://")
	stopFirst()
	first.a.Close()
	second := newTestAdapter(t, dataDir, "", nil)
	second.serveAt(addr, ServiceHTTP, sdk.OriginOverlay, keyOf(1))

	f.WriteString("second half\n")
	if err := f.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(mnt, "before.txt")); err != nil || string(b) != "written before the restart\n" {
		t.Errorf("read back through the mount: %q, %v", b, err)
	}
	os.WriteFile(filepath.Join(mnt, "before.txt"), []byte("overwritten after the restart\n"), 0o644)
	umount() // uploads whatever is still pending

	want := map[string]string{
		"before.txt":              "overwritten after the restart\n",
		"open-across-restart.txt": "first half, second half\n",
		"dir/copy":                strings.Repeat("davfs2 ", 10000),
	}
	for name, content := range want {
		b, err := os.ReadFile(filepath.Join(home, filepath.FromSlash(name)))
		if err != nil || string(b) != content {
			t.Errorf("%s on the server: %.60q, %v; want %.60q", name, b, err, content)
		}
	}
}
