package store

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/net/webdav"
)

// TestXNetHandlerOnVolume runs the stock golang.org/x/net/webdav handler
// on a Volume: the FileSystem, File and DeadPropsHolder implementations
// must satisfy its contract.
func TestXNetHandlerOnVolume(t *testing.T) {
	v, _ := newVolume(t, "users/alice")
	h := &webdav.Handler{FileSystem: v.FileSystem(), LockSystem: webdav.NewMemLS()}
	srv := httptest.NewServer(h)
	defer srv.Close()

	do := func(method, path, body string, hdr map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		for k, val := range hdr {
			req.Header.Set(k, val)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	steps := []struct {
		method, path, body string
		hdr                map[string]string
		want               int
		contains           string
	}{
		{"MKCOL", "/dir", "", nil, 201, ""},
		{"PUT", "/dir/a.txt", "hello", nil, 201, ""},
		{"PUT", "/missing/a.txt", "hello", nil, 409, ""},
		{"GET", "/dir/a.txt", "", nil, 200, "hello"},
		{"PROPPATCH", "/dir/a.txt", `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><Z:x xmlns:Z="urn:z">v</Z:x></D:prop></D:set></D:propertyupdate>`, nil, 207, "200 OK"},
		{"COPY", "/dir", "", map[string]string{"Destination": "/copy"}, 201, ""},
		{"PROPFIND", "/copy/a.txt", `<D:propfind xmlns:D="DAV:"><D:prop><Z:x xmlns:Z="urn:z"/><D:getetag/></D:prop></D:propfind>`, map[string]string{"Depth": "0"}, 207, ">v<"},
		{"MOVE", "/copy", "", map[string]string{"Destination": "/moved"}, 201, ""},
		{"PROPFIND", "/moved", "", map[string]string{"Depth": "1"}, 207, "a.txt"},
		{"DELETE", "/moved", "", nil, 204, ""},
		{"GET", "/moved/a.txt", "", nil, 404, ""},
	}
	for _, s := range steps {
		code, body := do(s.method, s.path, s.body, s.hdr)
		if code != s.want || !strings.Contains(body, s.contains) {
			t.Fatalf("%s %s = %d %q, want %d containing %q", s.method, s.path, code, body, s.want, s.contains)
		}
	}
}
