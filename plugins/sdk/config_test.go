package sdk

import (
	"encoding/json"
	"net/netip"
	"os"
	"testing"
)

func testConfig() Config {
	return Config{
		Settings: json.RawMessage(`{"bad":false}`),
		DataDir:  "/var/lib/mycelium/plugins/fake",
		Node: NodeInfo{
			PublicKey: testKey(3),
			Address:   netip.MustParseAddr("5ff:1::1"),
			Subnet:    netip.MustParsePrefix("5ff:1::/64"),
			Names:     []string{"node.mesh"},
			Services: []NodeService{
				{Plugin: "dav", Name: "davs", Protocol: "http", TLS: TLSImplicit,
					Overlay: netip.MustParseAddrPort("[5ff:1::1]:5233"), Loopback: netip.MustParseAddrPort("127.0.0.1:15233")},
				{Plugin: "fake", Name: "echo", Protocol: "echo", TLS: TLSNone,
					Overlay: netip.MustParseAddrPort("[5ff:1::1]:7"), Loopback: netip.MustParseAddrPort("127.0.0.1:17007")},
				{Plugin: "fake", Name: "echo-tls", Protocol: "echo", TLS: TLSImplicit,
					Overlay: netip.MustParseAddrPort("[5ff:1::1]:8")},
			},
		},
		TLS: &TLSMaterial{CertPEM: []byte("cert"), KeyPEM: []byte("key"), CAPEM: []byte("ca")},
		Services: map[string]ServiceBinding{
			"echo":     {Overlay: netip.MustParseAddrPort("[5ff:1::1]:7"), Loopback: netip.MustParseAddrPort("127.0.0.1:17007")},
			"echo-tls": {Overlay: netip.MustParseAddrPort("[5ff:1::1]:8")},
		},
	}
}

func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sdk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
