package openai

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mycelium-go/mycelium/adapters/openai/client"
	"github.com/mycelium-go/mycelium/adapters/openai/openaitest"
	"github.com/mycelium-go/mycelium/adapters/openai/serve"
)

var (
	keyA = openaitest.KeyOf(1).String()
	keyB = openaitest.KeyOf(2).String()
)

// docSettings is the example of docs/ai.md, as the node converts it from
// TOML to JSON.
var docSettings = `{
  "serve": {
    "upstream": "http://127.0.0.1:11434/v1",
    "models": ["llama3.2", "nomic-embed-text"],
    "requests_per_minute": 30,
    "tokens_per_minute": 50000,
    "peer_limits": {"` + strings.ToUpper(keyA) + `": {"tokens_per_minute": 200000}},
    "announce_to": ["` + keyA + `"],
    "announce_interval": "2m",
    "stream_idle_timeout": "0s"
  },
  "client": {
    "api_key": "sk-local",
    "nodes": ["` + keyB + `", "` + keyA + `:9000"],
    "refresh_interval": 15,
    "discovery": true
  }
}`

func TestParseSettings(t *testing.T) {
	s, err := ParseSettings(json.RawMessage(docSettings))
	if err != nil {
		t.Fatalf("ParseSettings: %v", err)
	}
	sc, err := s.Serve.serveConfig()
	if err != nil {
		t.Fatalf("serveConfig: %v", err)
	}
	if sc.DefaultLimit != (serve.Limit{RequestsPerMinute: 30, TokensPerMinute: 50000}) {
		t.Errorf("default limit %+v", sc.DefaultLimit)
	}
	if got := sc.PeerLimits[keyA]; got != (serve.Limit{RequestsPerMinute: 30, TokensPerMinute: 200000}) {
		t.Errorf("override for A = %+v, want rpm inherited and tpm set", got)
	}
	if sc.StreamIdleTimeout != 0 || sc.HeaderTimeout != 10*time.Minute || !sc.InjectStreamUsage || sc.MaxBodyBytes != 32<<20 {
		t.Errorf("serve defaults: %+v", sc)
	}
	cc, err := s.Client.clientConfig()
	if err != nil {
		t.Fatalf("clientConfig: %v", err)
	}
	want := []client.Node{{Key: openaitest.KeyOf(2)}, {Key: openaitest.KeyOf(1), Port: 9000}}
	if diff := cmp.Diff(want, cc.Nodes); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
	if cc.RefreshInterval != 15*time.Second || cc.Port != 8080 || cc.ModelsTTL != 10*time.Minute || !cc.Discovery {
		t.Errorf("client config %+v", cc)
	}
}

func TestParseSettingsErrors(t *testing.T) {
	tests := []struct{ name, settings, want string }{
		{"unknown field", `{"serve":{"upstream":"http://x/v1","upstreem_key":"k"}}`, "unknown field"},
		{"unknown role", `{"server":{}}`, "unknown field"},
		{"no upstream", `{"serve":{}}`, "upstream"},
		{"relative upstream", `{"serve":{"upstream":"localhost:11434"}}`, "upstream"},
		{"bad peer key", `{"serve":{"upstream":"http://x/v1","peer_limits":{"abc":{}}}}`, "64 hex"},
		{"negative limit", `{"serve":{"upstream":"http://x/v1","requests_per_minute":-1}}`, "negative"},
		{"no api key", `{"client":{"nodes":[]}}`, "api key is required"},
		{"key and no_auth", `{"client":{"api_key":"k","no_auth":true}}`, "exclusive"},
		{"bad node", `{"client":{"api_key":"k","nodes":["zz"]}}`, "client.nodes"},
		{"bad node port", `{"client":{"api_key":"k","nodes":["` + keyA + `:0"]}}`, "bad port"},
		{"bad duration", `{"client":{"api_key":"k","refresh_interval":"soon"}}`, "duration"},
		{"trailing", `{} {}`, "trailing"},
	}
	for _, tc := range tests {
		err := parseAndBuild(tc.settings)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	if err := parseAndBuild(``); err != nil {
		t.Errorf("empty settings: %v", err)
	}
}

func parseAndBuild(settings string) error {
	s, err := ParseSettings(json.RawMessage(settings))
	if err != nil {
		return err
	}
	if s.Serve != nil {
		if _, err := s.Serve.serveConfig(); err != nil {
			return err
		}
		if _, err := s.Serve.announceTo(); err != nil {
			return err
		}
	}
	if s.Client != nil {
		if _, err := s.Client.clientConfig(); err != nil {
			return err
		}
	}
	return nil
}

func FuzzParseSettings(f *testing.F) {
	f.Add(docSettings)
	f.Add(`{"client":{"api_key":"k","nodes":["` + keyA + `:80"]}}`)
	f.Add(`{"serve":{"upstream":"http://h/v1","announce_interval":1.5}}`)
	f.Fuzz(func(t *testing.T, settings string) {
		_ = parseAndBuild(settings) // must not panic
	})
}
