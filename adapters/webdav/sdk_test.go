package webdav

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/mycelium-go/mycelium/plugins/sdk"
	"github.com/mycelium-go/mycelium/plugins/sdk/sdktest"
)

// TestThroughSDKHarness runs the plugin behind the SDK's real data plane
// (preamble, data socket, demultiplexer): an overlay peer over plain
// HTTP, and a loopback user over implicit TLS with Basic auth, as the
// gateway hands them over.
func TestThroughSDKHarness(t *testing.T) {
	a := New("test", testLogger(t))
	t.Cleanup(func() { a.Close() })
	h := sdktest.Start(t, a, sdktest.Options{
		Settings: map[string]any{"shared": []map[string]any{{"name": "team", "members": []string{"alice", sdktest.Key(1).String()}}}},
		TLS:      sdktest.TLS(t, "localhost"),
	})
	env := sdk.CommandEnv{Config: h.Config, Stdin: strings.NewReader("alice-password\n"), Stdout: io.Discard, Stderr: io.Discard}
	if err := a.RunCommand(context.Background(), env, []string{"adduser", "alice"}); err != nil {
		t.Fatal(err)
	}
	client := func(service string, peer sdk.Peer, tlsCfg *tls.Config) *http.Client {
		return &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return h.Dial(ctx, service, peer) },
			DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				c, err := h.Dial(ctx, service, peer)
				if err != nil {
					return nil, err
				}
				return tls.Client(c, tlsCfg), nil
			},
		}}
	}
	send := func(c *http.Client, method, url, body, auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		if auth != "" {
			user, pass, _ := strings.Cut(auth, ":")
			req.SetBasicAuth(user, pass)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	peer := client(ServiceHTTP, sdktest.Peer(1), nil)
	if code, _ := send(peer, "PUT", "http://node/shared/team/hello.txt", "from the overlay", ""); code != 201 {
		t.Fatalf("overlay PUT = %d", code)
	}
	local := client(ServiceHTTPS, sdktest.LoopbackPeer(), h.TLSClientConfig())
	if code, _ := send(local, "GET", "https://localhost/shared/team/hello.txt", "", ""); code != 401 {
		t.Errorf("loopback GET without password = %d, want 401", code)
	}
	code, body := send(local, "GET", "https://localhost/shared/team/hello.txt", "", "alice:alice-password")
	if code != 200 || body != "from the overlay" {
		t.Errorf("loopback GET = %d %q", code, body)
	}
	if code, _ := send(client(ServiceHTTP, sdktest.Peer(2), nil), "GET", "http://node/shared/team/hello.txt", "", ""); code != 404 {
		t.Errorf("non-member GET = %d, want 404", code)
	}
}
