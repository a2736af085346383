package gateway

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pelletier/go-toml/v2"

	"github.com/mycelium-go/mycelium/gateway/acl"
)

// nodeFile is how the node's config embeds the gateway's.
type nodeFile struct {
	Peers []string `toml:"peers"`
	Config
}

func TestExampleConfigParses(t *testing.T) {
	b, err := os.ReadFile("../configs/mycelium.toml")
	if err != nil {
		t.Fatal(err)
	}
	var f nodeFile
	if err := toml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(f.Plugins) != 1 || f.Plugins[0].Name != "whoami" || f.Plugins[0].Settings["prefix"] != "" {
		t.Errorf("plugins %+v", f.Plugins)
	}
	if _, ok := f.Policy["whoami"]; !ok {
		t.Error("no policy for whoami")
	}
}

func TestConfigDecodesEmbedded(t *testing.T) {
	text := `
peers = ["tcp://1.2.3.4:9651"]
[gateway]
names = ["node.example"]
restart_wait = "1500ms"
[groups]
friends = ["` + "2222222222222222222222222222222222222222222222222222222222222222" + `"]
[[plugin]]
name = "mail"
sha256 = "` + "ab" + strings.Repeat("00", 31) + `"
[plugin.settings]
quota_mb = 100
domains = ["a.mesh"]
[plugin.services.imap]
port = 143
loopback = []
[plugin.services.smtp]
enabled = false
[[plugin]]
name = "webdav"
enabled = false
[policy.imap]
allow = ["group:friends"]
deny = ["*"]
[[forward]]
local = "127.0.0.1:1143"
remote = "[4ab::1]:143"
`
	var f nodeFile
	if err := toml.Unmarshal([]byte(text), &f); err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	want := Config{
		Gateway: Settings{Names: []string{"node.example"}, RestartWait: Duration(1500 * time.Millisecond)},
		Plugins: []PluginConfig{
			{
				Name: "mail", SHA256: "ab" + strings.Repeat("00", 31),
				Settings: map[string]any{"quota_mb": int64(100), "domains": []any{"a.mesh"}},
				Services: map[string]ServiceConfig{
					"imap": {Port: port(143), Loopback: &[]string{}},
					"smtp": {Enabled: enabled(false)},
				},
			},
			{Name: "webdav", Enabled: enabled(false)},
		},
		Groups:   map[string][]string{"friends": {strings.Repeat("22", 32)}},
		Policy:   map[string]acl.Rule{"imap": {Allow: []string{"group:friends"}, Deny: []string{"*"}}},
		Forwards: []ForwardConfig{{Local: "127.0.0.1:1143", Remote: "[4ab::1]:143"}},
	}
	if diff := cmp.Diff(want, f.Config); diff != "" {
		t.Errorf("decoded config (-want +got):\n%s", diff)
	}
	if js, err := f.Plugins[0].settingsJSON(); err != nil || string(js) != `{"domains":["a.mesh"],"quota_mb":100}` {
		t.Errorf("settings JSON %s, %v", js, err)
	}
}

func TestConfigValidate(t *testing.T) {
	k := strings.Repeat("22", 32)
	tests := []struct {
		name string
		text string
		want string
	}{
		{"bad plugin name", `[[plugin]]
name = "a/b"`, "plugin[0]: name"},
		{"duplicate plugin", `[[plugin]]
name = "a"
[[plugin]]
name = "a"`, `plugin[1]: plugin "a" configured twice`},
		{"bad checksum", `[[plugin]]
name = "a"
sha256 = "xyz"`, "sha256"},
		{"loopback not loopback", `[[plugin]]
name = "a"
[plugin.services.s]
loopback = ["0.0.0.0:25"]`, "services.s.loopback"},
		{"loopback without port", `[[plugin]]
name = "a"
[plugin.services.s]
loopback = ["127.0.0.1"]`, "services.s.loopback"},
		{"unknown group", `[policy.s]
allow = ["group:x"]`, `policy.s.allow[0] "group:x"`},
		{"bad key", `[policy.s]
deny = ["` + k[:10] + `"]`, "policy.s.deny[0]"},
		{"bad forward", `[[forward]]
local = "0.0.0.0:1"
remote = "[4ab::1]:1"`, "forward[0]: local"},
		{"duplicate forward", `[[forward]]
local = "127.0.0.1:1"
remote = "[4ab::1]:1"
[[forward]]
local = "127.0.0.1:1"
remote = "[4ab::1]:2"`, "forward[1]: local address 127.0.0.1:1 used twice"},
		{"bad name", `[gateway]
names = ["-x"]`, "gateway.names[0]"},
		{"negative duration", `[gateway]
restart_wait = "-1s"`, "gateway.restart_wait is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			if err := toml.Unmarshal([]byte(tt.text), &c); err != nil {
				t.Fatal(err)
			}
			err := c.Validate()
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want ErrConfig mentioning %q", err, tt.want)
			}
		})
	}
	var c Config
	if err := toml.Unmarshal([]byte("[gateway]\nstart_timeout = \"soon\""), &c); err == nil || !strings.Contains(err.Error(), "soon") {
		t.Errorf("bad duration: %v", err)
	}
}

func TestNewRejectsMissingDeps(t *testing.T) {
	full := Deps{DataDir: "/x", Key: serverKey, Overlay: newFabric().node(serverKey), Identity: newIdentity(), Logger: discardLogger()}
	for name, mod := range map[string]func(*Deps){
		"data dir": func(d *Deps) { d.DataDir = "" },
		"key":      func(d *Deps) { d.Key = [32]byte{} },
		"overlay":  func(d *Deps) { d.Overlay = nil },
		"identity": func(d *Deps) { d.Identity = nil },
		"logger":   func(d *Deps) { d.Logger = nil },
	} {
		d := full
		mod(&d)
		if _, err := New(Config{}, d); err == nil {
			t.Errorf("New without %s succeeded", name)
		}
	}
	if _, err := New(Config{}, full); err != nil {
		t.Errorf("New with everything: %v", err)
	}
}
