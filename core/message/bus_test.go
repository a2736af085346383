package message

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/core/metrics"
	"github.com/mycelium-go/mycelium/core/wire"
)

// pop waits up to d for a message on n.
func pop(t *testing.T, n *memNode, topic []byte, d time.Duration) *Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	m, ok := n.bus.Pop(ctx, topic, topic != nil, false)
	if !ok {
		t.Fatalf("no message within %v", d)
	}
	return m
}

// waitState polls the status of id until it is want.
func waitState(t *testing.T, n *memNode, id wire.MessageID, want State, d time.Duration) Status {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		s, ok := n.bus.Status(id)
		if ok && s.State == want {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("Status(%s) = %+v, %v; want state %q", id, s, ok, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPushPopReply(t *testing.T) {
	n := newMemNet()
	a, b := n.add(t, nil), n.add(t, nil)
	topic := []byte("chat")

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	type result struct {
		id  wire.MessageID
		msg *Message
		err error
	}
	done := make(chan result, 1)
	go func() {
		id, msg, err := a.bus.PushWait(ctx, Outgoing{Dst: b.addr(), Topic: topic, Payload: []byte("hello")})
		done <- result{id, msg, err}
	}()

	m := pop(t, b, topic, 5*time.Second)
	if string(m.Payload) != "hello" || !bytes.Equal(m.Topic, topic) || m.Reply {
		t.Fatalf("B popped %+v", m)
	}
	if m.SrcIP != a.addr() || m.SrcPK != a.kp.Public() || m.DstIP != b.addr() || m.DstPK != b.kp.Public() {
		t.Errorf("B popped addresses %s %s -> %s %s", m.SrcIP, m.SrcPK, m.DstIP, m.DstPK)
	}
	if err := b.bus.Reply(m.ID, m.SrcIP, []byte("world")); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("PushWait: %v", r.err)
	}
	if r.id != m.ID || !r.msg.Reply || string(r.msg.Payload) != "world" || r.msg.SrcIP != b.addr() {
		t.Fatalf("reply = %+v (id %s)", r.msg, r.id)
	}
	// A read the message: its status goes to "read" once READ arrives.
	waitState(t, a, r.id, StateRead, 5*time.Second)
}

func TestReplyToInboxWithoutWaiter(t *testing.T) {
	n := newMemNet()
	a, b := n.add(t, nil), n.add(t, nil)
	id, err := a.bus.Push(Outgoing{Dst: b.addr(), Payload: []byte("ping")})
	if err != nil {
		t.Fatal(err)
	}
	m := pop(t, b, nil, 5*time.Second)
	if err := b.bus.Reply(m.ID, m.SrcIP, []byte("pong")); err != nil {
		t.Fatal(err)
	}
	r := pop(t, a, nil, 5*time.Second)
	if r.ID != id || !r.Reply || string(r.Payload) != "pong" {
		t.Fatalf("A popped %+v", r)
	}
}

func TestLargeMessageIntact(t *testing.T) {
	for _, size := range []int{1 << 20, 1400, 1300*3 + 100, 0, 1, 249, 250, 1300, 1301} {
		n := newMemNet()
		a, b := n.add(t, nil), n.add(t, nil)
		data := make([]byte, size)
		rand.Read(data)
		id, err := a.bus.Push(Outgoing{Dst: b.addr(), Payload: data})
		if err != nil {
			t.Fatal(err)
		}
		m := pop(t, b, nil, 20*time.Second)
		if m.ID != id || !bytes.Equal(m.Payload, data) {
			t.Fatalf("size %d: payload of %d bytes differs", size, len(m.Payload))
		}
	}
}

func TestLossyNetwork(t *testing.T) {
	n := newMemNet()
	n.loss = 0.05
	n.delay = time.Millisecond
	a, b := n.add(t, nil), n.add(t, nil)
	data := make([]byte, 200_000)
	rand.Read(data)
	id, err := a.bus.Push(Outgoing{Dst: b.addr(), Payload: data})
	if err != nil {
		t.Fatal(err)
	}
	m := pop(t, b, nil, 30*time.Second)
	if !bytes.Equal(m.Payload, data) {
		t.Fatal("payload differs")
	}
	waitState(t, a, id, StateRead, 30*time.Second)
	if a.bus.c.retransmits.Load() == 0 {
		t.Error("no retransmissions on a lossy network")
	}
}

func TestWhitelistBlocksOutsider(t *testing.T) {
	n := newMemNet()
	a, b, c := n.add(t, nil), n.add(t, nil), n.add(t, nil)
	topic := []byte("private")
	if err := b.bus.AddTopicSource(topic, c.kp.Subnet()); err != nil {
		t.Fatal(err)
	}
	idA, err := a.bus.Push(Outgoing{Dst: b.addr(), Topic: topic, Payload: []byte("from a")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.bus.Push(Outgoing{Dst: b.addr(), Topic: topic, Payload: []byte("from c")}); err != nil {
		t.Fatal(err)
	}
	m := pop(t, b, topic, 5*time.Second)
	if m.SrcIP != c.addr() {
		t.Fatalf("popped a message from %s, want %s", m.SrcIP, c.addr())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if m, ok := b.bus.Pop(ctx, nil, false, false); ok {
		t.Fatalf("message from outside the whitelist arrived: %+v", m)
	}
	if s, _ := a.bus.Status(idA); s.State != StatePending {
		t.Errorf("outsider's message state = %q, want pending (silently dropped)", s.State)
	}
	if b.bus.c.drops[dropACL].Load() == 0 {
		t.Error("no ACL drop counted")
	}
}

func TestDefaultReject(t *testing.T) {
	n := newMemNet()
	a := n.add(t, nil)
	b := n.add(t, func(c *Config) { c.Topics.DefaultAccept = false })
	if _, err := a.bus.Push(Outgoing{Dst: b.addr(), Topic: []byte("x"), Payload: []byte("no"), Timeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	for b.bus.c.drops[dropACL].Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	b.bus.SetDefaultAccept(true)
	if _, err := a.bus.Push(Outgoing{Dst: b.addr(), Topic: []byte("x"), Payload: []byte("yes")}); err != nil {
		t.Fatal(err)
	}
	if m := pop(t, b, nil, 5*time.Second); string(m.Payload) != "yes" {
		t.Fatalf("popped %q", m.Payload)
	}
}

func TestDeadlineAborts(t *testing.T) {
	n := newMemNet()
	a := n.add(t, nil)
	b := n.add(t, func(c *Config) { c.Topics.DefaultAccept = false }) // drops every INIT
	id, err := a.bus.Push(Outgoing{Dst: b.addr(), Payload: []byte("x"), Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := waitState(t, a, id, StateAborted, 5*time.Second)
	if got := s.Deadline.Sub(s.Created); got != 300*time.Millisecond {
		t.Errorf("deadline - created = %v, want 300ms", got)
	}
	// The counter is bumped when the transfer's goroutine finishes, just
	// after the state becomes visible.
	for end := time.Now().Add(2 * time.Second); a.bus.c.aborted.Load() != 1 && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
	if a.bus.c.aborted.Load() != 1 {
		t.Errorf("aborted counter = %d", a.bus.c.aborted.Load())
	}
}

func TestRefusedWhenInboxFull(t *testing.T) {
	n := newMemNet()
	a := n.add(t, nil)
	b := n.add(t, func(c *Config) { c.MaxTopicMessages = 1 })
	first, _ := a.bus.Push(Outgoing{Dst: b.addr(), Topic: []byte("t"), Payload: []byte("1")})
	waitState(t, a, first, StateReceived, 5*time.Second)
	second, _ := a.bus.Push(Outgoing{Dst: b.addr(), Topic: []byte("t"), Payload: []byte("2")})
	waitState(t, a, second, StateAborted, 5*time.Second)
	// Another topic still has room.
	third, _ := a.bus.Push(Outgoing{Dst: b.addr(), Topic: []byte("u"), Payload: []byte("3")})
	waitState(t, a, third, StateReceived, 5*time.Second)
	// Popping frees the room.
	pop(t, b, []byte("t"), time.Second)
	fourth, _ := a.bus.Push(Outgoing{Dst: b.addr(), Topic: []byte("t"), Payload: []byte("4")})
	waitState(t, a, fourth, StateReceived, 5*time.Second)
}

func TestRefusedTooLarge(t *testing.T) {
	n := newMemNet()
	a := n.add(t, nil)
	b := n.add(t, func(c *Config) { c.MaxMessageSize = 1000; c.MaxInboxBytes = 1000; c.MaxTopicBytes = 1000 })
	id, err := a.bus.Push(Outgoing{Dst: b.addr(), Payload: make([]byte, 5000)})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, a, id, StateAborted, 5*time.Second)
	if _, err := b.bus.Push(Outgoing{Dst: a.addr(), Payload: make([]byte, 1001)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Push(too large) = %v, want ErrTooLarge", err)
	}
}

func TestPeekAndTopicFilter(t *testing.T) {
	n := newMemNet()
	a, b := n.add(t, nil), n.add(t, nil)
	for _, m := range []struct{ topic, body string }{{"x", "1"}, {"y", "2"}, {"", "3"}} {
		id, _ := a.bus.Push(Outgoing{Dst: b.addr(), Topic: []byte(m.topic), Payload: []byte(m.body)})
		waitState(t, a, id, StateReceived, 5*time.Second)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // no waiting: every Pop looks once
	if m, ok := b.bus.Pop(ctx, []byte("y"), true, true); !ok || string(m.Payload) != "2" {
		t.Fatalf("peek y = %+v %v", m, ok)
	}
	if m, ok := b.bus.Pop(ctx, []byte("y"), true, false); !ok || string(m.Payload) != "2" {
		t.Fatalf("pop y = %+v %v", m, ok)
	}
	if _, ok := b.bus.Pop(ctx, []byte("xx"), true, false); ok {
		t.Fatal("topic filter matched a prefix; want exact match")
	}
	if m, ok := b.bus.Pop(ctx, nil, false, false); !ok || string(m.Payload) != "1" {
		t.Fatalf("pop any = %+v %v", m, ok)
	}
	if m, ok := b.bus.Pop(ctx, []byte{}, true, false); !ok || string(m.Payload) != "3" {
		t.Fatalf("pop empty topic = %+v %v", m, ok)
	}
}

func TestMessageToSelf(t *testing.T) {
	n := newMemNet()
	a := n.add(t, nil)
	if _, err := a.bus.Push(Outgoing{Dst: a.addr(), Payload: []byte("me")}); err != nil {
		t.Fatal(err)
	}
	if m := pop(t, a, nil, 5*time.Second); string(m.Payload) != "me" || m.SrcIP != a.addr() {
		t.Fatalf("popped %+v", m)
	}
}

func TestForwardSocket(t *testing.T) {
	n := newMemNet()
	a, b := n.add(t, nil), n.add(t, nil)
	sock := filepath.Join(t.TempDir(), "fwd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// Reads to EOF first, as the reference's docs example does:
			// works because the bus half-closes.
			var buf bytes.Buffer
			buf.ReadFrom(c)
			c.Write(append([]byte("echo:"), buf.Bytes()...))
			c.Close()
		}
	}()
	topic := []byte("svc")
	b.bus.AddTopicSource(topic, netip.MustParsePrefix("400::/7"))
	b.bus.SetForwardSocket(topic, sock)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, r, err := a.bus.PushWait(ctx, Outgoing{Dst: b.addr(), Topic: topic, Payload: []byte("hi")})
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Payload) != "echo:hi" {
		t.Fatalf("reply %q", r.Payload)
	}

	// A socket that does not answer: the message lands in the inbox.
	b.bus.SetForwardSocket(topic, filepath.Join(t.TempDir(), "missing.sock"))
	if _, err := a.bus.Push(Outgoing{Dst: b.addr(), Topic: topic, Payload: []byte("queued")}); err != nil {
		t.Fatal(err)
	}
	if m := pop(t, b, topic, 5*time.Second); string(m.Payload) != "queued" {
		t.Fatalf("popped %q", m.Payload)
	}
}

func TestPushWaitTimeout(t *testing.T) {
	n := newMemNet()
	a, b := n.add(t, nil), n.add(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	id, m, err := a.bus.PushWait(ctx, Outgoing{Dst: b.addr(), Payload: []byte("?")})
	if !errors.Is(err, context.DeadlineExceeded) || m != nil {
		t.Fatalf("PushWait = %v, %v", m, err)
	}
	// A late reply goes to the inbox.
	in := pop(t, b, nil, 5*time.Second)
	b.bus.Reply(in.ID, in.SrcIP, []byte("late"))
	if r := pop(t, a, nil, 5*time.Second); r.ID != id || string(r.Payload) != "late" {
		t.Fatalf("popped %+v", r)
	}
}

func TestPushValidation(t *testing.T) {
	n := newMemNet()
	a := n.add(t, nil)
	tests := []struct {
		name string
		m    Outgoing
		want error
	}{
		{"topic too large", Outgoing{Dst: a.addr(), Topic: make([]byte, 256)}, ErrTopicTooLarge},
		{"not overlay", Outgoing{Dst: netip.MustParseAddr("2001:db8::1")}, ErrDestination},
		{"invalid address", Outgoing{}, ErrDestination},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := a.bus.Push(tt.m); !errors.Is(err, tt.want) {
				t.Errorf("Push = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestBusyOutbound(t *testing.T) {
	n := newMemNet()
	a := n.add(t, func(c *Config) { c.MaxOutbound = 2 })
	b := n.add(t, func(c *Config) { c.Topics.DefaultAccept = false })
	for range 2 {
		if _, err := a.bus.Push(Outgoing{Dst: b.addr(), Payload: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.bus.Push(Outgoing{Dst: b.addr(), Payload: []byte("x")}); !errors.Is(err, ErrBusy) {
		t.Fatalf("third Push = %v, want ErrBusy", err)
	}
}

func TestPendingExpires(t *testing.T) {
	n := newMemNet()
	b := n.add(t, func(c *Config) { c.PendingTimeout = 100 * time.Millisecond })
	src := identityAddr(t)
	frame := wire.AppendMessageInit(nil, wire.MessageID{1}, 0, 5000, nil)
	b.bus.Handle(src, b.addr(), frame)
	if got := pendingCount(b.bus); got != 1 {
		t.Fatalf("pending = %d", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for pendingCount(b.bus) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("pending transfer never expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, total := b.bus.inbox.stats(); total != (usage{}) {
		t.Errorf("reservation leaked: %+v", total)
	}
}

func pendingCount(b *Bus) int {
	b.in.mu.Lock()
	defer b.in.mu.Unlock()
	return len(b.in.m)
}

func TestSamplesExport(t *testing.T) {
	n := newMemNet()
	a := n.add(t, nil)
	e := metrics.NewExporter()
	e.Add(a.bus.Samples)
	reg := e.Registry()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	found := map[string]string{}
	for _, f := range fams {
		found[f.GetName()] = f.GetType().String()
	}
	for name, typ := range map[string]string{
		"mycelium_message_inbox_messages": "GAUGE",
		"mycelium_message_dropped":        "COUNTER",
		"mycelium_message_frames":         "COUNTER",
		"mycelium_message_outbound_bytes": "GAUGE",
	} {
		if found[name] != typ {
			t.Errorf("%s: type %q, want %s", name, found[name], typ)
		}
	}
}
