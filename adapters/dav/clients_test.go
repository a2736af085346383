package dav

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// TestPythonCalDAV runs testdata/caldav_client.py (python3-caldav 0.11)
// against the plugin on a loopback listener with HTTP Basic accounts.
func TestPythonCalDAV(t *testing.T) {
	py := pythonWithCalDAV(t)
	p := newPlugin(t, `{}`, nil)
	p.addUser("alice", "correct horse battery")
	url := p.serve(ServiceHTTP, sdk.OriginLoopback, sdk.PublicKey{})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/caldav_client.py")
	cmd.Env = append(cmd.Environ(), "DAV_URL="+url+"/", "DAV_USER=alice", "DAV_PASS=correct horse battery")
	out, err := cmd.CombinedOutput()
	t.Logf("caldav_client.py:\n%s", out)
	if err != nil || !strings.Contains(string(out), "ALL OK") {
		t.Fatalf("python3-caldav run failed: %v", err)
	}
}
