package mail

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mycelium-go/mycelium/plugins/sdk"
	"github.com/mycelium-go/mycelium/plugins/sdk/sdktest"
)

// serveExtra serves service on an extra TCP listener whose connections
// carry the given identity.
func serveExtra(t *testing.T, n *testNode, service string, origin sdk.Origin, key sdk.PublicKey) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n.a.Serve(ctx, service, sdktest.IdentityListener(ln, sdk.Peer{Key: key, Origin: origin, Service: service}))
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return ln.Addr().String()
}

func TestPlainAuthLoopbackSetting(t *testing.T) {
	for _, allow := range []bool{false, true} {
		n := startNode(t, nodeOpts{settings: map[string]any{"allow_plain_auth_loopback": allow}})
		alice := n.addUser("alice", "alice password")
		c, err := imapclient.DialInsecure(n.addr127(SvcIMAP), nil)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Login(alice, "alice password").Wait()
		c.Close()
		if (err == nil) != allow {
			t.Errorf("allow=%v: plain IMAP LOGIN on loopback = %v", allow, err)
		}
		sc, err := smtp.Dial(n.addr127(SvcSubmission))
		if err != nil {
			t.Fatal(err)
		}
		err = sc.Auth(sasl.NewPlainClient("", alice, "alice password"))
		sc.Close()
		if (err == nil) != allow {
			t.Errorf("allow=%v: plain SMTP AUTH on loopback = %v", allow, err)
		}
		// Overlay connections never get plain-text auth.
		addr := serveExtra(t, n, SvcIMAP, sdk.OriginOverlay, sdk.PublicKey{9})
		c, err = imapclient.DialInsecure(addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login(alice, "alice password").Wait(); err == nil {
			t.Errorf("allow=%v: plain IMAP LOGIN over the overlay accepted", allow)
		}
		c.Close()
	}
}

func TestOverlayPreAuth(t *testing.T) {
	friend, stranger := sdk.PublicKey{7}, sdk.PublicKey{8}
	n := startNode(t, nodeOpts{settings: map[string]any{"preauth": map[string]string{friend.String(): "alice"}}})
	n.addUser("alice", "alice password")
	for key, want := range map[sdk.PublicKey]bool{friend: true, stranger: false} {
		addr := serveExtra(t, n, SvcIMAPS, sdk.OriginOverlay, key)
		c, err := imapclient.DialTLS(addr, &imapclient.Options{TLSConfig: n.clientTLS()})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Select("INBOX", nil).Wait()
		if (err == nil) != want {
			t.Errorf("key %x: SELECT without LOGIN = %v, want ok=%v", key[0], err, want)
		}
		c.Close()
	}
}

func TestSizeLimit(t *testing.T) {
	n := startNode(t, nodeOpts{settings: map[string]any{"max_message_size": 4096}})
	alice := n.addUser("alice", "alice password")
	big := message(alice, alice, "big", strings.Repeat(strings.Repeat("x", 70)+"\r\n", 80))
	err := submit(t, n, alice, "alice password", alice, []string{alice}, big)
	if !hasCode(err, "5.3.4") {
		t.Fatalf("oversized message = %v, want 552 5.3.4", err)
	}
	if err := submit(t, n, alice, "alice password", alice, []string{alice}, message(alice, alice, "small", "ok")); err != nil {
		t.Fatalf("small message after a rejected one: %v", err)
	}
}

func TestQueueSurvivesRestart(t *testing.T) {
	fnet := newFakeNet()
	b := startNode(t, nodeOpts{net: fnet})
	bob := b.addUser("bob", "bob password")
	dir := t.TempDir()
	keyA, _ := testKey(t)
	set := map[string]any{"retry_initial": "50ms", "retry_max": "100ms"}
	a := startNode(t, nodeOpts{net: fnet, dir: dir, key: &keyA, settings: set})
	alice := a.addUser("alice", "alice password")
	fnet.setReachable(b.addr, false)
	if err := submit(t, a, alice, "alice password", alice, []string{bob}, message(alice, bob, "later", "queued across a restart")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a failed attempt", func() bool {
		due, _ := a.a.store.DueQueue(context.Background(), time.Now().Add(time.Hour), 10)
		return len(due) == 1 && due[0].Attempts > 0
	})
	a.stop()
	fnet.setReachable(b.addr, true)
	startNode(t, nodeOpts{net: fnet, dir: dir, key: &keyA, settings: set})
	waitFor(t, 10*time.Second, "delivery after restart", func() bool {
		msgs := inbox(t, b, bob, "bob password")
		return len(msgs) == 1 && strings.Contains(msgs[0], "queued across a restart")
	})
}

func TestSubmissionExtensions(t *testing.T) {
	n := startNode(t, nodeOpts{settings: map[string]any{"max_message_size": 1 << 20}})
	c, err := smtp.Dial(n.addr127(SvcSubmission))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{"STARTTLS", "8BITMIME", "SMTPUTF8", "PIPELINING", "ENHANCEDSTATUSCODES", "SIZE"} {
		if ok, _ := c.Extension(ext); !ok {
			t.Errorf("EHLO lacks %s before TLS", ext)
		}
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("AUTH offered before TLS")
	}
	c2, err := smtp.DialStartTLS(n.addr127(SvcSubmission), n.clientTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c = c2
	if ok, mechs := c.Extension("AUTH"); !ok || !strings.Contains(mechs, "PLAIN") || !strings.Contains(mechs, "LOGIN") {
		t.Errorf("AUTH after STARTTLS = %v %q, want PLAIN and LOGIN", ok, mechs)
	}
	if _, size := c.Extension("SIZE"); size != "1048576" {
		t.Errorf("SIZE = %q", size)
	}
}

func TestSMTPUTF8(t *testing.T) {
	n := startNode(t, nodeOpts{})
	jurgen := n.addUser("jürgen", "jürgen password")
	// Case-insensitive local part, UTF-8 envelope (SMTPUTF8) and header.
	upper := "JÜRGEN@" + n.domain
	if err := submit(t, n, upper, "jürgen password", upper, []string{jurgen},
		message("Jürgen <"+upper+">", jurgen, "Grüße", "ünïcödé body")); err != nil {
		t.Fatalf("UTF-8 submission: %v", err)
	}
	msgs := inbox(t, n, jurgen, "jürgen password")
	if len(msgs) != 1 || !strings.Contains(msgs[0], "ünïcödé body") {
		t.Fatalf("inbox = %q", msgs)
	}
}
