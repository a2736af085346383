package api_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/api"
	"github.com/mycelium-go/mycelium/core/api/apitest"
)

func TestClient(t *testing.T) {
	h := apitest.Start(t, nil)
	c := api.NewClient(h.Addr, "")
	ctx := t.Context()
	if info, err := c.Info(ctx); err != nil || info.NodePubkey != h.A.Key.Public().String() {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if err := c.AddPeer(ctx, "tcp://192.0.2.1:9651"); err != nil {
		t.Fatal(err)
	}
	err := c.AddPeer(ctx, "tcp://192.0.2.1:9651")
	var apiErr *api.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 409 || err.Error() != "peer tcp://192.0.2.1:9651 already exists" {
		t.Errorf("AddPeer twice = %v", err)
	}
	if err := c.RemovePeer(ctx, "tcp://192.0.2.1:9651"); err != nil {
		t.Fatal(err)
	}
	if err := c.RemovePeer(ctx, "tcp://192.0.2.1:9651"); err == nil || err.Error() != "peer tcp://192.0.2.1:9651 is not known" {
		t.Errorf("RemovePeer twice = %v", err)
	}
	if peers, err := c.Peers(ctx); err != nil || len(peers) != 1 {
		t.Errorf("Peers = %+v, %v", peers, err)
	}
	for name, f := range map[string]func() error{
		"selected": func() error { _, err := c.SelectedRoutes(ctx); return err },
		"fallback": func() error { _, err := c.FallbackRoutes(ctx); return err },
		"queried":  func() error { _, err := c.QueriedSubnets(ctx); return err },
		"stats":    func() error { _, err := c.PacketStatistics(ctx); return err },
		"proxies":  func() error { _, err := c.Proxies(ctx); return err },
		"topics":   func() error { _, err := c.Topics(ctx); return err },
	} {
		if err := f(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if pk, err := c.PublicKey(ctx, h.B.Addr().String()); err != nil || pk != h.B.Key.Public().String() {
		t.Errorf("PublicKey = %q, %v", pk, err)
	}
	if _, err := c.PublicKey(ctx, "400::1"); err == nil || err.Error() != "no public key known for 400::1" {
		t.Errorf("PublicKey(unknown) = %v", err)
	}

	// Push, reply, pop and status through the client.
	pkB := h.B.Key.Public()
	id, reply, err := c.PushMessage(ctx, api.PushMessageBody{Dst: api.MessageDestination{PK: &pkB}, Payload: []byte("hi")}, nil)
	if err != nil || len(id) != 16 || reply != nil {
		t.Fatalf("PushMessage = %q %v %v", id, reply, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, ok := h.B.Bus.Pop(pctx, nil, false, false)
	if !ok {
		t.Fatal("B got nothing")
	}
	h.B.Bus.Reply(m.ID, m.SrcIP, []byte("yo"))
	in, err := c.PopMessage(ctx, false, 5*time.Second, nil)
	if err != nil || in == nil || string(in.Payload) != "yo" || in.ID != id {
		t.Fatalf("PopMessage = %+v, %v", in, err)
	}
	if in, err := c.PopMessage(ctx, false, 0, []byte("x")); err != nil || in != nil {
		t.Errorf("PopMessage(empty) = %+v, %v", in, err)
	}
	if st, err := c.MessageStatus(ctx, id); err != nil || st.MsgLen != 2 {
		t.Errorf("MessageStatus = %+v, %v", st, err)
	}
	if _, err := c.MessageStatus(ctx, "zz"); err == nil || !strings.Contains(err.Error(), "16 hex digits") {
		t.Errorf("MessageStatus(bad) = %v", err)
	}
	if err := c.ReplyMessage(ctx, m.ID.String(), api.PushMessageBody{Dst: api.MessageDestination{PK: &pkB}, Payload: []byte("r")}); err != nil {
		t.Errorf("ReplyMessage: %v", err)
	}
	timeout := time.Duration(0)
	if id, reply, err := c.PushMessage(ctx, api.PushMessageBody{Dst: api.MessageDestination{PK: &pkB}}, &timeout); err != nil || reply != nil || id == "" {
		t.Errorf("PushMessage with timeout = %q %v %v", id, reply, err)
	}
}

func TestClientUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = api.NewClient(addr, "").Info(t.Context())
	if err == nil || err.Error() != "cannot reach the node's API at "+addr+": is the node running?" {
		t.Errorf("Info on a closed port = %v", err)
	}
}
