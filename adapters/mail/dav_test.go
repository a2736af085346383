package mail

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"maps"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// davServices returns the dav plugin's two services on node address a,
// as the node reports them.
func davServices(a netip.Addr) (davs, dav sdk.NodeService) {
	davs = sdk.NodeService{Plugin: "dav", Name: "davs", Protocol: "http", TLS: sdk.TLSImplicit,
		Overlay: netip.AddrPortFrom(a, 5233), Loopback: netip.MustParseAddrPort("127.0.0.1:15233")}
	dav = sdk.NodeService{Plugin: "dav", Name: "dav", Protocol: "http", TLS: sdk.TLSNone,
		Overlay: netip.AddrPortFrom(a, 5232), Loopback: netip.MustParseAddrPort("127.0.0.1:15232")}
	return davs, dav
}

// TestProfileNodeServices: `mail profile` adds CalDAV and CardDAV
// payloads when the node runs the dav plugin (Config.Node.Services),
// preferring davs, on the same host as IMAP, with the loopback port for
// --loopback, and no principal URL.
func TestProfileNodeServices(t *testing.T) {
	key, a := testKey(t)
	davs, dav := davServices(a)
	davsOverlayOnly := davs
	davsOverlayOnly.Loopback = netip.AddrPort{}
	imapsOnly := sdk.NodeService{Plugin: "mail", Name: "imaps", Protocol: "imap", TLS: sdk.TLSImplicit, Overlay: netip.AddrPortFrom(a, 993)}
	env := sdk.CommandEnv{Config: sdk.Config{
		DataDir: filepath.Join(t.TempDir(), "data"), TLS: testTLS(t), Settings: json.RawMessage(`{}`),
		Node: sdk.NodeInfo{PublicKey: key, Address: a},
	}}
	for _, u := range []string{"alice", "a+b"} {
		if _, err := runCmd(t, env, "a good password\n", "adduser", u); err != nil {
			t.Fatal(err)
		}
	}
	type account struct {
		host string
		port int
		ssl  bool
		user string // "" for none in the profile
	}
	tests := []struct {
		name     string
		services []sdk.NodeService
		args     []string
		want     *account // nil: no DAV payloads
		hint     string
	}{
		{"no dav plugin", []sdk.NodeService{imapsOnly}, []string{"alice"}, nil, ""},
		{"overlay prefers davs", []sdk.NodeService{dav, davs, imapsOnly}, []string{"alice"}, &account{a.String(), 5233, true, "alice"}, ""},
		{"loopback", []sdk.NodeService{davs, dav}, []string{"--loopback", "alice"}, &account{"localhost", 15233, true, "alice"}, "mycelium dav adduser alice"},
		{"host flag", []sdk.NodeService{davs}, []string{"--host", "mynode.mesh", "alice"}, &account{"mynode.mesh", 5233, true, "alice"}, ""},
		{"plain dav only", []sdk.NodeService{dav}, []string{"alice"}, &account{a.String(), 5232, false, "alice"}, ""},
		{"davs off loopback", []sdk.NodeService{davsOverlayOnly, dav}, []string{"--loopback", "alice"}, &account{"localhost", 15232, false, "alice"}, "mycelium dav adduser alice"},
		{"no loopback listener", []sdk.NodeService{davsOverlayOnly}, []string{"--loopback", "alice"}, nil, ""},
		{"not a dav account name", []sdk.NodeService{davs}, []string{"--loopback", "a+b"}, &account{"localhost", 15233, true, ""}, "cannot be a dav account name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := env
			env.Node.Services = tt.services
			var out, errOut strings.Builder
			env.Stdin, env.Stdout, env.Stderr = strings.NewReader(""), &out, &errOut
			if err := New(nil).RunCommand(context.Background(), env, append([]string{"profile"}, tt.args...)); err != nil {
				t.Fatal(err)
			}
			ps, err := payloads([]byte(out.String()))
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if py, err := exec.LookPath("python3"); err == nil { // a second, independent plist reader
				cmd := exec.Command(py, "-c", "import plistlib,sys; p=plistlib.loads(sys.stdin.buffer.read()); print(' '.join(sorted(c['PayloadType'] for c in p['PayloadContent'])))")
				cmd.Stdin = strings.NewReader(out.String())
				got, err := cmd.CombinedOutput()
				want := strings.Join(slices.Sorted(maps.Keys(ps)), " ")
				if err != nil || strings.TrimSpace(string(got)) != want {
					t.Errorf("plistlib: %s %v, want %s", got, err, want)
				}
			}
			if ps["com.apple.mail.managed"] == nil || ps["com.apple.security.root"] == nil {
				t.Errorf("mail or CA payload missing: %v", ps)
			}
			if tt.want == nil {
				if len(ps) != 2 {
					t.Errorf("payloads %v, want only mail and CA", keysOf(ps))
				}
				return
			}
			if len(ps) != 4 {
				t.Errorf("payloads %v, want mail, CA, CalDAV and CardDAV", keysOf(ps))
			}
			// The DAV host is the IMAP host.
			if imap := ps["com.apple.mail.managed"]["IncomingMailServerHostName"]; imap != tt.want.host {
				t.Errorf("IMAP host %v, want %s", imap, tt.want.host)
			}
			for typ, prefix := range map[string]string{"com.apple.caldav.account": "CalDAV", "com.apple.carddav.account": "CardDAV"} {
				p := ps[typ]
				if p == nil {
					t.Errorf("no %s payload", typ)
					continue
				}
				user, hasUser := p[prefix+"Username"]
				if p[prefix+"HostName"] != tt.want.host || p[prefix+"Port"] != tt.want.port || p[prefix+"UseSSL"] != tt.want.ssl ||
					hasUser != (tt.want.user != "") || (hasUser && user != tt.want.user) {
					t.Errorf("%s payload %v, want %+v", typ, p, *tt.want)
				}
				if _, ok := p[prefix+"PrincipalURL"]; ok {
					t.Errorf("%s has a principal URL", typ)
				}
				if _, ok := p[prefix+"Password"]; ok {
					t.Errorf("%s has a password", typ)
				}
			}
			if !strings.Contains(errOut.String(), tt.hint) || (tt.hint == "" && errOut.Len() > 0) {
				t.Errorf("stderr %q, want %q", errOut.String(), tt.hint)
			}
		})
	}
}

func keysOf(m map[string]map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestAutoconfigNodeServices: the autoconfig document gains an address
// book and a calendar while the node runs the dav plugin, asked at
// request time.
func TestAutoconfigNodeServices(t *testing.T) {
	n := startNode(t, nodeOpts{})
	get := func() (doc struct {
		Books []struct {
			Type string `xml:"type,attr"`
			URL  string `xml:"serverURL"`
		} `xml:"addressBook"`
		Calendars []struct {
			Type string `xml:"type,attr"`
			URL  string `xml:"serverURL"`
			User string `xml:"username"`
		} `xml:"calendar"`
	}) {
		t.Helper()
		resp, err := http.Get("http://" + n.addr127(SvcAutoconfig) + "/mail/config-v1.1.xml")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET = %d %s", resp.StatusCode, b)
		}
		if err := xml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		return doc
	}
	if doc := get(); len(doc.Books)+len(doc.Calendars) != 0 {
		t.Errorf("DAV entries while no dav plugin runs: %+v", doc)
	}
	davs, dav := davServices(n.addr)
	n.host.setServices(dav, davs)
	doc := get()
	if len(doc.Books) != 1 || doc.Books[0].Type != "carddav" || doc.Books[0].URL != "https://localhost:15233/" ||
		len(doc.Calendars) != 1 || doc.Calendars[0].Type != "caldav" || doc.Calendars[0].URL != "https://localhost:15233/" ||
		doc.Calendars[0].User != "%EMAILLOCALPART%" {
		t.Errorf("autoconfig for a loopback client while dav runs: %+v", doc)
	}
	// Overlay clients get the overlay host and port.
	ep := n.a.endpointsFor(context.Background(), sdk.Peer{Origin: sdk.OriginOverlay})
	if ep.DAV.URL() != "https://["+n.addr.String()+"]:5233/" {
		t.Errorf("overlay endpoints %+v, DAV URL %s", ep, ep.DAV.URL())
	}
	n.host.setServices()
	if doc := get(); len(doc.Books)+len(doc.Calendars) != 0 {
		t.Errorf("DAV entries after the dav plugin stopped: %+v", doc)
	}
}

// olderHost is a Host without the node-services callback.
type olderHost struct{ sdk.Host }

func TestLiveServicesFromAnOlderNode(t *testing.T) {
	a := New(nil)
	a.host = olderHost{}
	if svcs := a.liveServices(context.Background()); svcs != nil {
		t.Errorf("services from a host without the callback: %v", svcs)
	}
}

func TestValidDAVAccount(t *testing.T) {
	for name, want := range map[string]bool{
		"alice": true, "a.b_c-d": true, "A1": true, strings.Repeat("a", 32): true,
		"": false, ".a": false, "-a": false, "a+b": false, "a@b": false, "élodie": false, strings.Repeat("a", 33): false,
	} {
		if got := validDAVAccount(name); got != want {
			t.Errorf("validDAVAccount(%q) = %v, want %v", name, got, want)
		}
	}
}
