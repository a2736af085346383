package webdav

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mycelium-go/mycelium/plugins/sdk"
	"github.com/mycelium-go/mycelium/plugins/sdk/sdktest"
)

func TestDescribe(t *testing.T) {
	d, err := New("test", nil).Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []sdk.ServiceSpec{
		{Name: "webdav", Protocol: "http", Port: 80, LoopbackPort: 18080, TLS: sdk.TLSNone},
		{Name: "webdavs", Protocol: "https", Port: 443, LoopbackPort: 18443, TLS: sdk.TLSImplicit},
	}
	if d.Name != "webdav" {
		t.Errorf("Name = %q", d.Name)
	}
	if diff := cmp.Diff(want, d.Services); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
}

func TestHTTPS(t *testing.T) {
	mat, pool := testTLS(t)
	ta := newTestAdapter(t, "", "", mat)
	ta.addUser("alice", "alice-password")
	base := ta.serve(ServiceHTTPS, sdk.OriginLoopback, sdk.PublicKey{})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest("PUT", base+"/over-tls.txt", strings.NewReader("secret"))
	req.SetBasicAuth("alice", "alice-password")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("PUT over TLS = %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("PUT", base+"/x", nil)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("PUT over TLS without credentials = %d, want 401", resp.StatusCode)
	}
}

func TestServeErrors(t *testing.T) {
	ctx := context.Background()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	if err := New("test", nil).Serve(ctx, ServiceHTTP, ln); err == nil {
		t.Error("Serve before Configure succeeded")
	}
	ta := newTestAdapter(t, "", "", nil)
	if err := ta.a.Serve(ctx, "ftp", ln); err == nil {
		t.Error("Serve of an unknown service succeeded")
	}
	if err := ta.a.Serve(ctx, ServiceHTTPS, ln); err == nil {
		t.Error("Serve of webdavs without TLS material succeeded")
	}
	if err := ta.a.Configure(ctx, sdk.Config{DataDir: t.TempDir()}, nil); err == nil {
		t.Error("second Configure succeeded")
	}
	if err := New("test", nil).Configure(ctx, sdk.Config{DataDir: t.TempDir(), Settings: []byte(`{"bogus": 1}`)}, nil); err == nil {
		t.Error("Configure with an unknown setting succeeded")
	}
}

func TestServeStopsWithContext(t *testing.T) {
	ta := newTestAdapter(t, "", "", nil)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ta.a.Serve(ctx, ServiceHTTP, sdktest.IdentityListener(ln, sdk.Peer{Key: keyOf(1), Origin: sdk.OriginOverlay, Service: ServiceHTTP}))
	}()
	c := dc{t, "http://" + ln.Addr().String(), ""}
	c.want(201, "PUT", "/f", "x")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v, want nil after cancel", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}

func TestCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := New("test", nil)
	run := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		key := strings.Repeat("ab", 32)
		env := sdk.CommandEnv{
			Config: sdk.Config{DataDir: dir, Settings: []byte(`{"links": {"` + key + `": "alice"}}`)},
			Stdin:  strings.NewReader(stdin), Stdout: &out, Stderr: &out,
		}
		err := a.RunCommand(ctx, env, args)
		return out.String(), err
	}
	if out, err := run("", "help"); err != nil || !strings.Contains(out, "adduser NAME") {
		t.Errorf("help = %q, %v", out, err)
	}
	if _, err := run("correct horse\n", "adduser", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := run("correct horse\n", "adduser", "alice"); err == nil {
		t.Error("adduser of an existing account succeeded")
	}
	if _, err := run("short\n", "adduser", "bob"); err == nil {
		t.Error("adduser with a short password succeeded")
	}
	if _, err := run("long enough pw", "adduser", "carol"); err != nil {
		t.Errorf("adduser with a password without newline: %v", err)
	}
	if _, err := run("", "adduser", "dave"); err == nil {
		t.Error("adduser without a password succeeded")
	}
	if _, err := run("battery staple\n", "passwd", "alice"); err != nil {
		t.Error(err)
	}
	if _, err := run("battery staple\n", "passwd", "nobody"); err == nil {
		t.Error("passwd of a missing account succeeded")
	}
	out, err := run("", "list")
	if err != nil || !strings.Contains(out, "alice") || !strings.Contains(out, "carol") || !strings.Contains(out, "linked keys: "+strings.Repeat("ab", 32)) {
		t.Errorf("list = %q, %v", out, err)
	}
	if _, err := run("", "deluser", "carol"); err != nil {
		t.Error(err)
	}
	if out, _ := run("", "list"); strings.Contains(out, "carol") {
		t.Errorf("carol still listed: %q", out)
	}
	if _, err := run("", "frobnicate", "x"); err == nil {
		t.Error("unknown command succeeded")
	}
	if _, err := run("", "deluser"); err == nil {
		t.Error("deluser without a name succeeded")
	}

	// The accounts work for logins.
	ta := newTestAdapter(t, dir, "", nil)
	c := dc{t, ta.serve(ServiceHTTP, sdk.OriginLoopback, sdk.PublicKey{}), "alice:battery staple"}
	c.want(207, "PROPFIND", "/", "", "Depth", "0")
}

var settingsCases = []struct {
	name string
	in   string
	ok   bool
}{
	{"empty", ``, true},
	{"null", `null`, true},
	{"full", `{"realm": "r", "shared_dir": "Shared", "default_quota": "10GiB", "quotas": {"alice": 1000, "` + strings.Repeat("0f", 32) + `": "1.5 GB"},
		"links": {"` + strings.Repeat("AB", 32) + `": "alice"}, "shared": [{"name": "team", "members": ["alice"], "readers": ["bob"], "quota": "1TB"}],
		"lock_timeout": "10m", "max_lock_timeout": "1h", "propfind_depth_infinity": true}`, true},
	{"unknown key", `{"realms": "x"}`, false},
	{"bad realm", `{"realm": "a\"b"}`, false},
	{"bad shared dir", `{"shared_dir": "../x"}`, false},
	{"bad quota unit", `{"default_quota": "10 parsecs"}`, false},
	{"negative quota", `{"default_quota": -1}`, false},
	{"bad link key", `{"links": {"abc": "alice"}}`, false},
	{"bad link account", `{"links": {"` + strings.Repeat("ab", 32) + `": "Alice!"}}`, false},
	{"duplicate share", `{"shared": [{"name": "a", "members": ["x"]}, {"name": "a", "members": ["y"]}]}`, false},
	{"share without members", `{"shared": [{"name": "a"}]}`, false},
	{"member and reader", `{"shared": [{"name": "a", "members": ["x"], "readers": ["x"]}]}`, false},
	{"bad member", `{"shared": [{"name": "a", "members": ["not valid"]}]}`, false},
	{"timeouts reversed", `{"lock_timeout": "2h", "max_lock_timeout": "1h"}`, false},
	{"bad duration", `{"lock_timeout": 5}`, false},
	{"trailing data", `{} {}`, false},
}

func TestParseSettings(t *testing.T) {
	for _, tc := range settingsCases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSettings([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("ParseSettings(%s) error = %v, want ok %v", tc.in, err, tc.ok)
			}
			if tc.name == "full" && (s.DefaultQuota != 10<<30 || s.Quotas[strings.Repeat("0f", 32)] != 1_500_000_000 || s.Shared[0].Quota != 1e12 || time.Duration(s.LockTimeout) != 10*time.Minute) {
				t.Errorf("parsed %+v", s)
			}
		})
	}
	if d := DefaultSettings(); d.Realm == "" || d.SharedDir != "shared" || time.Duration(d.MaxLockTimeout) != 24*time.Hour {
		t.Errorf("DefaultSettings() = %+v", d)
	}
}

func FuzzParseSettings(f *testing.F) {
	for _, tc := range settingsCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSettings([]byte(in))
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted settings fail validation: %v", err)
		}
		// Whatever was accepted must survive a JSON round trip.
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseSettings(b); err != nil {
			t.Fatalf("re-parsing %s: %v", b, err)
		}
	})
}
