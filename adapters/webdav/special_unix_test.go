//go:build unix

package webdav

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

func TestSpecialFilesDoNotHang(t *testing.T) {
	ta := newTestAdapter(t, "", "", nil)
	c := dc{t, ta.serve(ServiceHTTP, sdk.OriginOverlay, keyOf(1)), ""}
	c.want(201, "PUT", "/regular", "r")
	home := filepath.Join(ta.dataDir, "trees", "keys", keyOf(1).String())
	if err := syscall.Mkfifo(filepath.Join(home, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mknod(filepath.Join(home, "null"), syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		t.Logf("mknod (needs root): %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, body := c.want(207, "PROPFIND", "/", propfindAll, "Depth", "1")
		if strings.Contains(body, "fifo") || strings.Contains(body, "null") || !strings.Contains(body, "regular") {
			t.Errorf("listing:\n%s", body)
		}
		c.want(404, "GET", "/fifo", "")
		c.want(404, "GET", "/null", "")
		c.want(200, "GET", "/", "")
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a FIFO in the tree hangs the server")
	}
	if _, err := os.Stat(filepath.Join(home, "fifo")); err != nil {
		t.Errorf("fifo gone: %v", err)
	}
}
