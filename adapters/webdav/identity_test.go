package webdav

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// dc is a tiny WebDAV client bound to one base URL and credentials.
type dc struct {
	t    *testing.T
	base string
	auth string // "user:pass" or ""
}

// call sends a request; hdr holds alternating header names and values.
func (c dc) call(method, path, body string, hdr ...string) (int, http.Header, string) {
	c.t.Helper()
	h := map[string]string{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h[hdr[i]] = hdr[i+1]
	}
	if c.auth != "" {
		h["auth"] = c.auth
	}
	var r *strings.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	var resp *http.Response
	var text string
	if r == nil {
		resp, text = do(c.t, method, c.base+path, nil, h)
	} else {
		resp, text = do(c.t, method, c.base+path, r, h)
	}
	return resp.StatusCode, resp.Header, text
}

// want fails the test unless the request answers code.
func (c dc) want(code int, method, path, body string, hdr ...string) (http.Header, string) {
	c.t.Helper()
	got, h, text := c.call(method, path, body, hdr...)
	if got != code {
		c.t.Fatalf("%s %s = %d, want %d\n%s", method, path, got, code, text)
	}
	return h, text
}

const propfindAll = `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`

func TestAuthentication(t *testing.T) {
	ta := newTestAdapter(t, "", `{"realm": "files"}`, nil)
	ta.addUser("alice", "alice-password")
	loop := ta.serve(ServiceHTTP, sdk.OriginLoopback, sdk.PublicKey{})
	overlay := ta.serve(ServiceHTTP, sdk.OriginOverlay, keyOf(1))
	zeroKey := ta.serve(ServiceHTTP, sdk.OriginOverlay, sdk.PublicKey{})

	cases := []struct {
		name, base, auth string
		want             int
	}{
		{"loopback without credentials", loop, "", 401},
		{"loopback wrong password", loop, "alice:wrong-password", 401},
		{"loopback unknown user", loop, "mallory:alice-password", 401},
		{"loopback bad user name", loop, "Alice Smith:alice-password", 401},
		{"loopback right password", loop, "alice:alice-password", 207},
		{"loopback windows domain form", loop, `HOST\alice:alice-password`, 207},
		{"overlay key needs no password", overlay, "", 207},
		{"overlay ignores basic auth", overlay, "nobody:nothing", 207},
		{"overlay without key", zeroKey, "", 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dc{t, tc.base, tc.auth}
			code, h, _ := c.call("PROPFIND", "/", "", "Depth", "0")
			if code != tc.want {
				t.Fatalf("PROPFIND = %d, want %d", code, tc.want)
			}
			if code == 401 && h.Get("WWW-Authenticate") != `Basic realm="files", charset="UTF-8"` {
				t.Errorf("WWW-Authenticate = %q", h.Get("WWW-Authenticate"))
			}
		})
	}

	// A connection that did not come through the gateway has no identity.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ta.a.Serve(ctx, ServiceHTTP, ln) }()
	defer func() { cancel(); <-done }()
	if code, _, _ := (dc{t, "http://" + ln.Addr().String(), "alice:alice-password"}).call("GET", "/", ""); code != 403 {
		t.Errorf("request without identity = %d, want 403", code)
	}
}

func TestIdentityIsolation(t *testing.T) {
	linked := keyOf(3)
	ta := newTestAdapter(t, "", `{"links": {"`+linked.String()+`": "alice"}}`, nil)
	ta.addUser("alice", "alice-password")
	a := dc{t, ta.serve(ServiceHTTP, sdk.OriginOverlay, keyOf(1)), ""}
	b := dc{t, ta.serve(ServiceHTTP, sdk.OriginOverlay, keyOf(2)), ""}
	laptop := dc{t, ta.serve(ServiceHTTP, sdk.OriginLoopback, sdk.PublicKey{}), "alice:alice-password"}
	node := dc{t, ta.serve(ServiceHTTP, sdk.OriginOverlay, linked), ""}

	a.want(201, "PUT", "/a-secret.txt", "from a")
	b.want(404, "GET", "/a-secret.txt", "")
	_, listing := b.want(207, "PROPFIND", "/", "", "Depth", "1")
	if strings.Contains(listing, "a-secret") {
		t.Errorf("b's listing shows a's file:\n%s", listing)
	}
	laptop.want(404, "GET", "/a-secret.txt", "")

	// The linked node and the account share one tree.
	node.want(201, "PUT", "/from-node.txt", "node")
	if _, body := laptop.want(200, "GET", "/from-node.txt", ""); body != "node" {
		t.Errorf("laptop reads %q", body)
	}
	onDisk := filepath.Join(ta.dataDir, "trees", "keys", keyOf(1).String(), "a-secret.txt")
	if b, err := os.ReadFile(onDisk); err != nil || string(b) != "from a" {
		t.Errorf("a's file on disk: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(ta.dataDir, "trees", "users", "alice", "from-node.txt")); err != nil {
		t.Errorf("linked key did not write into the account's tree: %v", err)
	}
}

// rawRequest sends a request line exactly as given, bypassing any
// client-side path cleaning.
func rawRequest(t *testing.T, base, method, target string, hdr ...string) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n", method, target)
	for i := 0; i+1 < len(hdr); i += 2 {
		fmt.Fprintf(conn, "%s: %s\r\n", hdr[i], hdr[i+1])
	}
	fmt.Fprint(conn, "\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestConfinementOverHTTP(t *testing.T) {
	ta := newTestAdapter(t, "", "", nil)
	a := dc{t, ta.serve(ServiceHTTP, sdk.OriginOverlay, keyOf(1)), ""}
	b := dc{t, ta.serve(ServiceHTTP, sdk.OriginOverlay, keyOf(2)), ""}
	b.want(201, "PUT", "/secret.txt", "b's secret")
	a.want(201, "PUT", "/mine.txt", "a's file")
	aDir := filepath.Join(ta.dataDir, "trees", "keys", keyOf(1).String())
	bHex := keyOf(2).String()
	os.Symlink("../"+bHex+"/secret.txt", filepath.Join(aDir, "rel-link"))
	os.Symlink(filepath.Join(ta.dataDir, "trees", "keys", bHex), filepath.Join(aDir, "abs-link"))
	os.Symlink("/etc", filepath.Join(aDir, "etc-link"))

	escapes := []string{
		"/../" + bHex + "/secret.txt",
		"/%2e%2e/" + bHex + "/secret.txt",
		"/%2E%2E%2F" + bHex + "%2Fsecret.txt",
		"/..%2f..%2fkeys%2f" + bHex + "%2fsecret.txt",
		"/a/../../../../" + bHex + "/secret.txt",
		"/rel-link",
		"/abs-link/secret.txt",
		"/etc-link/passwd",
		"//" + bHex + "/secret.txt",
	}
	for _, p := range escapes {
		if code := rawRequest(t, a.base, "GET", p); code == 200 {
			t.Errorf("GET %s = 200: escaped the tree", p)
		}
	}
	// A PUT may at most replace the link itself inside a's tree.
	for _, p := range escapes {
		rawRequest(t, a.base, "PUT", p)
	}
	bEntries, _ := os.ReadDir(filepath.Join(ta.dataDir, "trees", "keys", bHex))
	if len(bEntries) != 1 {
		t.Errorf("b's tree holds %d entries after a's PUTs, want 1", len(bEntries))
	}
	// ".." resolves inside the namespace: it reaches a's own file.
	if code := rawRequest(t, a.base, "GET", "/x/../mine.txt"); code != 200 {
		t.Errorf("GET /x/../mine.txt = %d, want 200", code)
	}
	// Destinations are confined the same way.
	for _, dst := range []string{"/../" + bHex + "/stolen.txt", "http://other-host/%2e%2e/" + bHex + "/stolen.txt"} {
		rawRequest(t, a.base, "COPY", "/mine.txt", "Destination", dst)
	}
	if _, err := os.Stat(filepath.Join(ta.dataDir, "trees", "keys", bHex, "stolen.txt")); err == nil {
		t.Error("COPY wrote into b's tree")
	}
	if got, _ := os.ReadFile(filepath.Join(ta.dataDir, "trees", "keys", bHex, "secret.txt")); string(got) != "b's secret" {
		t.Errorf("b's file changed: %q", got)
	}
	if code := rawRequest(t, a.base, "GET", "/%00"); code != 400 && code != 404 {
		t.Errorf("GET /%%00 = %d", code)
	}
}
