package server

import (
	"context"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mycelium-go/mycelium/adapters/dav/store"
	"github.com/mycelium-go/mycelium/plugins/sdk"
	"github.com/mycelium-go/mycelium/plugins/sdk/passwd"
)

var testDefaults = Defaults{
	CalendarName: "personal", CalendarDisplayName: "Personal", CalendarColor: "#3A87ADFF",
	AddressBookName: "contacts", AddressBookDisplay: "Contacts",
}

type testEnv struct {
	t    testing.TB
	path string
	st   *store.Store
	h    *Handler
}

func newEnv(t testing.TB) *testEnv {
	t.Helper()
	e := &testEnv{t: t, path: filepath.Join(t.TempDir(), "dav.sqlite")}
	e.open()
	return e
}

func (e *testEnv) open() {
	e.t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(context.Background(), e.path, store.Options{Logger: log})
	if err != nil {
		e.t.Fatal(err)
	}
	e.st = st
	e.t.Cleanup(func() { st.Close() })
	h, err := New(Config{Store: st, Logger: log, MaxResourceSize: 1 << 20, Defaults: testDefaults})
	if err != nil {
		e.t.Fatal(err)
	}
	e.h = h
}

// restart closes the store and opens everything again from disk.
func (e *testEnv) restart() {
	e.t.Helper()
	if err := e.st.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.open()
}

func (e *testEnv) addAccount(name, pass string) {
	e.t.Helper()
	h, err := passwd.HashWith(passwd.Params{Memory: 64, Time: 1, Threads: 1}, pass)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.AddAccount(context.Background(), name, h); err != nil {
		e.t.Fatal(err)
	}
}

func keyOf(b byte) sdk.PublicKey {
	var k sdk.PublicKey
	for i := range k {
		k[i] = b
	}
	return k
}

// client sends requests as one identity.
type client struct {
	e    *testEnv
	peer sdk.Peer
	user string
	pass string
}

func (e *testEnv) overlay(b byte) *client {
	return &client{e: e, peer: sdk.Peer{Key: keyOf(b), Origin: sdk.OriginOverlay,
		Addr: netip.MustParseAddrPort("[400::1]:40000"), Service: "dav"}}
}

func (e *testEnv) loopback(user, pass string) *client {
	return &client{e: e, user: user, pass: pass, peer: sdk.Peer{Origin: sdk.OriginLoopback,
		Addr: netip.MustParseAddrPort("127.0.0.1:40000"), Service: "dav"}}
}

func (c *client) principal() string {
	if c.user != "" {
		return c.user
	}
	return c.peer.Key.String()
}

type hdr map[string]string

func (c *client) do(method, path string, h hdr, body string) *httptest.ResponseRecorder {
	c.e.t.Helper()
	return c.send(method, path, h, body)
}

// send is do without t.Helper, for use inside fuzz targets.
func (c *client) send(method, path string, h hdr, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req = req.WithContext(sdk.WithPeer(req.Context(), c.peer))
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	c.e.h.ServeHTTP(rec, req)
	return rec
}

func (c *client) want(code int, method, path string, h hdr, body string) *httptest.ResponseRecorder {
	c.e.t.Helper()
	rec := c.do(method, path, h, body)
	if rec.Code != code {
		c.e.t.Fatalf("%s %s = %d, want %d\n%s", method, path, rec.Code, code, rec.Body.String())
	}
	return rec
}

// multistatus is a parsed 207 body.
type multistatus struct {
	Responses []msResponse `xml:"DAV: response"`
	SyncToken string       `xml:"DAV: sync-token"`
}

type msResponse struct {
	Href     string `xml:"DAV: href"`
	Status   string `xml:"DAV: status"`
	PropStat []struct {
		Status string `xml:"DAV: status"`
		Prop   struct {
			Props []anyProp `xml:",any"`
		} `xml:"DAV: prop"`
	} `xml:"DAV: propstat"`
}

type anyProp struct {
	XMLName xml.Name
	Inner   string   `xml:",innerxml"`
	Text    string   `xml:",chardata"`
	Hrefs   []string `xml:"DAV: href"`
}

func parseMS(t *testing.T, rec *httptest.ResponseRecorder) multistatus {
	t.Helper()
	if rec.Code != http.StatusMultiStatus {
		t.Fatalf("status %d, want 207\n%s", rec.Code, rec.Body.String())
	}
	var ms multistatus
	if err := xml.Unmarshal(rec.Body.Bytes(), &ms); err != nil {
		t.Fatalf("bad multistatus: %v\n%s", err, rec.Body.String())
	}
	return ms
}

// prop returns the property of response href with a 200 status.
func (ms multistatus) prop(href, space, local string) (anyProp, bool) {
	for _, r := range ms.Responses {
		if r.Href != href {
			continue
		}
		for _, ps := range r.PropStat {
			if !strings.Contains(ps.Status, " 200 ") {
				continue
			}
			for _, p := range ps.Prop.Props {
				if p.XMLName.Space == space && p.XMLName.Local == local {
					return p, true
				}
			}
		}
	}
	return anyProp{}, false
}

func (ms multistatus) hrefs() []string {
	var out []string
	for _, r := range ms.Responses {
		out = append(out, r.Href)
	}
	return out
}

func (ms multistatus) status(href string) string {
	for _, r := range ms.Responses {
		if r.Href == href {
			return r.Status
		}
	}
	return ""
}

const propfindBody = `<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CR="urn:ietf:params:xml:ns:carddav" xmlns:CS="http://calendarserver.org/ns/"><D:prop>%s</D:prop></D:propfind>`

func propfind(props string) string { return strings.Replace(propfindBody, "%s", props, 1) }

func ics(uid string, lines ...string) string {
	all := []string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", "BEGIN:VEVENT", "UID:" + uid, "DTSTAMP:20240101T000000Z"}
	all = append(all, lines...)
	all = append(all, "END:VEVENT", "END:VCALENDAR", "")
	return strings.Join(all, "\r\n")
}

func vcard(uid, fn string, lines ...string) string {
	all := []string{"BEGIN:VCARD", "VERSION:3.0", "UID:" + uid, "FN:" + fn}
	all = append(all, lines...)
	return strings.Join(append(all, "END:VCARD", ""), "\r\n")
}

var calCT = hdr{"Content-Type": "text/calendar; charset=utf-8"}
var cardCT = hdr{"Content-Type": "text/vcard; charset=utf-8"}
