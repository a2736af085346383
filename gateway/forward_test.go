package gateway

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/gateway/acl"
)

// TestForwardReachesRemoteService: a local port forwarded to a service on
// another node reaches it, the remote plugin sees the forwarding node's
// key, and half-closes cross the forward and the hand-off.
func TestForwardReachesRemoteService(t *testing.T) {
	for name, mk := range nets(t) {
		t.Run(name, func(t *testing.T) {
			tn := mk(t)
			clientKey := friendKey
			id := newIdentity(serverKey, clientKey)
			srvCfg := whoamiConfig()
			srvCfg.Plugins = append(srvCfg.Plugins, testPluginConfig(services("echo", 9)))
			srvCfg.Policy["echo"] = acl.Rule{Allow: []string{clientKey.String()}}
			startNode(t, serverKey, tn.overlay(t, serverKey), id, srvCfg)

			whoamiPort, echoPort := freePort(t), freePort(t)
			client := startNode(t, clientKey, tn.overlay(t, clientKey), id, Config{Forwards: []ForwardConfig{
				{Local: fmt.Sprintf("127.0.0.1:%d", whoamiPort), Remote: serverKey.String() + ":7"},
				{Local: fmt.Sprintf("127.0.0.1:%d", echoPort), Remote: fmt.Sprintf("[%s]:9", identity.AddressOf(serverKey))},
			}})

			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", whoamiPort))
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(c, "")
			if err != nil || !strings.HasPrefix(got, "key="+clientKey.String()+" addr=["+identity.AddressOf(clientKey).String()+"]:") {
				t.Fatalf("through the forward whoami said %q, %v; want the forwarding node's key", got, err)
			}

			payload := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
			e, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", echoPort))
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			_ = e.SetDeadline(time.Now().Add(20 * time.Second))
			errc := make(chan error, 1)
			go func() {
				_, err := e.Write(payload)
				if err == nil {
					err = e.(*net.TCPConn).CloseWrite()
				}
				errc <- err
			}()
			back, err := io.ReadAll(e)
			if err != nil || !bytes.Equal(back, payload) {
				t.Fatalf("echo through forward: %d bytes back (want %d), %v", len(back), len(payload), err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			fs := client.g.Status().Forwards
			if len(fs) != 2 || fs[0].Accepted != 1 || fs[0].Target != netip.AddrPortFrom(identity.AddressOf(serverKey), 7).String() {
				t.Errorf("forward status %+v", fs)
			}
		})
	}
}

func TestParseForward(t *testing.T) {
	k := key(0x44)
	tests := []struct {
		local, remote string
		want          string // target, or error substring
		ok            bool
	}{
		{"127.0.0.1:1143", k.String() + ":143", "[" + identity.AddressOf(k).String() + "]:143", true},
		{"[::1]:1143", "[4ab::1]:143", "[4ab::1]:143", true},
		{"0.0.0.0:1143", "[4ab::1]:143", "loopback", false},
		{"127.0.0.1:0", "[4ab::1]:143", "loopback", false},
		{"localhost:1", "[4ab::1]:143", "want 127.0.0.1", false},
		{"127.0.0.1:1143", "[2001:db8::1]:143", "not an overlay address", false},
		{"127.0.0.1:1143", k.String(), "want <public key>:port", false},
		{"127.0.0.1:1143", k.String() + ":0", "bad port", false},
		{"127.0.0.1:1143", "zz" + k.String()[2:] + ":1", "not a public key", false},
		{"127.0.0.1:1143", "mail.example:25", "want <public key>:port", false},
	}
	for _, tt := range tests {
		spec, err := parseForward(ForwardConfig{Local: tt.local, Remote: tt.remote})
		if tt.ok {
			if err != nil || spec.remote.String() != tt.want {
				t.Errorf("parseForward(%s, %s) = %v, %v; want %s", tt.local, tt.remote, spec.remote, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseForward(%s, %s) error = %v, want one mentioning %q", tt.local, tt.remote, err, tt.want)
		}
	}
}

// FuzzParseForward: forward parsing never panics, and an accepted forward
// has a loopback local address and an overlay target with a port.
func FuzzParseForward(f *testing.F) {
	k := key(0x44).String()
	for _, s := range [][2]string{
		{"127.0.0.1:1143", k + ":143"}, {"[::1]:1143", "[4ab::1]:143"}, {"0.0.0.0:1", "[4ab::1]:1"},
		{"127.0.0.1:1", k}, {"127.0.0.1:1", "[2001:db8::1]:1"}, {"", ""}, {"127.0.0.1:1", "[4ab::1%eth0]:1"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, local, remote string) {
		spec, err := parseForward(ForwardConfig{Local: local, Remote: remote})
		if err != nil {
			return
		}
		if !spec.local.Addr().IsLoopback() || spec.local.Port() == 0 || spec.remote.Port() == 0 || !identity.InOverlay(spec.remote.Addr()) {
			t.Fatalf("parseForward(%q, %q) accepted %+v", local, remote, spec)
		}
	})
}
