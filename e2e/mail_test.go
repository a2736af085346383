package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Mail ports of the mail plugin (docs/mail.md).
const (
	mxPort             = 25
	submissionLoopback = 1587
	imapsLoopback      = 1993
)

// mailPassword is every test account's password.
const mailPassword = "correct horse battery"

// mailConfig runs the mail plugin with retries short enough for a test
// (the first delivery attempt is immediate anyway) and lets the keys in
// mxFrom deliver to this node's mx.
func mailConfig(t *testing.T, mxFrom ...string) string {
	t.Helper()
	return pluginTOML(t, "mail", `[plugin.settings]
retry_initial = "1s"
retry_max = "2s"
queue_expiry = "1m"
`) + policyTOML("mx", mxFrom...)
}

// addMailUser creates an account with `mycelium mail adduser`, the
// password on stdin, as an operator would, and returns its address.
func addMailUser(t *testing.T, n *node, local string) string {
	t.Helper()
	out := n.mustCLI(t, mailPassword+"\n", "mail", "adduser", local)
	addr := local + "@" + n.mailDomain()
	if list := n.mustCLI(t, "", "mail", "list"); !strings.Contains(list, addr) {
		t.Fatalf("mycelium mail list on %s does not show %s after adduser (%q):\n%s", n.ns.short, addr, strings.TrimSpace(out), list)
	}
	return addr
}

// TestMailOverMesh: alice on node A (kernel TUN) sends to bob on node B
// (userspace netstack) over the mesh. Alice submits with swaks on A's
// loopback submission port (STARTTLS, AUTH, certificate verified against
// A's exported CA); A's queue delivers to B's mx through the gateway's
// dial-out; bob reads the message on B over IMAPS with imaplib (verified
// against B's CA). A client IDLEing on B sees EXISTS moments after
// alice's 250. B's mx refuses a sender domain that is not the connecting
// node's, and node C, which B's policy does not name, cannot connect to
// B's mx at all.
func TestMailOverMesh(t *testing.T) {
	l := newLab(t)
	requireTools(t, "swaks", "bash", "timeout")
	py := pythonBin(t)
	if out, _ := exec.Command("swaks", "--support").CombinedOutput(); !strings.Contains(string(out), "=== TLS supported") {
		t.Skip("e2e: swaks has no TLS support (apt-get install libnet-ssleay-perl libio-socket-ssl-perl)")
	}
	nsA, nsB, nsC := l.namespace("A"), l.namespace("B"), l.namespace("C")
	ab, cb := l.connect(nsA, nsB), l.connect(nsC, nsB)
	a, b := l.prepareNode(nsA), l.prepareNode(nsB)
	l.launch(a, nodeConfig{Config: mailConfig(t)})
	c := l.node(nsC, nodeConfig{})
	l.launch(b, nodeConfig{Device: "netstack", Config: mailConfig(t, a.pub),
		Peers: []string{tcpPeer(ab.addrA), tcpPeer(cb.addrA)}})
	a.waitReachable(t, b.addr, 20*time.Second)
	c.waitReachable(t, b.addr, 20*time.Second)
	a.waitPlugin(t, "mail")
	b.waitPlugin(t, "mail")

	alice, bob := addMailUser(t, a, "alice"), addMailUser(t, b, "bob")
	caA, caB := a.exportCA(t), b.exportCA(t)
	mailpy := testdata(t, "mail.py")
	pyJSON := func(t *testing.T, ns *netns, args ...string) map[string]any {
		t.Helper()
		out, err := ns.try(40*time.Second, append([]string{py, mailpy}, args...)...)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var v map[string]any
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &v); err != nil {
			t.Fatalf("mail.py %s: %v in %q", args[0], err, out)
		}
		return v
	}
	readArgs := func(subject string) []string {
		return []string{"read", "--port", strconv.Itoa(imapsLoopback), "--ca", caB,
			"--user", bob, "--password", mailPassword, "--subject", subject}
	}

	t.Run("swaks-to-imaplib", func(t *testing.T) {
		subject := "over the mesh " + strconv.FormatInt(time.Now().UnixNano(), 36)
		body := "Hello bob, this crossed the overlay from " + a.addr.String()
		start := time.Now()
		out, err := nsA.try(40*time.Second, "swaks", "--server", "127.0.0.1", "--port", strconv.Itoa(submissionLoopback),
			"--helo", "client.test", "--timeout", "20", "--tls", "--tls-verify", "--tls-ca-path", caA,
			"--auth", "PLAIN", "--auth-user", alice, "--auth-password", mailPassword,
			"--from", alice, "--to", bob, "--header", "Subject: "+subject, "--body", body)
		submitted := time.Now()
		if err != nil {
			t.Fatalf("swaks on A: %v\n%s", err, out)
		}
		if !strings.Contains(out, "<~  250") || !strings.Contains(out, "STARTTLS") {
			t.Fatalf("swaks shows no STARTTLS session ending in 250:\n%s", out)
		}
		v := pyJSON(t, nsB, readArgs(subject)...)
		found := unixTime(v["found_at"])
		msg, _ := v["message"].(string)
		t.Logf("swaks on A: submitted in %v; bob read it on B over IMAPS %v after swaks returned (python start, login and %v polls included)",
			submitted.Sub(start).Round(time.Millisecond), found.Sub(submitted).Round(time.Millisecond), v["polls"])
		if !strings.Contains(msg, body) || !strings.Contains(msg, "Subject: "+subject) {
			t.Errorf("bob's message lacks the body or subject:\n%s", msg)
		}
		if !strings.Contains(msg, a.pub) {
			t.Errorf("B's Received: header does not name A's key %s:\n%s", a.pub, msg)
		}
		p, _ := b.gatewayStatus(t).plugin("mail")
		if mx, _ := p.service("mx"); mx.Accepted == 0 {
			t.Errorf("B's gateway status shows no accepted mx connection: %+v", mx)
		}
	})

	t.Run("swaks-wrong-ca", func(t *testing.T) {
		// The verification above is real: B's CA does not vouch for A.
		out, err := nsA.try(40*time.Second, "swaks", "--server", "127.0.0.1", "--port", strconv.Itoa(submissionLoopback),
			"--helo", "client.test", "--timeout", "20", "--tls", "--tls-verify", "--tls-ca-path", caB,
			"--auth", "PLAIN", "--auth-user", alice, "--auth-password", mailPassword,
			"--from", alice, "--to", bob, "--body", "must not be sent")
		if err == nil || strings.Contains(out, "AUTH PLAIN") {
			t.Fatalf("swaks trusting only B's CA talked to A's submission port (%v):\n%s", err, out)
		}
		t.Logf("swaks trusting only B's CA against A's submission port fails: %s", lastLine(out))
	})

	t.Run("idle", func(t *testing.T) {
		idler := l.start(nsB, "imap-idle", py, mailpy, "idle", "--port", strconv.Itoa(imapsLoopback), "--ca", caB,
			"--user", bob, "--password", mailPassword, "--wait", "20")
		waitOutput(t, idler, "idling", 15*time.Second)
		subject := "idle " + strconv.FormatInt(time.Now().UnixNano(), 36)
		v := pyJSON(t, nsA, "submit", "--port", strconv.Itoa(submissionLoopback), "--ca", caA,
			"--user", alice, "--password", mailPassword, "--to", bob, "--subject", subject, "--body", "wake up")
		accepted := unixTime(v["accepted_at"])
		if !idler.wait(25 * time.Second) {
			t.Fatalf("no EXISTS on B's IDLE within 25 s of alice's 250:\n%s", idler.output())
		}
		if idler.err != nil {
			t.Fatalf("IDLE client: %v\n%s", idler.err, idler.output())
		}
		lines := strings.Split(strings.TrimSpace(idler.output()), "\n")
		var r struct {
			ExistsAt float64 `json:"exists_at"`
			Line     string  `json:"line"`
		}
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
			t.Fatalf("IDLE client output: %v\n%s", err, idler.output())
		}
		latency := unixTime(r.ExistsAt).Sub(accepted)
		t.Logf("IDLE on B: %q %v after alice's SMTP 250 on A (delivery over the mesh included)", r.Line, latency.Round(100*time.Microsecond))
		if latency < 0 || latency > 10*time.Second {
			t.Errorf("EXISTS came %v after the 250, want within a few seconds", latency)
		}
	})

	t.Run("spoofed-sender", func(t *testing.T) {
		// A's own domain first: the same session is accepted, so the
		// refusal below is about the sender domain and nothing else.
		mx := func(sender string) map[string]any {
			return pyJSON(t, nsA, "mx", "--host", b.addr.String(), "--port", strconv.Itoa(mxPort),
				"--helo", a.mailDomain(), "--sender", sender, "--rcpt", bob)
		}
		ok := mx("alice@" + a.mailDomain())
		if code(ok["mail"]) != 250 || code(ok["rcpt"]) != 250 {
			t.Fatalf("A's own sender domain on B's mx: %v, want 250 to MAIL and RCPT", ok)
		}
		bad := mx("mallory@" + c.mailDomain())
		t.Logf("MAIL FROM a domain of C, from A's kernel socket to [B]:25: %v", bad["mail"])
		reply := fmt.Sprint(bad["mail"])
		if code(bad["mail"]) != 550 || !strings.Contains(reply, "5.7.1") {
			t.Errorf("spoofed sender domain: %v, want 550 5.7.1", bad["mail"])
		}
	})

	t.Run("not-in-policy", func(t *testing.T) {
		before, _ := b.gatewayStatus(t).plugin("mail")
		out, err := readAll(nsC, b.addr, mxPort)
		if err == nil || !strings.Contains(out, "refused") {
			t.Errorf("C (not in B's [policy.mx]) connecting to [B]:25: %q (%v), want connection refused", out, err)
		}
		after, _ := b.gatewayStatus(t).plugin("mail")
		sb, _ := before.service("mx")
		sa, _ := after.service("mx")
		t.Logf("C to B's mx: %q; B's mx refused counter %d -> %d", out, sb.Refused, sa.Refused)
		if sa.Refused <= sb.Refused {
			t.Errorf("B's gateway status shows no refused mx connection (%d -> %d)", sb.Refused, sa.Refused)
		}
	})
	a.alive(t)
	b.alive(t)
}

// lastLine is the last non-empty line of out.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// unixTime converts a JSON number of seconds since 1970 to a time.
func unixTime(v any) time.Time {
	f, _ := v.(float64)
	return time.Unix(0, int64(f*1e9))
}

// code is the reply code of a [code, text] pair from mail.py.
func code(v any) int {
	pair, _ := v.([]any)
	if len(pair) == 0 {
		return 0
	}
	f, _ := pair[0].(float64)
	return int(f)
}

// waitOutput waits until p's log contains s; it fails t if p ends or
// timeout passes first.
func waitOutput(t testing.TB, p *proc, s string, timeout time.Duration) {
	t.Helper()
	for start := time.Now(); time.Since(start) < timeout; time.Sleep(10 * time.Millisecond) {
		if strings.Contains(p.output(), s) {
			return
		}
		if p.exited() {
			t.Fatalf("%s ended (%v) before printing %q:\n%s", p.name, p.err, s, p.output())
		}
	}
	t.Fatalf("%s did not print %q within %v:\n%s", p.name, s, timeout, p.output())
}
