package gateway

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/identity"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// TestHostCallbacks drives every host callback from inside a real plugin
// process: identity lookups, route metric, message bus, and dialing the
// overlay through the dial-out socket.
func TestHostCallbacks(t *testing.T) {
	f := newFabric()
	id := newIdentity(serverKey, friendKey)
	friendAddr := identity.AddressOf(friendKey)
	id.metrics[friendAddr] = 42
	bus := newBus()
	lp := freePort(t)
	cfg := Config{Plugins: []PluginConfig{testPluginConfig(map[string]ServiceConfig{
		"host": {Loopback: loopback(fmt.Sprintf("127.0.0.1:%d", lp))},
	})}}
	n := startNode(t, serverKey, f.node(serverKey), id, cfg, func(d *Deps) { d.Bus = bus })
	if n.g.Status().DialOut == "" {
		t.Error("status shows no dial-out socket")
	}

	ln, err := f.node(friendKey).Listen(context.Background(), 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "hello from %s", c.RemoteAddr())
			_ = c.Close()
		}
	}()

	cmd := func(line string) string {
		t.Helper()
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", lp))
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(c, line+"\n")
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return strings.TrimSpace(got)
	}
	serverAddr := identity.AddressOf(serverKey)
	tests := []struct{ line, want string }{
		{"lookup " + friendAddr.String(), "ok " + friendKey.String()},
		{"lookup " + serverAddr.String(), "ok " + serverKey.String()},
		{"lookup 5ff::1", "error: not found"},
		{"addressof " + friendKey.String(), "ok " + friendAddr.String()},
		{"metric " + friendAddr.String(), "ok 42"},
		{"metric 5ff::1", "error: not found"},
		{"send " + friendKey.String() + " chat hi", "ok 0000000000000001"},
		{"dial " + netip.AddrPortFrom(friendAddr, 5).String(), "ok hello from [" + serverAddr.String() + "]:"},
		{"dial [5ff::1]:5", "error:"},
		{"dial " + hexHost(friendAddr) + ":5", "ok hello from [" + serverAddr.String() + "]:"},
	}
	for _, tt := range tests {
		if got := cmd(tt.line); !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.line, got, tt.want)
		}
	}
	if len(bus.sent) != 1 || bus.sent[0].Dst != sdk.PublicKey(friendKey) || string(bus.sent[0].Payload) != "hi" {
		t.Errorf("bus got %+v", bus.sent)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		bus.Deliver(sdk.InboundMessage{Src: sdk.PublicKey(friendKey), Topic: []byte("other"), Payload: []byte("not this")})
		bus.Deliver(sdk.InboundMessage{Src: sdk.PublicKey(friendKey), Topic: []byte("chat"), Payload: []byte("hello")})
	}()
	if got := cmd("recv chat"); got != "ok "+friendKey.String()+" hello" {
		t.Errorf("recv chat: %q", got)
	}
}

// hexHost is the mail-domain form of an address, which the dial-out
// server resolves without DNS.
func hexHost(a netip.Addr) string {
	b := a.As16()
	return hex.EncodeToString(b[:]) + ".mycelium.internal"
}

// TestMessageTopicsAreIsolated: a topic belongs to the first plugin that
// receives on it, until that plugin goes away.
func TestMessageTopicsAreIsolated(t *testing.T) {
	bus := newBus()
	n := startNode(t, serverKey, newFabric().node(serverKey), newIdentity(), Config{}, func(d *Deps) { d.Bus = bus })
	a, b := &hostServer{g: n.g, plugin: "a"}, &hostServer{g: n.g, plugin: "b"}
	bus.Deliver(sdk.InboundMessage{Topic: []byte("t"), Payload: []byte("1")})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if m, err := a.ReceiveMessage(ctx, []byte("t")); err != nil || string(m.Payload) != "1" {
		t.Fatalf("a: %+v, %v", m, err)
	}
	if _, err := b.ReceiveMessage(ctx, []byte("t")); !errors.Is(err, ErrTopicTaken) {
		t.Errorf("b on a's topic: %v, want ErrTopicTaken", err)
	}
	if _, err := b.ReceiveMessage(ctx, nil); err == nil {
		t.Error("receiving without a topic succeeded")
	}
	n.g.releaseClaims("a")
	bus.Deliver(sdk.InboundMessage{Topic: []byte("t"), Payload: []byte("2")})
	if m, err := b.ReceiveMessage(ctx, []byte("t")); err != nil || string(m.Payload) != "2" {
		t.Errorf("b after a left: %+v, %v", m, err)
	}
	noBus := &hostServer{g: &Gateway{}, plugin: "c"}
	if _, err := noBus.SendMessage(ctx, sdk.OutboundMessage{}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("send without a bus: %v", err)
	}
}
