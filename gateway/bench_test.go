package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/gateway/acl"
)

// benchNode starts a gateway with the test plugin's sink and ident
// services on a loopback port (kernel sockets: the fd path) and on the
// fabric overlay (wrapped connections: the splice path). With opaque, the
// spliced connections hide their kernel socket, so the gateway copies in
// user space as it must for the userspace stack's connections.
func benchNode(b *testing.B, opaque bool) (dial func(path, service string) (net.Conn, error)) {
	f := newFabric()
	f.opaque = opaque
	sinkPort, identPort := freePort(b), freePort(b)
	cfg := Config{
		Plugins: []PluginConfig{testPluginConfig(map[string]ServiceConfig{
			"sink":  {Port: port(9), Loopback: loopback(fmt.Sprintf("127.0.0.1:%d", sinkPort))},
			"ident": {Port: port(10), Loopback: loopback(fmt.Sprintf("127.0.0.1:%d", identPort))},
		})},
		Policy: map[string]acl.Rule{"sink": {Allow: []string{"*"}}, "ident": {Allow: []string{"*"}}},
	}
	startNode(b, serverKey, f.node(serverKey), newIdentity(serverKey, friendKey), cfg)
	friend := f.node(friendKey)
	srv := identity.AddressOf(serverKey)
	return func(path, service string) (net.Conn, error) {
		ports := map[string][2]uint16{"sink": {sinkPort, 9}, "ident": {identPort, 10}}[service]
		if path == "fd" {
			return net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0]))
		}
		return friend.Dial(context.Background(), "tcp", netip.AddrPortFrom(srv, ports[1]).String())
	}
}

// BenchmarkHandoffBulk: one TCP stream through the gateway into a plugin
// that counts the bytes; MB/s is the hand-off's throughput.
// The netstack case is end to end through two userspace stacks (gVisor
// on both sides, in-memory wire), for scale: the stack, not the hand-off,
// limits it.
func BenchmarkHandoffBulk(b *testing.B) {
	dial := benchNode(b, false)
	opaqueDial := benchNode(b, true)
	netstackDial := benchNetstack(b)
	buf := make([]byte, 256<<10)
	for _, path := range []string{"fd", "splice", "splice-usercopy", "netstack"} {
		b.Run(path, func(b *testing.B) {
			dial := dial
			switch path {
			case "splice-usercopy":
				dial, path = opaqueDial, "splice"
			case "netstack":
				dial, path = netstackDial, "splice"
			}
			c, err := dial(path, "sink")
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
				b.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(time.Minute))
			line, err := bufio.NewReader(c).ReadString('\n')
			b.StopTimer()
			n, _ := strconv.Atoi(strings.TrimSpace(line))
			if err != nil || n != b.N*len(buf) {
				b.Fatalf("plugin counted %q, %v; want %d", line, err, b.N*len(buf))
			}
		})
	}
}

// benchNetstack is benchNode's splice path over two userspace stacks.
func benchNetstack(b *testing.B) (dial func(path, service string) (net.Conn, error)) {
	tn := newNetstackHub(b)
	cfg := Config{
		Plugins: []PluginConfig{testPluginConfig(services("sink", 9, "ident", 10))},
		Policy:  map[string]acl.Rule{"sink": {Allow: []string{"*"}}, "ident": {Allow: []string{"*"}}},
	}
	startNode(b, serverKey, tn.overlay(b, serverKey), newIdentity(serverKey, friendKey), cfg)
	friend := tn.overlay(b, friendKey)
	srv := identity.AddressOf(serverKey)
	return func(_, service string) (net.Conn, error) {
		p := map[string]uint16{"sink": 9, "ident": 10}[service]
		return friend.Dial(context.Background(), "tcp", netip.AddrPortFrom(srv, p).String())
	}
}

// BenchmarkHandoffConns: new connections through the gateway, each
// answered by the plugin and closed; conns/s is reported.
func BenchmarkHandoffConns(b *testing.B) {
	dial := benchNode(b, false)
	netstackDial := benchNetstack(b)
	for _, path := range []string{"fd", "splice", "netstack"} {
		b.Run(path, func(b *testing.B) {
			dial := dial
			if path == "netstack" {
				dial = netstackDial
			}
			b.ReportAllocs()
			start := time.Now()
			for range b.N {
				c, err := dial(path, "ident")
				if err != nil {
					b.Fatal(err)
				}
				got, err := io.ReadAll(c)
				_ = c.Close()
				if err != nil || !strings.HasPrefix(string(got), "key=") {
					b.Fatalf("answer %q, %v", got, err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "conns/s")
		})
	}
}
