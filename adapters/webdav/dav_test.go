package webdav

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	first := newTestAdapter(t, dir, "", nil)
	c := dc{t, first.serve(ServiceHTTP, sdk.OriginOverlay, keyOf(1)), ""}
	c.want(201, "MKCOL", "/dir", "")
	c.want(201, "PUT", "/dir/f.txt", "x")
	patch := `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>` +
		`<Z:note xml:lang="de">Grüße <Z:b>fett</Z:b></Z:note><Z:coll>c</Z:coll></D:prop></D:set></D:propertyupdate>`
	c.want(207, "PROPPATCH", "/dir/f.txt", patch)
	c.want(207, "PROPPATCH", "/dir", setProp("urn:z", "coll", "on-dir"))
	h, _ := c.want(200, "LOCK", "/dir/f.txt", lockBody("exclusive"), "Timeout", "Second-600")
	token := h.Get("Lock-Token")
	first.a.Close() // the test's Serve goroutines keep running on a closed DB; a fresh adapter takes over

	second := newTestAdapter(t, dir, "", nil)
	c = dc{t, second.serve(ServiceHTTP, sdk.OriginOverlay, keyOf(1)), ""}
	_, body := c.want(207, "PROPFIND", "/dir/f.txt", propfindAll, "Depth", "0")
	for _, want := range []string{`xml:lang="de"`, `Grüße <b xmlns="urn:z">fett</b>`, "<R:coll", token[1 : len(token)-1]} {
		if !strings.Contains(body, want) {
			t.Errorf("after restart PROPFIND lacks %q:\n%s", want, body)
		}
	}
	c.want(423, "PUT", "/dir/f.txt", "y")
	c.want(204, "PUT", "/dir/f.txt", "y", "If", "("+token+")")
	// Properties follow a collection move across the restart too.
	c.want(423, "MOVE", "/dir", "", "Destination", "/moved")
	c.want(201, "MOVE", "/dir", "", "Destination", "/moved", "If", "</dir/f.txt> ("+token+")")
	_, body = c.want(207, "PROPFIND", "/moved/f.txt", getProp("urn:z", "note"), "Depth", "0")
	if !strings.Contains(body, "fett") {
		t.Errorf("property lost in collection move:\n%s", body)
	}
	_, body = c.want(207, "PROPFIND", "/moved", getProp("urn:z", "coll"), "Depth", "0")
	if !strings.Contains(body, "on-dir") {
		t.Errorf("collection property lost in move:\n%s", body)
	}
	c.want(201, "PUT", "/moved/f.txt2", "z") // the lock did not follow the move
}

func TestIfHeader(t *testing.T) {
	ta := newTestAdapter(t, "", "", nil)
	c := dc{t, ta.serve(ServiceHTTP, sdk.OriginOverlay, keyOf(1)), ""}
	c.want(201, "PUT", "/locked", "a")
	c.want(201, "PUT", "/free", "b")
	h, _ := c.want(200, "LOCK", "/locked", lockBody("exclusive"))
	tok := h.Get("Lock-Token")
	etagOf := func(p string) string {
		h, _ := c.want(200, "HEAD", p, "")
		return h.Get("ETag")
	}

	cases := []struct {
		name, path string
		hdr        func() string // evaluated when the case runs: PUTs change ETags
		want       int
	}{
		{"token", "/locked", func() string { return "(" + tok + ")" }, 204},
		{"token and etag", "/locked", func() string { return "(" + tok + " [" + etagOf("/locked") + "])" }, 204},
		{"token and wrong etag", "/locked", func() string { return "(" + tok + ` ["nope"])` }, 412},
		{"not token", "/locked", func() string { return "(Not " + tok + ")" }, 412},
		{"bogus token, true Not list: lock not submitted", "/locked", func() string { return "(<opaquelocktoken:bogus>) (Not <DAV:no-lock>)" }, 423},
		{"no-lock only", "/free", func() string { return "(<DAV:no-lock>)" }, 412},
		{"not no-lock on free resource", "/free", func() string { return "(Not <DAV:no-lock>)" }, 204},
		{"tagged with another host", "/locked", func() string { return "<http://some-proxy:8080/locked> (" + tok + ")" }, 204},
		{"tagged path only", "/locked", func() string { return "</locked> (" + tok + ")" }, 204},
		{"tag names another resource", "/locked", func() string { return "</free> (" + tok + ")" }, 412},
		{"token of another resource submitted by its tag", "/free", func() string { return "</locked> (" + tok + ")" }, 204},
		{"malformed", "/locked", func() string { return "(" + tok }, 400},
		{"etag on free resource", "/free", func() string { return "([" + etagOf("/free") + "])" }, 204},
		{"wrong etag on free resource", "/free", func() string { return `(["x"])` }, 412},
		{"weak etag condition", "/free", func() string { return "([W/" + etagOf("/free") + "])" }, 204},
		{"second list true", "/free", func() string { return `(["x"]) ([` + etagOf("/free") + `])` }, 204},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := tc.hdr()
			code, _, body := c.call("PUT", tc.path, "z", "If", hdr)
			if code != tc.want {
				t.Errorf("PUT %s with If: %s = %d, want %d\n%s", tc.path, hdr, code, tc.want, body)
			}
		})
	}

	// HTTP conditionals (davfs2 sends these with its PUTs and LOCKs).
	et := etagOf("/free")
	c.want(412, "PUT", "/free", "q", "If-Match", `"stale"`)
	c.want(204, "PUT", "/free", "q", "If-Match", et)
	c.want(412, "PUT", "/free", "r", "If-Match", et) // et is stale now
	c.want(412, "PUT", "/free", "r", "If-None-Match", "*")
	c.want(201, "PUT", "/new", "r", "If-None-Match", "*")
	c.want(412, "PUT", "/absent", "r", "If-Match", "*")
	c.want(412, "LOCK", "/free", lockBody("exclusive"), "If-None-Match", "*")
	c.want(201, "LOCK", "/fresh", lockBody("exclusive"), "If-None-Match", "*")
	c.want(304, "GET", "/free", "", "If-None-Match", etagOf("/free"))
	c.want(412, "GET", "/free", "", "If", `(["x"])`)
	c.want(412, "DELETE", "/free", "", "If-Match", `"x"`)
}

func TestLocking(t *testing.T) {
	ta := newTestAdapter(t, "", "", nil)
	c := dc{t, ta.serve(ServiceHTTP, sdk.OriginOverlay, keyOf(1)), ""}
	c.want(201, "MKCOL", "/coll", "")
	c.want(201, "PUT", "/coll/member", "m")

	// Depth infinity on a collection covers members, new ones included.
	h, body := c.want(200, "LOCK", "/coll", lockBody("exclusive"), "Timeout", "Second-100")
	tok := h.Get("Lock-Token")
	for _, want := range []string{"<D:depth>infinity</D:depth>", "<D:timeout>Second-100</D:timeout>", "<D:lockroot><D:href>/coll", "<D:owner>test</D:owner>"} {
		if !strings.Contains(body, want) {
			t.Errorf("LOCK answer lacks %q:\n%s", want, body)
		}
	}
	c.want(423, "PUT", "/coll/member", "x")
	c.want(423, "PUT", "/coll/new", "x")
	c.want(423, "MKCOL", "/coll/sub", "")
	c.want(423, "DELETE", "/coll", "")
	c.want(423, "LOCK", "/coll/member", lockBody("shared"))
	c.want(201, "PUT", "/coll/new", "x", "If", "("+tok+")")
	_, disc := c.want(207, "PROPFIND", "/coll/new", `<D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/></D:prop></D:propfind>`, "Depth", "0")
	if !strings.Contains(disc, tok[1:len(tok)-1]) || !strings.Contains(disc, "<D:lockroot><D:href>/coll") {
		t.Errorf("member's lockdiscovery lacks the collection lock:\n%s", disc)
	}
	// Refresh through a member, with the new timeout in the answer.
	_, body = c.want(200, "LOCK", "/coll/member", "", "If", "("+tok+")", "Timeout", "Second-500")
	if !strings.Contains(body, "Second-500") {
		t.Errorf("refresh answer:\n%s", body)
	}
	c.want(412, "LOCK", "/coll/member", "", "If", "(<opaquelocktoken:nope>)")
	c.want(400, "LOCK", "/coll/member", "")
	c.want(409, "UNLOCK", "/elsewhere", "", "Lock-Token", tok)
	c.want(409, "UNLOCK", "/coll", "", "Lock-Token", "<opaquelocktoken:nope>")
	c.want(400, "UNLOCK", "/coll", "", "Lock-Token", "no-brackets")
	c.want(204, "UNLOCK", "/coll/member", "", "Lock-Token", tok)
	c.want(204, "PUT", "/coll/member", "free again")

	// Depth 0 on a collection protects its membership, not its members.
	h, _ = c.want(200, "LOCK", "/coll", lockBody("exclusive"), "Depth", "0")
	tok0 := h.Get("Lock-Token")
	c.want(204, "PUT", "/coll/member", "allowed")
	c.want(423, "PUT", "/coll/another", "x")
	c.want(423, "DELETE", "/coll/member", "")
	// The token of the collection's lock is submitted with a tag naming
	// the collection; untagged it would be tested against the new member.
	c.want(412, "PUT", "/coll/another", "x", "If", "("+tok0+")")
	c.want(201, "PUT", "/coll/another", "x", "If", "</coll> ("+tok0+")")
	c.want(204, "UNLOCK", "/coll", "", "Lock-Token", tok0)

	// Shared locks coexist; an exclusive one does not join them.
	h1, _ := c.want(200, "LOCK", "/coll/member", lockBody("shared"), "Depth", "0")
	h2, _ := c.want(200, "LOCK", "/coll/member", lockBody("shared"), "Depth", "0")
	c.want(423, "LOCK", "/coll/member", lockBody("exclusive"), "Depth", "0")
	_, disc = c.want(207, "PROPFIND", "/coll/member", `<D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/><D:supportedlock/></D:prop></D:propfind>`, "Depth", "0")
	if strings.Count(disc, "<D:activelock>") != 2 || !strings.Contains(disc, "<D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>") {
		t.Errorf("lockdiscovery with two shared locks:\n%s", disc)
	}
	c.want(423, "PUT", "/coll/member", "x")
	c.want(204, "PUT", "/coll/member", "x", "If", "("+h2.Get("Lock-Token")+")")
	c.want(204, "UNLOCK", "/coll/member", "", "Lock-Token", h1.Get("Lock-Token"))
	c.want(204, "UNLOCK", "/coll/member", "", "Lock-Token", h2.Get("Lock-Token"))

	// LOCK on an unmapped URL creates an empty resource; not without a parent.
	c.want(201, "LOCK", "/coll/unmapped", lockBody("exclusive"))
	if _, body := c.want(200, "GET", "/coll/unmapped", ""); body != "" {
		t.Errorf("unmapped lock left %q", body)
	}
	c.want(409, "LOCK", "/missing/x", lockBody("exclusive"))
	c.want(422, "LOCK", "/coll/x", `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:read/></D:locktype></D:lockinfo>`)
	c.want(400, "LOCK", "/coll/x", `<D:lockinfo`)
	c.want(400, "LOCK", "/coll/x", lockBody("exclusive"), "Depth", "1")

	// Deleting a locked resource with its token drops the lock.
	h, _ = c.want(200, "LOCK", "/coll/member", lockBody("exclusive"))
	c.want(204, "DELETE", "/coll/member", "", "If", "("+h.Get("Lock-Token")+")")
	c.want(201, "PUT", "/coll/member", "recreated")

	// Locks expire.
	c.want(200, "LOCK", "/coll/member", lockBody("exclusive"), "Timeout", "Second-1")
	c.want(423, "PUT", "/coll/member", "x")
	time.Sleep(1100 * time.Millisecond)
	c.want(204, "PUT", "/coll/member", "x")
}

func TestPutAndCollections(t *testing.T) {
	ta := newTestAdapter(t, "", "", nil)
	c := dc{t, ta.serve(ServiceHTTP, sdk.OriginOverlay, keyOf(1)), ""}
	h, _ := c.want(201, "PUT", "/f.txt", "one")
	if h.Get("ETag") == "" || h.Get("Last-Modified") == "" {
		t.Errorf("PUT answer lacks ETag or Last-Modified: %v", h)
	}
	h2, _ := c.want(204, "PUT", "/f.txt", "two")
	if h2.Get("ETag") == h.Get("ETag") {
		t.Error("ETag did not change")
	}
	if h3, _ := c.want(200, "HEAD", "/f.txt", ""); h3.Get("ETag") != h2.Get("ETag") {
		t.Errorf("HEAD ETag %s differs from PUT ETag %s", h3.Get("ETag"), h2.Get("ETag"))
	}
	c.want(201, "PUT", "/._f.txt", "apple double")
	c.want(201, "PUT", "/.DS_Store", "finder")
	c.want(409, "PUT", "/no/parent.txt", "x")
	c.want(409, "PUT", "/f.txt/child", "x")
	c.want(400, "PUT", "/f.txt", "x", "Content-Range", "bytes 0-0/10")
	c.want(201, "MKCOL", "/d", "")
	c.want(405, "PUT", "/d", "x")
	c.want(405, "MKCOL", "/d", "")
	c.want(409, "MKCOL", "/x/y", "")
	c.want(415, "MKCOL", "/e", "body")
	c.want(404, "DELETE", "/nothing", "")
	c.want(403, "DELETE", "/", "")
	c.want(400, "DELETE", "/d", "", "Depth", "0")
	h, _ = c.want(200, "OPTIONS", "/f.txt", "")
	if h.Get("DAV") != "1, 2, 3" || !strings.Contains(h.Get("Allow"), "LOCK") || h.Get("MS-Author-Via") != "DAV" {
		t.Errorf("OPTIONS headers: %v", h)
	}
	_, idx := c.want(200, "GET", "/", "")
	if !strings.Contains(idx, `href="/f.txt"`) || !strings.Contains(idx, `href="/shared/"`) {
		t.Errorf("index page:\n%s", idx)
	}

	// COPY and MOVE status codes.
	c.want(201, "COPY", "/f.txt", "", "Destination", "/g.txt")
	c.want(412, "COPY", "/f.txt", "", "Destination", "/g.txt", "Overwrite", "F")
	c.want(204, "COPY", "/f.txt", "", "Destination", "/g.txt")
	c.want(409, "COPY", "/f.txt", "", "Destination", "/none/g.txt")
	c.want(403, "COPY", "/f.txt", "", "Destination", "/f.txt")
	c.want(403, "MOVE", "/d", "", "Destination", "/d/inside")
	c.want(400, "COPY", "/f.txt", "", "Destination", "")
	c.want(400, "COPY", "/d", "", "Destination", "/d2", "Depth", "1")
	c.want(400, "MOVE", "/d", "", "Destination", "/d2", "Depth", "0")
	c.want(404, "MOVE", "/nothing", "", "Destination", "/x")
	c.want(201, "MOVE", "/g.txt", "", "Destination", "http://elsewhere/d/g.txt")
	c.want(204, "MOVE", "/d/g.txt", "", "Destination", "/f.txt")
}

func TestProperties(t *testing.T) {
	ta := newTestAdapter(t, "", `{"default_quota": "1MB"}`, nil)
	c := dc{t, ta.serve(ServiceHTTP, sdk.OriginOverlay, keyOf(1)), ""}
	c.want(201, "PUT", "/f", strings.Repeat("x", 600_000))

	// A protected property fails the whole PROPPATCH: 403 for it, 424
	// for the rest, nothing stored.
	mixed := `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:getetag>x</D:getetag><Z:a xmlns:Z="urn:z">1</Z:a></D:prop></D:set></D:propertyupdate>`
	_, body := c.want(207, "PROPPATCH", "/f", mixed)
	if !regexp.MustCompile(`(?s)getetag/>.*403 Forbidden.*cannot-modify-protected-property.*<R:a xmlns:R="urn:z"/>.*424 Failed Dependency`).MatchString(body) {
		t.Errorf("PROPPATCH answer:\n%s", body)
	}
	_, body = c.want(207, "PROPFIND", "/f", getProp("urn:z", "a"), "Depth", "0")
	if !strings.Contains(body, "404 Not Found") {
		t.Errorf("property stored although the PROPPATCH failed:\n%s", body)
	}
	// Windows-style properties and getcontenttype are stored.
	win := `<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>` +
		`<Z:Win32LastModifiedTime>Wed, 01 Jan 2025 00:00:00 GMT</Z:Win32LastModifiedTime><D:getcontenttype>text/x-custom</D:getcontenttype>` +
		`</D:prop></D:set></D:propertyupdate>`
	_, body = c.want(207, "PROPPATCH", "/f", win)
	if strings.Contains(body, "403") {
		t.Errorf("PROPPATCH of Windows properties refused:\n%s", body)
	}
	_, body = c.want(207, "PROPFIND", "/f", propfindAll, "Depth", "0")
	if !strings.Contains(body, "text/x-custom") || !strings.Contains(body, "Win32LastModifiedTime") || strings.Contains(body, "quota") {
		t.Errorf("allprop:\n%s", body)
	}
	_, body = c.want(207, "PROPFIND", "/", `<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>`, "Depth", "0")
	if !strings.Contains(body, "<D:quota-used-bytes/>") || !strings.Contains(body, "<D:supportedlock/>") {
		t.Errorf("propname of the root:\n%s", body)
	}
	quota := `<D:propfind xmlns:D="DAV:"><D:allprop/><D:include><D:quota-available-bytes/><D:quota-used-bytes/></D:include></D:propfind>`
	_, body = c.want(207, "PROPFIND", "/", quota, "Depth", "0")
	if !strings.Contains(body, "<D:quota-used-bytes>600000</D:quota-used-bytes>") || !strings.Contains(body, "<D:quota-available-bytes>400000</D:quota-available-bytes>") {
		t.Errorf("quota properties:\n%s", body)
	}
	hidden := newTestAdapter(t, "", `{"report_quota": false}`, nil)
	_, body = dc{t, hidden.serve(ServiceHTTP, sdk.OriginOverlay, keyOf(1)), ""}.want(207, "PROPFIND", "/", quota, "Depth", "0")
	if !regexp.MustCompile(`(?s)<D:quota-available-bytes/><D:quota-used-bytes/></D:prop><D:status>HTTP/1.1 404`).MatchString(body) {
		t.Errorf("quota properties with report_quota = false:\n%s", body)
	}
	c.want(507, "PUT", "/g", strings.Repeat("y", 500_000))
	req, _ := http.NewRequest("PUT", c.base+"/h", strings.NewReader("small"))
	req.ContentLength = -1 // chunked, as Finder sends
	req.Header.Set("X-Expected-Entity-Length", "700000")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 507 {
		t.Errorf("chunked PUT announcing 700 kB with X-Expected-Entity-Length = %d, want 507", resp.StatusCode)
	}
	c.want(204, "PUT", "/f", strings.Repeat("x", 900_000)) // replacing frees the old size
	c.want(507, "COPY", "/f", "", "Destination", "/f2")
	c.want(404, "GET", "/f2", "")

	// Bad bodies and depths.
	c.want(400, "PROPFIND", "/", "<foo>", "Depth", "0")
	c.want(400, "PROPFIND", "/", `<D:propfind xmlns:D="DAV:"><D:prop><bar:foo xmlns:bar=""/></D:prop></D:propfind>`, "Depth", "1")
	c.want(400, "PROPPATCH", "/f", "<D:propertyupdate")
	c.want(403, "PROPFIND", "/", "", "Depth", "infinity")
	c.want(400, "PROPFIND", "/", "", "Depth", "2")
	c.want(404, "PROPFIND", "/nothing", "", "Depth", "0")
	c.want(413, "PROPPATCH", "/f", setProp("urn:z", "big", strings.Repeat("v", 2<<20)))
}
