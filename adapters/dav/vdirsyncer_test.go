package dav

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

const vdirConfig = `[general]
status_path = "%[1]s/status/"

[pair cal]
a = "cal_local"
b = "cal_remote"
collections = ["from a", "from b"]
metadata = ["displayname", "color"]

[storage cal_local]
type = "filesystem"
path = "%[1]s/calendars/"
fileext = ".ics"

[storage cal_remote]
type = "caldav"
url = "%[2]s/"
username = "alice"
password = "%[3]s"

[pair card]
a = "card_local"
b = "card_remote"
collections = ["from a", "from b"]

[storage card_local]
type = "filesystem"
path = "%[1]s/contacts/"
fileext = ".vcf"

[storage card_remote]
type = "carddav"
url = "%[2]s/"
username = "alice"
password = "%[3]s"
`

// davHTTP is a tiny authenticated HTTP client for checking what a
// third-party client did on the server.
type davHTTP struct {
	t          *testing.T
	base, user string
	pass       string
}

func (c davHTTP) do(method, path, body string, hdr map[string]string) (int, string, http.Header) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.SetBasicAuth(c.user, c.pass)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func (c davHTTP) want(code int, method, path, body string, hdr map[string]string) string {
	c.t.Helper()
	got, b, _ := c.do(method, path, body, hdr)
	if got != code {
		c.t.Fatalf("%s %s = %d, want %d\n%s", method, path, got, code, b)
	}
	return b
}

// TestVdirsyncer syncs local .ics and .vcf directories with the server in
// both directions: discover (creating collections on both sides), then
// three syncs with changes on both sides in between; the third sync must
// find nothing to do.
func TestVdirsyncer(t *testing.T) {
	bin, err := exec.LookPath("vdirsyncer")
	if err != nil {
		t.Skip("vdirsyncer not installed (apt-get install vdirsyncer)")
	}
	const pass = "vdir sync secret"
	p := newPlugin(t, `{}`, nil)
	p.addUser("alice", pass)
	base := p.serve(ServiceHTTP, sdk.OriginLoopback, sdk.PublicKey{})
	srv := davHTTP{t: t, base: base, user: "alice", pass: pass}

	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(vdirConfig, dir, base, pass)), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(rel, data string) {
		t.Helper()
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(stdin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"-c", cfg}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		t.Logf("vdirsyncer %s:\n%s", strings.Join(args, " "), out)
		if err != nil {
			t.Fatalf("vdirsyncer %s: %v", strings.Join(args, " "), err)
		}
		return string(out)
	}

	// Local side: a calendar and an address book the server lacks.
	write("calendars/travel/trip.ics", icsEvent("trip-1", "Zugfahrt nach München", "20240610T080000Z"))
	write("calendars/travel/displayname", "Reisen ✈")
	write("calendars/travel/color", "#FF8800")
	write("contacts/friends/jurgen.vcf", vcardOf("jurgen-1", "Jürgen Größ"))
	// Server side: an event in the default calendar (provisioned on first
	// login).
	srv.want(http.StatusCreated, http.MethodPut, "/calendars/alice/personal/dentist.ics",
		icsEvent("dentist-1", "Zahnarzt", "20240612T070000Z"), map[string]string{"Content-Type": "text/calendar"})
	srv.want(http.StatusCreated, http.MethodPut, "/calendars/alice/personal/gym.ics",
		icsEvent("gym-1", "Sport", "20240613T170000Z"), map[string]string{"Content-Type": "text/calendar"})

	run(strings.Repeat("y\n", 20), "discover")
	run("", "metasync")
	run("", "sync")

	// Uploads: the new calendar (extended MKCOL), its event and the vCard.
	if got := srv.want(http.StatusOK, http.MethodGet, "/calendars/alice/travel/trip-1.ics", "", nil); !strings.Contains(got, "München") {
		t.Errorf("uploaded event: %q", got)
	}
	props := srv.want(http.StatusMultiStatus, "PROPFIND", "/calendars/alice/travel/",
		`<D:propfind xmlns:D="DAV:" xmlns:A="http://apple.com/ns/ical/"><D:prop><D:displayname/><A:calendar-color/></D:prop></D:propfind>`,
		map[string]string{"Depth": "0"})
	if !strings.Contains(props, "Reisen ✈") || !strings.Contains(props, "#FF8800") {
		t.Errorf("metasync did not set displayname/color:\n%s", props)
	}
	if got := srv.want(http.StatusOK, http.MethodGet, "/addressbooks/alice/friends/jurgen-1.vcf", "", nil); !strings.Contains(got, "Jürgen Größ") {
		t.Errorf("uploaded vCard: %q", got)
	}
	// Download: the server's events are in the local personal calendar.
	if files := findFiles(t, filepath.Join(dir, "calendars/personal")); len(files) != 2 {
		t.Fatalf("local personal calendar: %v", files)
	}

	// Changes on both sides.
	write("calendars/travel/trip.ics", icsEvent("trip-1", "Zugfahrt nach München (verspätet)", "20240610T090000Z"))
	write("calendars/travel/hotel.ics", icsEvent("hotel-1", "Hotel", "20240611T140000Z"))
	srv.want(http.StatusCreated, http.MethodPut, "/addressbooks/alice/friends/anna.vcf", vcardOf("anna-1", "Anna Ötzi"),
		map[string]string{"Content-Type": "text/vcard"})
	srv.want(http.StatusNoContent, http.MethodDelete, "/calendars/alice/personal/dentist.ics", "", nil)
	run("", "sync")

	if got := srv.want(http.StatusOK, http.MethodGet, "/calendars/alice/travel/trip-1.ics", "", nil); !strings.Contains(got, "verspätet") {
		t.Errorf("local change not uploaded: %q", got)
	}
	srv.want(http.StatusOK, http.MethodGet, "/calendars/alice/travel/hotel-1.ics", "", nil)
	if files := findFiles(t, filepath.Join(dir, "calendars/personal")); len(files) != 1 {
		t.Errorf("server deletion not applied locally: %v", files)
	}
	found := false
	for _, f := range findFiles(t, filepath.Join(dir, "contacts/friends")) {
		data, _ := os.ReadFile(f)
		found = found || strings.Contains(string(data), "Anna Ötzi")
	}
	if !found {
		t.Error("server vCard not downloaded")
	}

	out := run("", "sync")
	if m := regexp.MustCompile(`(?i)(copying|deleting|uploading|updating)`).FindString(out); m != "" {
		t.Errorf("third sync was not idempotent (%q):\n%s", m, out)
	}
}

func findFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".ics") || strings.HasSuffix(e.Name(), ".vcf")) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

func icsEvent(uid, summary, start string) string {
	return strings.Join([]string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//mycelium test//EN", "BEGIN:VEVENT",
		"UID:" + uid, "DTSTAMP:20240101T000000Z", "DTSTART:" + start, "DURATION:PT1H", "SUMMARY:" + summary,
		"END:VEVENT", "END:VCALENDAR", ""}, "\r\n")
}

func vcardOf(uid, fn string) string {
	return strings.Join([]string{"BEGIN:VCARD", "VERSION:3.0", "UID:" + uid, "FN:" + fn, "END:VCARD", ""}, "\r\n")
}
