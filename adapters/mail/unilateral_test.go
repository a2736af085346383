package mail

import (
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// events collects the unilateral updates one IMAP client receives.
type events struct {
	mu     sync.Mutex
	exists []uint32
	expg   []uint32
	flags  []string
	notify chan struct{}
}

func newEvents() *events { return &events{notify: make(chan struct{}, 100)} }

func (e *events) handler() *imapclient.UnilateralDataHandler {
	return &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				e.mu.Lock()
				e.exists = append(e.exists, *d.NumMessages)
				e.mu.Unlock()
				e.notify <- struct{}{}
			}
		},
		Expunge: func(seq uint32) {
			e.mu.Lock()
			e.expg = append(e.expg, seq)
			e.mu.Unlock()
			e.notify <- struct{}{}
		},
		Fetch: func(m *imapclient.FetchMessageData) {
			buf, _ := m.Collect()
			e.mu.Lock()
			if buf != nil {
				e.flags = append(e.flags, fmt.Sprint(buf.SeqNum, buf.Flags))
			}
			e.mu.Unlock()
			e.notify <- struct{}{}
		},
	}
}

func (e *events) wait(t testing.TB, what string, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-e.notify:
		return time.Since(start)
	case <-time.After(d):
		t.Fatalf("no %s within %v", what, d)
		return 0
	}
}

func login(t testing.TB, n *testNode, user, pass string, h *imapclient.UnilateralDataHandler) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialTLS(n.addr127(SvcIMAPS), &imapclient.Options{TLSConfig: n.clientTLS(), UnilateralDataHandler: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

func appendMsg(t testing.TB, c *imapclient.Client, mbox, msg string) {
	t.Helper()
	ac := c.Append(mbox, int64(len(msg)), nil)
	io.WriteString(ac, msg)
	ac.Close()
	if _, err := ac.Wait(); err != nil {
		t.Fatalf("APPEND: %v", err)
	}
}

// TestUnilateralUpdates checks that another session's APPEND, STORE and
// EXPUNGE reach an idling session quickly.
func TestUnilateralUpdates(t *testing.T) {
	n := startNode(t, nodeOpts{})
	alice := n.addUser("alice", "alice password")
	ev := newEvents()
	idler := login(t, n, alice, "alice password", ev.handler())
	if _, err := idler.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := idler.Idle()
	if err != nil {
		t.Fatal(err)
	}
	other := login(t, n, alice, "alice password", nil)

	start := time.Now()
	appendMsg(t, other, "INBOX", message(alice, alice, "appended", "from another session"))
	okAt := time.Since(start)
	lat := ev.wait(t, "EXISTS after APPEND", 2*time.Second)
	t.Logf("EXISTS %v after the APPEND was sent (APPEND OK after %v)", lat+okAt, okAt)
	if lat > 200*time.Millisecond*raceSlowdown {
		t.Errorf("EXISTS %v after APPEND OK, want < 200ms", lat)
	}

	if _, err := other.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := other.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, "FETCH FLAGS after STORE", 2*time.Second)
	if err := other.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, "EXPUNGE", 2*time.Second)
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if len(ev.exists) != 1 || ev.exists[0] != 1 || len(ev.expg) != 1 || ev.expg[0] != 1 || len(ev.flags) != 1 {
		t.Errorf("updates: exists=%v expunge=%v flags=%v", ev.exists, ev.expg, ev.flags)
	}
}

// BenchmarkIdleNotify measures how long an idling IMAP session waits for
// EXISTS after an SMTP submission was acknowledged (250).
func BenchmarkIdleNotify(b *testing.B) {
	n := startNode(b, nodeOpts{})
	alice := n.addUser("alice", "alice password")
	ev := newEvents()
	idler := login(b, n, alice, "alice password", ev.handler())
	if _, err := idler.Select("INBOX", nil).Wait(); err != nil {
		b.Fatal(err)
	}
	idle, err := idler.Idle()
	if err != nil {
		b.Fatal(err)
	}
	defer idle.Close()
	c, err := smtp.DialTLS(n.addr127(SvcSubmissions), n.clientTLS())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", alice, "alice password")); err != nil {
		b.Fatal(err)
	}
	body := message(alice, alice, "idle bench", "x")
	var after250 time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.SendMail(alice, []string{alice}, stringsReader(body)); err != nil {
			b.Fatal(err)
		}
		after250 += ev.wait(b, "EXISTS", 5*time.Second)
	}
	b.ReportMetric(float64(after250.Microseconds())/float64(b.N), "µs-after-250/op")
}

// BenchmarkIMAPClients50 measures 50 concurrent IMAPS clients each doing
// login, select and a fetch of all messages' flags, size and envelope.
func BenchmarkIMAPClients50(b *testing.B) {
	n := startNode(b, nodeOpts{})
	alice := n.addUser("alice", "alice password")
	for i := 0; i < 5; i++ {
		if err := submit(b, n, alice, "alice password", alice, []string{alice}, message(alice, alice, fmt.Sprint("m", i), "body")); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		for j := 0; j < 50; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := imapclient.DialTLS(n.addr127(SvcIMAPS), &imapclient.Options{TLSConfig: n.clientTLS()})
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				if err := c.Login(alice, "alice password").Wait(); err != nil {
					b.Error(err)
					return
				}
				if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
					b.Error(err)
					return
				}
				msgs, err := c.Fetch(imap.SeqSetNum(1, 2, 3, 4, 5), &imap.FetchOptions{Flags: true, RFC822Size: true, Envelope: true}).Collect()
				if err != nil || len(msgs) != 5 {
					b.Errorf("fetch: %d %v", len(msgs), err)
				}
				c.Logout().Wait()
			}()
		}
		wg.Wait()
	}
}
