package mail

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mycelium-go/mycelium/adapters/mail/store"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// TestDurabilityChild is the server half of the durability tests: it runs
// only when re-executed by them, serves the mail adapter on the given data
// directory and waits to be killed.
func TestDurabilityChild(t *testing.T) {
	dir := os.Getenv("MAIL_DURABILITY_DIR")
	if dir == "" {
		t.Skip("helper process for TestDurability*")
	}
	keyHex, _ := os.ReadFile(filepath.Join(dir, "key"))
	key, err := sdk.ParsePublicKey(strings.TrimSpace(string(keyHex)))
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, nodeOpts{dir: dir, key: &key})
	os.WriteFile(filepath.Join(dir, "ca.pem"), n.tls.CAPEM, 0o600)
	fmt.Printf("READY %d %d\n", n.ports[SvcSubmissions], n.ports[SvcIMAPS])
	select {}
}

// childNode starts TestDurabilityChild on dir and returns the process and
// its submissions and IMAPS addresses.
func childNode(t *testing.T, dir string) (*exec.Cmd, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDurabilityChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "MAIL_DURABILITY_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY ") {
				lines <- sc.Text()
				io.Copy(io.Discard, out)
				return
			}
		}
		close(lines)
	}()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("child exited before READY")
		}
		var sub, imaps int
		fmt.Sscanf(l, "READY %d %d", &sub, &imaps)
		return cmd, fmt.Sprintf("127.0.0.1:%d", sub), fmt.Sprintf("127.0.0.1:%d", imaps)
	case <-time.After(60 * time.Second):
		t.Fatal("child did not start")
	}
	return nil, "", ""
}

// prepareDir creates a data directory with a node key and one account.
func prepareDir(t *testing.T) (dir, user string) {
	t.Helper()
	dir = t.TempDir()
	key, a := testKey(t)
	os.WriteFile(filepath.Join(dir, "key"), []byte(key.String()), 0o600)
	st, err := store.Open(context.Background(), filepath.Join(dir, "data"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddUser(context.Background(), "alice", "alice password"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	return dir, "alice@" + canonicalOf(a)
}

// inboxBodies opens the store directly (as after a crash) and returns
// the bodies in alice's INBOX.
func inboxBodies(t *testing.T, dir string) []string {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "data"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("reopen store: %v", err)
	}
	defer st.Close()
	u, err := st.UserByLocal(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	mb, err := st.GetMailbox(ctx, u.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := st.Messages(ctx, mb.ID, 1, imap.UID(mb.UIDNext), false)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := range msgs {
		f, err := st.OpenBody(&msgs[i])
		if err != nil {
			t.Fatalf("body of uid %d missing: %v", msgs[i].UID, err)
		}
		b, _ := io.ReadAll(f)
		f.Close()
		out = append(out, string(b))
	}
	return out
}

func childTLS(t *testing.T, dir string) *imapclient.Options {
	tm := &sdk.TLSMaterial{}
	tm.CAPEM, _ = os.ReadFile(filepath.Join(dir, "ca.pem"))
	pool, err := tm.CAPool()
	if err != nil {
		t.Fatal(err)
	}
	cfg := (&testNode{}).clientTLSWith(pool)
	return &imapclient.Options{TLSConfig: cfg}
}

func TestDurabilitySMTP(t *testing.T) {
	dir, alice := prepareDir(t)
	cmd, subAddr, _ := childNode(t, dir)
	opts := childTLS(t, dir)
	mark := fmt.Sprintf("durable-%d", time.Now().UnixNano())
	if err := submitTo(subAddr, opts.TLSConfig, alice, "alice password", alice, []string{alice}, message(alice, alice, "durability", mark)); err != nil {
		t.Fatalf("submit: %v", err)
	}
	// 250 received: kill the server the hard way, at once.
	cmd.Process.Kill()
	cmd.Wait()
	bodies := inboxBodies(t, dir)
	if len(bodies) != 1 || !strings.Contains(bodies[0], mark) {
		t.Fatalf("after SIGKILL, INBOX = %d messages, want the acknowledged one", len(bodies))
	}
}

func TestDurabilityIMAPAppend(t *testing.T) {
	dir, alice := prepareDir(t)
	cmd, _, imapsAddr := childNode(t, dir)
	c, err := imapclient.DialTLS(imapsAddr, childTLS(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(alice, "alice password").Wait(); err != nil {
		t.Fatal(err)
	}
	mark := fmt.Sprintf("appended-%d", time.Now().UnixNano())
	msg := message(alice, alice, "append durability", mark)
	ac := c.Append("INBOX", int64(len(msg)), nil)
	io.WriteString(ac, msg)
	ac.Close()
	if _, err := ac.Wait(); err != nil {
		t.Fatalf("APPEND: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	bodies := inboxBodies(t, dir)
	if len(bodies) != 1 || !strings.Contains(bodies[0], mark) {
		t.Fatalf("after SIGKILL, INBOX = %d messages, want the appended one", len(bodies))
	}
}

func TestUIDsStableAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	key, _ := testKey(t)
	n := startNode(t, nodeOpts{dir: dir, key: &key})
	alice := n.addUser("alice", "alice password")
	for i := 0; i < 3; i++ {
		if err := submit(t, n, alice, "alice password", alice, []string{alice}, message(alice, alice, fmt.Sprint("m", i), "x")); err != nil {
			t.Fatal(err)
		}
	}
	before := uidState(t, n, alice)
	n.stop()
	n2 := startNode(t, nodeOpts{dir: dir, key: &key})
	after := uidState(t, n2, alice)
	if before != after {
		t.Fatalf("after restart UIDVALIDITY/UIDs = %s, want %s", after, before)
	}
	if err := submit(t, n2, alice, "alice password", alice, []string{alice}, message(alice, alice, "m3", "x")); err != nil {
		t.Fatal(err)
	}
	if got := uidState(t, n2, alice); !strings.HasSuffix(got, " 1,2,3,4") {
		t.Fatalf("new message after restart: %s, want UID 4", got)
	}
}

func uidState(t *testing.T, n *testNode, user string) string {
	t.Helper()
	c, err := imapclient.DialTLS(n.addr127(SvcIMAPS), &imapclient.Options{TLSConfig: n.clientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, "alice password").Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	data, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	var uids []string
	for _, u := range data.AllUIDs() {
		uids = append(uids, fmt.Sprint(u))
	}
	return fmt.Sprintf("%d %s", sel.UIDValidity, strings.Join(uids, ","))
}
