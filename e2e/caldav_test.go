package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// davPort is the dav service's (CalDAV/CardDAV over HTTP) overlay port.
const davPort = 5232

// TestCalDAVOverMesh: node B (userspace netstack) serves the dav plugin;
// its [policy.dav] allows A (kernel TUN). From A's namespace
// python3-caldav, with no credentials, finds its principal (A's key),
// creates a calendar and an event at http://[B]:5232/ and reads them
// back; `mycelium dav list` on B, reading the running plugin's data,
// shows A's principal holding the event.
func TestCalDAVOverMesh(t *testing.T) {
	l := newLab(t)
	py := pythonBin(t)
	requirePythonModule(t, "caldav", "python3-caldav")
	nsA, nsB := l.namespace("A"), l.namespace("B")
	ab := l.connect(nsA, nsB)
	a, b := l.prepareNode(nsA), l.prepareNode(nsB)
	l.launch(a, nodeConfig{})
	l.launch(b, nodeConfig{Device: "netstack", Config: pluginTOML(t, "dav", "") + policyTOML("dav", a.pub),
		Peers: []string{tcpPeer(ab.addrA)}})
	a.waitReachable(t, b.addr, 20*time.Second)
	b.waitPlugin(t, "dav")

	url := fmt.Sprintf("http://[%s]:%d/", b.addr, davPort)
	start := time.Now()
	out, err := nsA.try(2*time.Minute, "env", "DAV_URL="+url, "DAV_KEY="+a.pub, py, testdata(t, "caldav_client.py"))
	t.Logf("python3-caldav on A against %s (%v):\n%s", url, time.Since(start).Round(time.Millisecond), out)
	if err != nil || !strings.Contains(out, "ALL OK") {
		t.Fatalf("python3-caldav over the mesh: %v", err)
	}

	list := b.mustCLI(t, "", "dav", "list")
	row := regexp.MustCompile(`(?m)^` + a.pub + `\s+\d+\s+(\d+)\s*$`).FindStringSubmatch(list)
	if row == nil || row[1] != "1" {
		t.Errorf("mycelium dav list on B shows no principal %s with 1 object:\n%s", a.pub, list)
	}
	a.alive(t)
	b.alive(t)
}
