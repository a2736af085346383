package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/gateway"
)

func TestPrintStatus(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	st := gateway.Status{
		Plugins: []gateway.PluginStatus{{
			Name: "mail", State: gateway.StateRunning, Pid: 42, Restarts: 1, Since: now.Add(-90 * time.Second), Healthy: true,
			Services: []gateway.ServiceStatus{{
				Name: "imap", State: "error", Protocol: "imap", TLS: "starttls", Serving: true, Accepted: 3, Refused: 2,
				Listeners: []gateway.ListenerStatus{{Addr: "[4ab::1]:143", Origin: "overlay"}, {Addr: "127.0.0.1:1143", Origin: "loopback", Error: "address in use"}},
			}, {
				Name: "submission", State: "listening", Protocol: "smtp", TLS: "starttls", Serving: true, Accepted: 12345, Refused: 0,
				Listeners: []gateway.ListenerStatus{{Addr: "[4ab::1]:587", Origin: "overlay"}},
			}},
		}, {
			Name: "webdav", State: gateway.StateFailed, LastError: "launch webdav: no such file\nmore", Since: now,
		}},
		Forwards: []gateway.ForwardStatus{{Local: "127.0.0.1:1143", Target: "[4ab::2]:143", Accepted: 5}},
	}
	var b bytes.Buffer
	if err := printStatus(&b, st, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"mail", "running", "42", "1m30s", "mail/imap", "imap/starttls", "[4ab::1]:143", "error: address in use",
		"webdav", "failed", "webdav: last error: launch webdav: no such file", "[4ab::2]:143"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "more") {
		t.Errorf("multi-line error not cut to its first line:\n%s", out)
	}
	// Every row of a table has its columns at the same offsets: the
	// service row's counters line up under the header.
	lines := strings.Split(out, "\n")
	col := func(prefix, word string) int {
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return strings.Index(l, word)
			}
		}
		return -1
	}
	if h, r := col("PLUGIN", "PID"), col("mail ", "42"); h < 0 || h != r {
		t.Errorf("PID column at %d in the header, %d in the row:\n%s", h, r, out)
	}
	if h, r1, r2 := col("SERVICE", "STATE"), col("mail/imap", "error"), col("mail/submission", "listening"); h < 0 || h != r1 || h != r2 {
		t.Errorf("STATE column at %d in the header, %d and %d in the rows:\n%s", h, r1, r2, out)
	}
	if h, r := col("SERVICE", "LISTENERS"), col("mail/submission", "overlay"); h < 0 || h != r {
		t.Errorf("LISTENERS column at %d in the header, %d in the row:\n%s", h, r, out)
	}
	t.Logf("\n%s", out)
}

func TestAPICall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case gateway.PathReload:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"gateway: bad config: policy.x.allow[0]"}`))
		default:
			_, _ = w.Write([]byte(`{"plugins":[]}`))
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	if b, err := apiCall(http.MethodGet, addr, gateway.PathPlugins); err != nil || string(b) != `{"plugins":[]}` {
		t.Errorf("GET: %s, %v", b, err)
	}
	if _, err := apiCall(http.MethodPost, addr, gateway.PathReload); err == nil || !strings.Contains(err.Error(), "policy.x.allow[0]") {
		t.Errorf("POST reload: %v, want the API's error", err)
	}
	if err := (&GatewayReloadCmd{}).Run(&GatewayCmd{APIAddr: addr}); err == nil {
		t.Error("reload command ignored the error")
	}
}

func TestGatewayConfigAndDataDir(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(p, []byte("peers = []\n[[plugin]]\nname = \"whoami\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := gatewayConfig(p)
	if err != nil || len(cfg.Plugins) != 1 || cfg.Plugins[0].Name != "whoami" {
		t.Errorf("gatewayConfig = %+v, %v", cfg, err)
	}
	g := &Globals{KeyFile: "/k/dir/key.bin"}
	t.Setenv("MYCELIUM_DATA_DIR", "")
	if d := g.dataDir(""); d != "/k/dir" {
		t.Errorf("default data dir %s", d)
	}
	t.Setenv("MYCELIUM_DATA_DIR", "/env")
	if d := g.dataDir(""); d != "/env" {
		t.Errorf("env data dir %s", d)
	}
	if d := g.dataDir("/flag"); d != "/flag" {
		t.Errorf("flag data dir %s", d)
	}
	t.Setenv("MYCELIUM_DATA_DIR", "")
	if err := os.WriteFile(p, []byte("data_dir = \"/from/file\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g.ConfigFile = p
	if d := g.dataDir(""); d != "/from/file" {
		t.Errorf("data dir from the config file: %s", d)
	}
}
