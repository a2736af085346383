//go:build unix

package launch

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/hashicorp/go-plugin"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// TestVersionNegotiation runs the plugin (this test binary) against hosts
// offering different protocol versions: go-plugin must pick the highest
// version both support, and fail clearly when there is none.
func TestVersionNegotiation(t *testing.T) {
	v1 := sdk.HostPluginSets()[1]
	for name, tc := range map[string]struct {
		offered map[int]plugin.PluginSet
		want    int
		wantErr string
	}{
		"host newer": {offered: map[int]plugin.PluginSet{1: v1, 2: v1}, want: 1},
		"same":       {offered: map[int]plugin.PluginSet{1: v1}, want: 1},
		"no overlap": {offered: map[int]plugin.PluginSet{7: v1}, wantErr: "version"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t)
			cc := clientConfig(cfg, exec.Command(cfg.Path))
			cc.VersionedPlugins = tc.offered
			c := plugin.NewClient(cc)
			defer c.Kill()
			_, err := c.Client()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(strings.ToLower(err.Error()), tc.wantErr) {
					t.Fatalf("Client() error = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.NegotiatedVersion(); got != tc.want {
				t.Errorf("negotiated version %d, want %d", got, tc.want)
			}
		})
	}
}
