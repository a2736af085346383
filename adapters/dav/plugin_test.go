package dav

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

func TestParseSettings(t *testing.T) {
	key := strings.Repeat("ab", 32)
	tests := []struct {
		name, json string
		wantErr    string
	}{
		{"empty", ``, ""},
		{"null", `null`, ""},
		{"all keys", `{"links":{"` + key + `":"alice"},"default_calendar":"cal","default_calendar_name":"Cal","default_calendar_color":"#112233",` +
			`"default_addressbook":"book","default_addressbook_name":"Book","max_resource_size":65536,"tombstone_days":30,"realm":"R"}`, ""},
		{"unknown key", `{"colour":"#fff"}`, "unknown field"},
		{"default is hidden by iOS", `{"default_calendar":"Default"}`, "iOS hides"},
		{"bad link key", `{"links":{"abc":"alice"}}`, "64 hex digits"},
		{"bad link name", `{"links":{"` + key + `":"a/b"}}`, "not a valid account name"},
		{"bad color", `{"default_calendar_color":"red"}`, "#RRGGBB"},
		{"tiny max size", `{"max_resource_size":10}`, "max_resource_size"},
		{"slash in name", `{"default_addressbook":"a/b"}`, "not a valid collection name"},
		{"trailing data", `{} {}`, "trailing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSettings([]byte(tt.json))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("ParseSettings(%s) = %v, want error containing %q", tt.json, err, tt.wantErr)
			}
		})
	}
	s, _ := ParseSettings(nil)
	if s.DefaultCalendar != "personal" || s.color() != "#3A87ADFF" || s.MaxResourceSize != 10<<20 {
		t.Errorf("defaults = %+v", s)
	}
	s, _ = ParseSettings([]byte(`{"default_calendar_color":""}`))
	if s.color() != "" {
		t.Errorf("empty color kept as %q", s.color())
	}
}

func TestDescribe(t *testing.T) {
	a, _ := New(testLogger(t))
	d, err := a.Describe(t.Context())
	if err != nil || d.Name != "dav" || len(d.Services) != 2 {
		t.Fatalf("Describe = %+v, %v", d, err)
	}
	for _, s := range d.Services {
		if s.Protocol != "http" || s.Port == 0 || s.LoopbackPort == 0 {
			t.Errorf("service %+v", s)
		}
	}
	if d.Services[1].TLS != sdk.TLSImplicit {
		t.Errorf("davs TLS = %s", d.Services[1].TLS)
	}
}

func TestCommands(t *testing.T) {
	p := newPlugin(t, `{"links":{"`+strings.Repeat("cd", 32)+`":"dave"}}`, nil)
	if _, err := p.command(""); !errors.Is(err, ErrUsage) {
		t.Errorf("no command: %v", err)
	}
	if out, err := p.command("short\n", "adduser", "dave"); err == nil {
		t.Errorf("short password accepted: %s", out)
	}
	if _, err := p.command("a good password\n", "adduser", "not valid!"); err == nil {
		t.Error("invalid name accepted")
	}
	p.addUser("dave", "a good password")
	if out, err := p.command("another password\n", "adduser", "dave"); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("duplicate adduser: %v %s", err, out)
	}
	base := p.serve(ServiceHTTP, sdk.OriginLoopback, sdk.PublicKey{})
	srv := davHTTP{t: t, base: base, user: "dave", pass: "a good password"}
	srv.want(http.StatusMultiStatus, "PROPFIND", "/", "", map[string]string{"Depth": "0"})
	if out, err := p.command("a newer password\n", "passwd", "dave"); err != nil {
		t.Fatalf("passwd: %v %s", err, out)
	}
	srv.want(http.StatusUnauthorized, "PROPFIND", "/", "", map[string]string{"Depth": "0"})
	srv.pass = "a newer password"
	srv.want(http.StatusMultiStatus, "PROPFIND", "/", "", map[string]string{"Depth": "0"})
	out, err := p.command("", "list")
	if err != nil || !strings.Contains(out, "dave") || !strings.Contains(out, strings.Repeat("cd", 32)) {
		t.Errorf("list: %v\n%s", err, out)
	}
	if _, err := p.command("x\n", "passwd", "nobody"); err == nil {
		t.Error("passwd for a missing account succeeded")
	}
	if out, err := p.command("", "deluser", "--purge", "dave"); err != nil {
		t.Fatalf("deluser: %v %s", err, out)
	}
	srv.want(http.StatusUnauthorized, "PROPFIND", "/", "", map[string]string{"Depth": "0"})
	if out, _ := p.command("", "list"); strings.Contains(out, "\ndave ") {
		t.Errorf("dave still listed:\n%s", out)
	}
}

// TestLinkedKey: an overlay key linked to an account sees the account's
// data, also what was stored over loopback.
func TestLinkedKey(t *testing.T) {
	key := overlayKey(0x42)
	p := newPlugin(t, `{"links":{"`+key.String()+`":"erin"}}`, nil)
	p.addUser("erin", "erin's password")
	loop := davHTTP{t: t, base: p.serve(ServiceHTTP, sdk.OriginLoopback, sdk.PublicKey{}), user: "erin", pass: "erin's password"}
	loop.want(http.StatusCreated, http.MethodPut, "/addressbooks/erin/contacts/x.vcf", cardText("x", "X"), map[string]string{"Content-Type": "text/vcard"})
	overlay := davHTTP{t: t, base: p.serve(ServiceHTTP, sdk.OriginOverlay, key)}
	if got := overlay.want(http.StatusOK, http.MethodGet, "/addressbooks/erin/contacts/x.vcf", "", nil); !strings.Contains(got, "FN:X") {
		t.Errorf("linked key GET: %q", got)
	}
	other := davHTTP{t: t, base: p.serve(ServiceHTTP, sdk.OriginOverlay, overlayKey(0x43))}
	other.want(http.StatusForbidden, http.MethodGet, "/addressbooks/erin/contacts/x.vcf", "", nil)
}

func TestServeErrors(t *testing.T) {
	a, _ := New(testLogger(t))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	if err := a.Serve(t.Context(), ServiceHTTP, ln); err == nil {
		t.Error("Serve before Configure succeeded")
	}
	p := newPlugin(t, `{}`, nil)
	if err := p.a.Serve(t.Context(), ServiceHTTPS, ln); err == nil || !strings.Contains(err.Error(), "CA") {
		t.Errorf("davs without TLS material: %v", err)
	}
	if err := p.a.Serve(t.Context(), "gopher", ln); err == nil {
		t.Error("unknown service accepted")
	}
	if err := p.a.Configure(t.Context(), p.cfg, fakeHost{}); err == nil {
		t.Error("second Configure accepted")
	}
	// Serve returns nil promptly when its context ends.
	ctx, cancel := context.WithCancel(t.Context())
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	done := make(chan error, 1)
	go func() { done <- p.a.Serve(ctx, ServiceHTTP, ln2) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after cancel = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

// TestRestartKeepsData stops the plugin and starts a new one on the same
// data directory: objects, ETags and sync tokens survive.
func TestRestartKeepsData(t *testing.T) {
	key := overlayKey(0x55)
	p := newPlugin(t, `{}`, nil)
	base := p.serve(ServiceHTTP, sdk.OriginOverlay, key)
	c := davHTTP{t: t, base: base}
	coll := "/calendars/" + key.String() + "/personal/"
	_, _, h := c.do(http.MethodPut, coll+"keep.ics", icsEvent("keep", "Keep me", "20240101T100000Z"), map[string]string{"Content-Type": "text/calendar"})
	etag := h.Get("ETag")
	tokenBody := c.want(http.StatusMultiStatus, "REPORT", coll, `<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`, nil)
	token := tokenBody[strings.Index(tokenBody, "<D:sync-token>")+len("<D:sync-token>") : strings.Index(tokenBody, "</D:sync-token>")]
	if err := p.a.Close(); err != nil {
		t.Fatal(err)
	}

	a2, _ := New(testLogger(t))
	if err := a2.Configure(t.Context(), p.cfg, fakeHost{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a2.Close() })
	p2 := &plugin{t: t, a: a2, cfg: p.cfg}
	c2 := davHTTP{t: t, base: p2.serve(ServiceHTTP, sdk.OriginOverlay, key)}
	code, body, h2 := c2.do(http.MethodGet, coll+"keep.ics", "", nil)
	if code != http.StatusOK || h2.Get("ETag") != etag || !strings.Contains(body, "Keep me") {
		t.Fatalf("after restart: %d ETag %q (was %q)", code, h2.Get("ETag"), etag)
	}
	delta := c2.want(http.StatusMultiStatus, "REPORT", coll, `<D:sync-collection xmlns:D="DAV:"><D:sync-token>`+token+`</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`, nil)
	if strings.Contains(delta, "<D:response>") || !strings.Contains(delta, token) {
		t.Errorf("token from before the restart:\n%s", delta)
	}
}
