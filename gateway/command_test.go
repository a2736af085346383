package gateway

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mycelium-go/mycelium/core/identity"
)

func TestPluginCommand(t *testing.T) {
	dataDir := t.TempDir()
	cfg := Config{Plugins: []PluginConfig{{Name: "whoami", Path: whoamiBin, Settings: map[string]any{"prefix": "hey "}}}}
	ctx := context.Background()
	cmd, err := PluginCommand(ctx, cfg, CommandOptions{DataDir: dataDir, Key: serverKey}, "whoami", "show-config")
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	want := fmt.Sprintf("data_dir=%s node=%s prefix=%q\n", filepath.Join(dataDir, "plugins", "whoami"), identity.AddressOf(serverKey), "hey ")
	if out.String() != want {
		t.Errorf("show-config printed %q, want %q", out.String(), want)
	}

	cmd, err = PluginCommand(ctx, cfg, CommandOptions{DataDir: dataDir, Key: serverKey}, "whoami", "bogus")
	if err != nil {
		t.Fatal(err)
	}
	errOut.Reset()
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err == nil || !strings.Contains(errOut.String(), "usage: whoami show-config") {
		t.Errorf("bogus subcommand: %v, stderr %q", err, errOut.String())
	}

	for name, tc := range map[string]struct {
		cfg  Config
		want string
	}{
		"missing binary": {Config{Gateway: Settings{PluginDir: t.TempDir()}}, "no whoami plugin at"},
		"bad checksum":   {Config{Plugins: []PluginConfig{{Name: "whoami", Path: whoamiBin, SHA256: strings.Repeat("ab", 32)}}}, "checksum"},
		"bad config":     {Config{Plugins: []PluginConfig{{Name: "whoami", Path: whoamiBin, SHA256: "x"}}}, "sha256"},
	} {
		_, err := PluginCommand(ctx, tc.cfg, CommandOptions{DataDir: dataDir, Key: serverKey}, "whoami")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error mentioning %q", name, err, tc.want)
		}
	}
}
