package gateway

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/gateway/ca"
)

// TestTLSMaterial: a TLS-serving plugin gets a leaf from the node's CA
// for every name of the node; a plugin without TLS services gets none.
func TestTLSMaterial(t *testing.T) {
	lp := freePort(t)
	cfg := Config{Plugins: []PluginConfig{
		testPluginConfig(map[string]ServiceConfig{"host": {Loopback: loopback(fmt.Sprintf("127.0.0.1:%d", lp))}}),
		whoamiPlugin(),
	}}
	cfg.Gateway.Names = []string{"node.example"}
	n := startNode(t, serverKey, newFabric().node(serverKey), newIdentity(), cfg)
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", lp))
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(c, "tls x\n")
	addr := identity.AddressOf(serverKey)
	want := fmt.Sprintf("ok localhost,%s,node.example,%s,127.0.0.1,::1\n", ca.MailDomain(addr), addr)
	if err != nil || got != want {
		t.Errorf("plugin's TLS material: %q, %v; want %q", got, err, want)
	}
	dataDir := n.g.deps.DataDir
	if _, err := os.Stat(filepath.Join(dataDir, "ca", "leaf", "testplugin.crt")); err != nil {
		t.Errorf("leaf not stored: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "ca", "leaf", "whoami.crt")); !os.IsNotExist(err) {
		t.Errorf("whoami (no TLS service) got a leaf: %v", err)
	}
	pem, err := ca.ReadCertPEM(filepath.Join(dataDir, "ca"))
	if err != nil || !strings.Contains(string(pem), "BEGIN CERTIFICATE") {
		t.Errorf("CA export: %v", err)
	}
}

// TestWatchReportsRenewal: when a plugin's certificate is due, the
// supervisor restarts it at once (no backoff) so it gets a fresh one.
func TestWatchReportsRenewal(t *testing.T) {
	n := startNode(t, serverKey, newFabric().node(serverKey), newIdentity(), Config{
		Plugins: []PluginConfig{testPluginConfig(nil)},
	})
	r, inst := n.runner("testplugin"), n.instance("testplugin")
	if inst.renewAt.IsZero() || time.Until(inst.renewAt) < 300*24*time.Hour {
		t.Errorf("renewal due at %v, want about 335 days ahead", inst.renewAt)
	}
	due := *inst
	due.renewAt = time.Now().Add(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if reason := r.watch(ctx, &due); reason != reasonRenew {
		t.Errorf("watch returned %q, want %q", reason, reasonRenew)
	}
}
