package mail

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mycelium-go/mycelium/adapters/mail/addr"
)

// submit sends one message through node n's implicit-TLS submission port.
func submit(t testing.TB, n *testNode, user, pass, from string, to []string, body string) error {
	t.Helper()
	c, err := smtp.DialTLS(n.addr127(SvcSubmissions), n.clientTLS())
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", user, pass)); err != nil {
		return err
	}
	return c.SendMail(from, to, strings.NewReader(body))
}

func message(from, to, subject, body string) string {
	return fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%d@test>\r\n\r\n%s\r\n",
		from, to, subject, time.Now().Format(time.RFC1123Z), time.Now().UnixNano(), body)
}

// inbox logs in over IMAPS and returns the full bodies in INBOX.
func inbox(t testing.TB, n *testNode, user, pass string) []string {
	t.Helper()
	c, err := imapclient.DialTLS(n.addr127(SvcIMAPS), &imapclient.Options{TLSConfig: n.clientTLS()})
	if err != nil {
		t.Fatalf("imap dial: %v", err)
	}
	defer c.Close()
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatalf("imap login: %v", err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatalf("select: %v", err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1, sel.NumMessages), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	var out []string
	for _, m := range msgs {
		for _, b := range m.BodySection {
			out = append(out, string(b.Bytes))
		}
	}
	return out
}

func TestTwoNodes(t *testing.T) {
	fnet := newFakeNet()
	b := startNode(t, nodeOpts{net: fnet})
	// A knows B under a friendly alias.
	a := startNode(t, nodeOpts{net: fnet, settings: map[string]any{
		"aliases":       map[string]string{"bob.mesh": b.key.String()},
		"retry_initial": "100ms", "retry_max": "200ms", "queue_expiry": "1500ms",
	}})
	alice := a.addUser("alice", "alice password")
	bob := b.addUser("bob", "bob password")

	t.Run("deliver to canonical domain", func(t *testing.T) {
		if err := submit(t, a, alice, "alice password", alice, []string{bob}, message(alice, bob, "hello bob", "over the mesh")); err != nil {
			t.Fatalf("submit: %v", err)
		}
		var got []string
		waitFor(t, 10*time.Second, "delivery to B", func() bool { got = inbox(t, b, bob, "bob password"); return len(got) == 1 })
		if !strings.Contains(got[0], "over the mesh") || !strings.Contains(got[0], "Received: from "+a.domain) ||
			!strings.Contains(got[0], "node "+a.key.String()) {
			t.Errorf("delivered message lacks body or Received header:\n%s", got[0])
		}
	})
	t.Run("deliver to alias", func(t *testing.T) {
		if err := submit(t, a, alice, "alice password", alice, []string{"Bob@bob.mesh"}, message(alice, "bob@bob.mesh", "alias", "via alias")); err != nil {
			t.Fatalf("submit: %v", err)
		}
		waitFor(t, 10*time.Second, "alias delivery", func() bool { return len(inbox(t, b, bob, "bob password")) == 2 })
	})
	t.Run("unknown user bounces at once", func(t *testing.T) {
		nobody := "nobody@" + b.domain
		if err := submit(t, a, alice, "alice password", alice, []string{nobody}, message(alice, nobody, "lost", "no such user")); err != nil {
			t.Fatalf("submit: %v", err)
		}
		waitFor(t, 10*time.Second, "bounce for unknown user", func() bool {
			for _, m := range inbox(t, a, alice, "alice password") {
				if strings.Contains(m, "multipart/report") && strings.Contains(m, "Final-Recipient: rfc822; "+nobody) &&
					strings.Contains(m, "Status: 5.1.1") {
					return true
				}
			}
			return false
		})
	})
	t.Run("spoofed sender domain rejected by B", func(t *testing.T) {
		// A claims the canonical domain of a third node.
		_, third := testKey(t)
		c := dialMX(t, a, b.addr)
		defer c.Close()
		err := c.Mail("mallory@"+addr.CanonicalDomain(third), nil)
		if !hasCode(err, "5.7.1") || !strings.Contains(err.Error(), third.String()) {
			t.Fatalf("MAIL FROM a third node's domain = %v, want 550 5.7.1 naming the mismatch", err)
		}
		// ... or an alias B does not have / that is not A's key.
		if err := c.Mail("mallory@bob.mesh", nil); !hasCode(err, "5.7.1") {
			t.Fatalf("MAIL FROM unknown alias = %v, want 550 5.7.1", err)
		}
		// Its own domain is fine, but only local recipients are.
		if err := c.Mail(alice, nil); err != nil {
			t.Fatalf("MAIL FROM own domain: %v", err)
		}
		if err := c.Rcpt("someone@example.com", nil); !hasCode(err, "5.7.1") {
			t.Fatalf("relay via mx = %v, want 550 5.7.1", err)
		}
		if err := c.Rcpt("ghost@"+b.domain, nil); !hasCode(err, "5.1.1") {
			t.Fatalf("unknown user via mx = %v, want 550 5.1.1", err)
		}
	})
	t.Run("unreachable node: retries then bounce", func(t *testing.T) {
		fnet.setReachable(b.addr, false)
		defer fnet.setReachable(b.addr, true)
		before := len(inbox(t, a, alice, "alice password"))
		if err := submit(t, a, alice, "alice password", alice, []string{bob}, message(alice, bob, "doomed", "will expire")); err != nil {
			t.Fatalf("submit: %v", err)
		}
		var bounce string
		waitFor(t, 15*time.Second, "expiry bounce", func() bool {
			msgs := inbox(t, a, alice, "alice password")
			if len(msgs) <= before {
				return false
			}
			bounce = msgs[len(msgs)-1]
			return true
		})
		if !strings.Contains(bounce, "Status: 4.4.7") || !strings.Contains(bounce, "no route to host") ||
			!strings.Contains(bounce, "Subject: doomed") {
			t.Errorf("expiry bounce lacks status, last error or original headers:\n%s", bounce)
		}
		if n, _ := a.a.store.QueueLen(t.Context()); n != 0 {
			t.Errorf("queue length after bounce = %d, want 0", n)
		}
	})
}

// dialMX opens an SMTP session from node from to node to's mx service.
func dialMX(t *testing.T, from *testNode, to interface{ String() string }) *smtp.Client {
	t.Helper()
	conn, err := from.host.Dial(t.Context(), "tcp", "["+to.String()+"]:25")
	if err != nil {
		t.Fatalf("dial mx: %v", err)
	}
	c := smtp.NewClient(conn)
	if err := c.Hello(from.domain); err != nil {
		t.Fatalf("EHLO: %v", err)
	}
	return c
}

// hasCode reports whether err is an SMTP error with enhanced code code.
func hasCode(err error, code string) bool {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return false
	}
	return fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2]) == code
}

// submitTo sends one message to an implicit-TLS submission address.
func submitTo(address string, tc *tls.Config, user, pass, from string, to []string, body string) error {
	c, err := smtp.DialTLS(address, tc)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", user, pass)); err != nil {
		return err
	}
	return c.SendMail(from, to, strings.NewReader(body))
}
