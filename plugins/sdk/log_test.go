package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// TestLogHandlerLinesParseAsHCLog checks each line against what
// go-plugin's host requires to re-emit it at its level: JSON with string
// @message and @level (an hclog level name) and an @timestamp in the one
// accepted format.
func TestLogHandlerLinesParseAsHCLog(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewLogHandler(&buf, &slog.HandlerOptions{Level: LevelTrace}))
	levels := map[slog.Level]string{
		LevelTrace: "trace", slog.LevelDebug: "debug", slog.LevelInfo: "info",
		slog.LevelWarn: "warn", slog.LevelError: "error", slog.LevelError + 4: "error",
	}
	var want []string
	for lvl, name := range levels {
		l.Log(context.Background(), lvl, "hello "+name, "service", "smtp", slog.Group("g", "k", 1))
		want = append(want, name)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		msg, _ := m["@message"].(string)
		lvl, _ := m["@level"].(string)
		if !strings.HasPrefix(msg, "hello ") || msg != "hello "+lvl {
			t.Errorf("line %q: @message %q does not match @level %q", line, msg, lvl)
		}
		if hclog.LevelFromString(lvl) == hclog.NoLevel {
			t.Errorf("line %q: @level %q is not an hclog level", line, lvl)
		}
		ts, _ := m["@timestamp"].(string)
		if _, err := time.Parse(hclogTimeFormat, ts); err != nil {
			t.Errorf("line %q: @timestamp does not parse: %v", line, err)
		}
		if m["service"] != "smtp" || m["g"] == nil {
			t.Errorf("line %q lost its attributes", line)
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := m[k]; ok {
				t.Errorf("line %q still has key %q", line, k)
			}
		}
	}
}

func TestHCLogAdapter(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := NewHCLogger(l).Named("plugin").Named("mail").With("pid", 7)
	h.Trace("dropped")
	h.Warn("careful", "k", "v")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("output %q: %v", buf.String(), err)
	}
	if m["msg"] != "careful" || m["level"] != "WARN" || m["k"] != "v" || m["pid"] != float64(7) || m["logger"] != "plugin.mail" {
		t.Errorf("adapter logged %v", m)
	}
	if h.IsTrace() || !h.IsDebug() || h.GetLevel() != hclog.Debug {
		t.Errorf("levels: trace=%v debug=%v get=%v; want false true debug", h.IsTrace(), h.IsDebug(), h.GetLevel())
	}
}

func TestCommandEnvironRoundTrip(t *testing.T) {
	cfg := testConfig()
	env, err := CommandEnviron([]string{"PATH=/bin", Handshake.MagicCookieKey + "=x", EnvCommandConfig + "=old"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(env) != 2 || env[0] != "PATH=/bin" || !strings.HasPrefix(env[1], EnvCommandConfig+"=") {
		t.Fatalf("CommandEnviron = %q, want PATH and the config only", env)
	}
	t.Setenv(EnvCommandConfig, strings.TrimPrefix(env[1], EnvCommandConfig+"="))
	got, err := commandConfig()
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Settings) != string(cfg.Settings) || got.DataDir != cfg.DataDir ||
		got.Node.PublicKey != cfg.Node.PublicKey || got.Node.Subnet != cfg.Node.Subnet ||
		string(got.TLS.KeyPEM) != "key" || got.Services["echo"] != cfg.Services["echo"] ||
		!slices.Equal(got.Node.Services, cfg.Node.Services) {
		t.Errorf("round trip = %+v, want %+v", got, cfg)
	}
	if !strings.Contains(env[1], `"PublicKey":"`+cfg.Node.PublicKey.String()+`"`) {
		t.Errorf("key not encoded as hex: %s", env[1])
	}
}
