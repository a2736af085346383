package webdav

import (
	"strings"
	"testing"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

func TestSharedFolders(t *testing.T) {
	keyA, keyB, keyC := keyOf(1), keyOf(2), keyOf(3)
	settings := `{"shared": [
		{"name": "team", "members": ["alice", "` + keyA.String() + `"], "readers": ["` + keyB.String() + `"]},
		{"name": "other", "members": ["` + keyC.String() + `"]}
	]}`
	ta := newTestAdapter(t, "", settings, nil)
	ta.addUser("alice", "alice-password")
	alice := dc{t, ta.serve(ServiceHTTP, sdk.OriginLoopback, sdk.PublicKey{}), "alice:alice-password"}
	a := dc{t, ta.serve(ServiceHTTP, sdk.OriginOverlay, keyA), ""}
	b := dc{t, ta.serve(ServiceHTTP, sdk.OriginOverlay, keyB), ""}
	c := dc{t, ta.serve(ServiceHTTP, sdk.OriginOverlay, keyC), ""}

	alice.want(201, "PUT", "/shared/team/doc.txt", "v1")
	if _, body := a.want(200, "GET", "/shared/team/doc.txt", ""); body != "v1" {
		t.Errorf("member a reads %q", body)
	}
	a.want(204, "PUT", "/shared/team/doc.txt", "v2")
	if _, body := b.want(200, "GET", "/shared/team/doc.txt", ""); body != "v2" {
		t.Errorf("reader b reads %q", body)
	}
	for _, m := range []string{"PUT", "DELETE", "PROPPATCH", "LOCK", "MKCOL"} {
		path := "/shared/team/doc.txt"
		if m == "MKCOL" {
			path = "/shared/team/newdir"
		}
		if code, _, _ := b.call(m, path, ""); code != 403 {
			t.Errorf("reader %s %s = %d, want 403", m, path, code)
		}
	}
	b.want(201, "COPY", "/shared/team/doc.txt", "", "Destination", "/copied.txt")
	b.want(403, "MOVE", "/shared/team/doc.txt", "", "Destination", "/moved.txt")
	c.want(404, "GET", "/shared/team/doc.txt", "")
	c.want(403, "PUT", "/shared/team", "x")

	// Listings: the shared-folders collection shows the member's folders.
	_, root := alice.want(207, "PROPFIND", "/", "", "Depth", "1")
	if !strings.Contains(root, "<D:href>/shared/</D:href>") {
		t.Errorf("root listing lacks /shared/:\n%s", root)
	}
	_, list := alice.want(207, "PROPFIND", "/shared/", "", "Depth", "1")
	if !strings.Contains(list, "<D:href>/shared/team/</D:href>") || strings.Contains(list, "other") {
		t.Errorf("alice's shared listing:\n%s", list)
	}
	_, list = c.want(207, "PROPFIND", "/shared", "", "Depth", "1")
	if strings.Contains(list, "team") {
		t.Errorf("non-member sees team:\n%s", list)
	}
	_, list = alice.want(207, "PROPFIND", "/shared/team/", propfindAll, "Depth", "1")
	if !strings.Contains(list, "/shared/team/doc.txt") {
		t.Errorf("team listing lacks doc.txt:\n%s", list)
	}

	// The virtual collection and the folder roots cannot be changed.
	alice.want(405, "MKCOL", "/shared", "")
	alice.want(403, "MKCOL", "/shared/newshare", "")
	alice.want(403, "PUT", "/shared/file.txt", "x")
	alice.want(403, "DELETE", "/shared/team", "")
	alice.want(403, "DELETE", "/shared", "")
	alice.want(403, "MOVE", "/shared/team", "", "Destination", "/stolen")
	alice.want(403, "LOCK", "/shared", lockBody("exclusive"))

	// Moves between a home tree and a shared folder carry properties.
	alice.want(201, "PUT", "/note.txt", "note")
	alice.want(207, "PROPPATCH", "/note.txt", setProp("urn:x", "tag", "blue"))
	alice.want(201, "MOVE", "/note.txt", "", "Destination", "/shared/team/note.txt")
	alice.want(404, "GET", "/note.txt", "")
	_, props := a.want(207, "PROPFIND", "/shared/team/note.txt", getProp("urn:x", "tag"), "Depth", "0")
	if !strings.Contains(props, ">blue<") {
		t.Errorf("property did not follow the move into the share:\n%s", props)
	}

	// A whole shared folder can be copied out, with its properties.
	alice.want(207, "PROPPATCH", "/shared/team", setProp("urn:x", "folder", "yes"))
	alice.want(207, "PROPPATCH", "/shared/team/doc.txt", setProp("urn:x", "doc", "yes"))
	alice.want(201, "COPY", "/shared/team", "", "Destination", "/team-backup")
	for p, name := range map[string]string{"/team-backup": "folder", "/team-backup/doc.txt": "doc"} {
		if _, body := alice.want(207, "PROPFIND", p, getProp("urn:x", name), "Depth", "0"); !strings.Contains(body, ">yes<") {
			t.Errorf("COPY of the share root lost %s's property:\n%s", p, body)
		}
	}

	// Locks in a shared folder bind the other members, and a member
	// cannot use another member's token.
	h, _ := alice.want(200, "LOCK", "/shared/team/doc.txt", lockBody("exclusive"))
	token := h.Get("Lock-Token")
	a.want(423, "PUT", "/shared/team/doc.txt", "v3")
	a.want(423, "PUT", "/shared/team/doc.txt", "v3", "If", "("+token+")")
	alice.want(204, "PUT", "/shared/team/doc.txt", "v3", "If", "("+token+")")
	a.want(403, "UNLOCK", "/shared/team/doc.txt", "", "Lock-Token", token)
	alice.want(204, "UNLOCK", "/shared/team/doc.txt", "", "Lock-Token", token)
	a.want(204, "PUT", "/shared/team/doc.txt", "v4")
}

func lockBody(scope string) string {
	return `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:` + scope +
		`/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>test</D:owner></D:lockinfo>`
}

func setProp(ns, name, value string) string {
	return `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><Z:` + name + ` xmlns:Z="` + ns + `">` +
		value + `</Z:` + name + `></D:prop></D:set></D:propertyupdate>`
}

func getProp(ns, name string) string {
	return `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><Z:` + name + ` xmlns:Z="` + ns + `"/></D:prop></D:propfind>`
}
