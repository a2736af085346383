package mail

import (
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestAutoconfigHTTP(t *testing.T) {
	n := startNode(t, nodeOpts{settings: map[string]any{"aliases": map[string]string{}}})
	base := "http://" + n.addr127(SvcAutoconfig)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, path := range []string{"/mail/config-v1.1.xml?emailaddress=alice%40" + n.domain,
		"/.well-known/autoconfig/mail/config-v1.1.xml", "/mail/config-v1.1.xml?emailaddress=ALICE%40" + strings.ToUpper(n.domain)} {
		code, body := get(path)
		if code != 200 {
			t.Fatalf("GET %s = %d %s", path, code, body)
		}
		var cfg struct {
			Provider struct {
				ID       string `xml:"id,attr"`
				Incoming []struct {
					Type     string `xml:"type,attr"`
					Host     string `xml:"hostname"`
					Port     int    `xml:"port"`
					Socket   string `xml:"socketType"`
					Username string `xml:"username"`
				} `xml:"incomingServer"`
				Outgoing []struct {
					Port   int    `xml:"port"`
					Socket string `xml:"socketType"`
				} `xml:"outgoingServer"`
			} `xml:"emailProvider"`
		}
		if err := xml.Unmarshal([]byte(body), &cfg); err != nil {
			t.Fatalf("autoconfig XML: %v\n%s", err, body)
		}
		in, out := cfg.Provider.Incoming, cfg.Provider.Outgoing
		if cfg.Provider.ID != n.domain || len(in) != 2 || len(out) != 2 ||
			in[0].Host != "localhost" || in[0].Port != n.ports[SvcIMAPS] || in[0].Socket != "SSL" ||
			in[1].Port != n.ports[SvcIMAP] || in[1].Socket != "STARTTLS" || in[0].Username != "%EMAILADDRESS%" ||
			out[0].Port != n.ports[SvcSubmissions] || out[0].Socket != "SSL" || out[1].Port != n.ports[SvcSubmission] {
			t.Errorf("autoconfig for a loopback client:\n%s", body)
		}
	}
	if code, _ := get("/mail/config-v1.1.xml?emailaddress=eve%40example.com"); code != 404 {
		t.Errorf("foreign domain: %d, want 404", code)
	}
	if code, _ := get("/other"); code != 404 {
		t.Errorf("other path: %d, want 404", code)
	}
}
