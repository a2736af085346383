package mail

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (apt-get install %s)", name, pkg)
	}
	return p
}

// swaks runs swaks against node n and returns its output and error.
func swaks(t *testing.T, n *testNode, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("swaks", append([]string{"--server", "127.0.0.1", "--helo", "client.test", "--timeout", "20"}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func swaksAuth(n *testNode, user, pass string, tlsArgs ...string) []string {
	return append(tlsArgs, "--auth", "PLAIN", "--auth-user", user, "--auth-password", pass)
}

func runPython(t *testing.T, n *testNode, user, pass string, args ...string) map[string]any {
	t.Helper()
	cmd := exec.Command("python3", append([]string{filepath.Join("testdata", "imap_client.py")}, args...)...)
	cmd.Env = append(os.Environ(),
		"HOST=127.0.0.1",
		"IMAP_PORT="+strconv.Itoa(n.ports[SvcIMAP]),
		"IMAPS_PORT="+strconv.Itoa(n.ports[SvcIMAPS]),
		"SMTPS_PORT="+strconv.Itoa(n.ports[SvcSubmissions]),
		"CA="+n.caFile, "USER_ADDR="+user, "PASS="+pass)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python %v: %v\nstdout: %s\nstderr: %s", args, err, out, stderr.String())
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("python %v: bad JSON %q: %v", args, out, err)
	}
	return res
}

func TestRealClients(t *testing.T) {
	needTool(t, "swaks", "swaks")
	needTool(t, "python3", "python3")
	if out, _ := exec.Command("swaks", "--support").CombinedOutput(); !strings.Contains(string(out), "=== TLS supported") {
		t.Skip("swaks has no TLS support (apt-get install libnet-ssleay-perl libio-socket-ssl-perl)")
	}
	n := startNode(t, nodeOpts{})
	const pass = "correct horse battery"
	alice := n.addUser("alice", pass)

	// A 300 KB binary attachment.
	att := make([]byte, 300*1024)
	rand.Read(att)
	attFile := filepath.Join(t.TempDir(), "blob.bin")
	os.WriteFile(attFile, att, 0o600)
	attSum := sha256.Sum256(att)

	t.Run("swaks STARTTLS AUTH on submission", func(t *testing.T) {
		out, err := swaks(t, n, append(swaksAuth(n, alice, pass, "--port", strconv.Itoa(n.ports[SvcSubmission]), "--tls"),
			"--from", alice, "--to", alice, "--header", "Subject: plain test", "--header", "X-Test: alpha",
			"--header", "From: Alice <"+alice+">", "--body", "hello needle world")...)
		if err != nil || !strings.Contains(out, "250 2.0.0") {
			t.Fatalf("swaks STARTTLS: %v\n%s", err, out)
		}
	})
	t.Run("swaks implicit TLS with attachment", func(t *testing.T) {
		out, err := swaks(t, n, append(swaksAuth(n, alice, pass, "--port", strconv.Itoa(n.ports[SvcSubmissions]), "--tls-on-connect"),
			"--from", alice, "--to", alice, "--header", "Subject: attachment test", "--header", "X-Test: attachment",
			"--header", "From: "+alice, "--body", "see attachment", "--attach-type", "application/octet-stream", "--attach", "@"+attFile)...)
		if err != nil || !strings.Contains(out, "250 2.0.0") {
			t.Fatalf("swaks implicit TLS: %v\n%s", err, out)
		}
	})
	t.Run("swaks wrong password", func(t *testing.T) {
		out, err := swaks(t, n, append(swaksAuth(n, alice, "wrong password", "--port", strconv.Itoa(n.ports[SvcSubmissions]), "--tls-on-connect"),
			"--from", alice, "--to", alice)...)
		if err == nil || !strings.Contains(out, "535 5.7.8") {
			t.Fatalf("wrong password accepted: %v\n%s", err, out)
		}
	})
	t.Run("swaks no open relay", func(t *testing.T) {
		out, err := swaks(t, n, append(swaksAuth(n, alice, pass, "--port", strconv.Itoa(n.ports[SvcSubmissions]), "--tls-on-connect"),
			"--from", alice, "--to", "victim@example.com", "--header", "From: "+alice)...)
		if err == nil || !strings.Contains(out, "550 5.7.1") || !strings.Contains(out, "not a mesh mail domain") {
			t.Fatalf("relay to example.com not refused: %v\n%s", err, out)
		}
	})
	t.Run("swaks unauthenticated", func(t *testing.T) {
		out, err := swaks(t, n, "--port", strconv.Itoa(n.ports[SvcSubmission]), "--tls", "--from", alice, "--to", alice)
		if err == nil || !strings.Contains(out, "530 5.7.0") {
			t.Fatalf("unauthenticated submission not refused: %v\n%s", err, out)
		}
	})
	t.Run("swaks AUTH needs TLS", func(t *testing.T) {
		out, err := swaks(t, n, append(swaksAuth(n, alice, pass, "--port", strconv.Itoa(n.ports[SvcSubmission])),
			"--from", alice, "--to", alice)...)
		if err == nil || strings.Contains(out, "235 ") {
			t.Fatalf("plain-text AUTH accepted: %v\n%s", err, out)
		}
	})
	t.Run("swaks foreign sender", func(t *testing.T) {
		out, err := swaks(t, n, append(swaksAuth(n, alice, pass, "--port", strconv.Itoa(n.ports[SvcSubmissions]), "--tls-on-connect"),
			"--from", "bob@"+n.domain, "--to", alice)...)
		if err == nil || !strings.Contains(out, "553 5.7.1") {
			t.Fatalf("MAIL FROM another user accepted: %v\n%s", err, out)
		}
		out, err = swaks(t, n, append(swaksAuth(n, alice, pass, "--port", strconv.Itoa(n.ports[SvcSubmissions]), "--tls-on-connect"),
			"--from", alice, "--to", alice, "--header", "From: Boss <boss@"+n.domain+">")...)
		if err == nil || !strings.Contains(out, "550 5.7.1") || !strings.Contains(out, "From: header") {
			t.Fatalf("forged From: header accepted: %v\n%s", err, out)
		}
	})
	t.Run("imaplib session", func(t *testing.T) {
		r := runPython(t, n, alice, pass, "full")
		check := func(name string, cond bool) {
			t.Helper()
			if !cond {
				js, _ := json.MarshalIndent(r, "", "  ")
				t.Errorf("%s failed; results:\n%s", name, js)
			}
		}
		str := func(k string) string { return fmt.Sprint(r[k]) }
		check("LOGINDISABLED before STARTTLS", r["logindisabled_before_tls"] == true)
		for _, c := range []string{"IDLE", "MOVE", "UIDPLUS", "SPECIAL-USE", "NAMESPACE", "IMAP4REV2", "BINARY"} {
			check("capability "+c, strings.Contains(strings.ToUpper(str("caps")), c))
		}
		check("LIST special-use", strings.Contains(str("list"), `\Sent`) && strings.Contains(str("list"), `\Trash`) &&
			strings.Contains(str("list"), `\Drafts`) && strings.Contains(str("list"), `\Junk`) && strings.Contains(str("list"), `\Archive`))
		check("LIST (SPECIAL-USE)", !strings.Contains(str("list_special"), "INBOX") && strings.Contains(str("list_special"), "Sent"))
		check("NAMESPACE", strings.Contains(str("namespace"), `(("" "/"))`))
		check("SELECT EXISTS", r["exists"] == float64(2))
		check("ENVELOPE", strings.Contains(str("fetch_meta"), `ENVELOPE (`) && strings.Contains(str("fetch_meta"), `"plain test"`))
		check("BODYSTRUCTURE", strings.Contains(str("fetch_meta"), `BODYSTRUCTURE ("text" "plain"`))
		check("partial fetch", r["partial_len"] == float64(100) && r["partial_ok"] == true && strings.Contains(str("partial_hdr"), "BODY[]<0>"))
		check("RFC822.PEEK", r["rfc822_peek_same"] == true && strings.Contains(str("rfc822_peek_item"), "RFC822.PEEK"))
		check("RFC822.HEADER", r["rfc822_header_ok"] == true && r["rfc822_size_item"] == true)
		check("PEEK keeps unseen", r["seen_after_peek"] == false)
		check("RFC822.TEXT sets seen", r["rfc822_text_ok"] == true && r["seen_after_text"] == true)
		check("RFC822", r["rfc822_same"] == true)
		want := hex.EncodeToString(attSum[:])
		check("attachment bytes", str("attach_sha256") == "["+want+"]")
		check("BINARY[2]", r["binary_sha256"] == want)
		check("BODY[2]", r["body2_sha256"] == want)
		check("attachment bodystructure", strings.Contains(str("attach_bodystructure"), `"mixed"`) && strings.Contains(str("attach_bodystructure"), `"application" "octet-stream"`))
		hits := func(k string) int { l, _ := r[k].([]any); return len(l) }
		check("SEARCH BODY", hits("search_body") == 1)
		check("SEARCH TEXT", hits("search_text") == 1)
		check("SEARCH SEEN/UNSEEN", hits("search_seen") == 1 && hits("search_unseen") == 1)
		check("SEARCH FLAGGED", hits("search_flagged") == 1)
		check("SEARCH KEYWORD", hits("search_keyword") == 1)
		check("SEARCH NOT", hits("search_not") == 1)
		check("SEARCH OR", hits("search_or") == 2)
		check("SEARCH LARGER", hits("search_larger") == 1)
		check("SEARCH SINCE/BEFORE", hits("search_since") == 2 && hits("search_before") == 0)
		check("SEARCH UID range", hits("search_uidrange") == 1)
		check("SEARCH SUBJECT/FROM", hits("search_subject") == 1 && hits("search_from") == 2)
		check("SEARCH seq", hits("search_seq") == 2)
		check("STORE +FLAGS", strings.Contains(str("store_add"), `\Answered`) && strings.Contains(str("store_add"), "Work"))
		check("STORE -FLAGS", !strings.Contains(str("store_del"), "Work"))
		check("STORE FLAGS", strings.Contains(str("store_set"), "Later") && !strings.Contains(str("store_set"), "Important"))
		check("APPENDUID", strings.Contains(str("append"), "APPENDUID"))
		check("COPYUID", strings.Contains(str("copy"), "COPYUID"))
		check("MOVE", strings.Contains(str("move"), "OK") && hits("inbox_after_move") == 1)
		check("EXPUNGE", hits("inbox_after_expunge") == 0)
		check("STATUS", strings.Contains(str("status_archive"), "MESSAGES 2"))
		check("RENAME", strings.Contains(str("list_after_rename"), `"Work/2026"`))
		check("DELETE", !strings.Contains(str("list_after_delete"), "Work"))
		check("DELETE INBOX refused", r["delete_inbox"] == "NO")
	})
	t.Run("IDLE latency", func(t *testing.T) {
		r := runPython(t, n, alice, pass, "idle")
		lat := r["exists_after_send_start_s"].(float64)
		t.Logf("IDLE: EXISTS %.1f ms after the SMTP client started sending (SMTP transaction %.1f ms, after 250: %.1f ms)",
			lat*1000, r["smtp_transaction_s"].(float64)*1000, r["exists_after_250_s"].(float64)*1000)
		if r["exists_after_250_s"].(float64) > 0.2 || lat > 0.2*raceSlowdown {
			t.Errorf("EXISTS too late: %v", r)
		}
	})
	t.Run("50 concurrent clients", func(t *testing.T) {
		start := time.Now()
		r := runPython(t, n, alice, pass, "concurrent", "50")
		t.Logf("50 concurrent IMAPS login+select+fetch: %.3f s (python process %.3f s)", r["seconds"].(float64), time.Since(start).Seconds())
		if errs, _ := r["errors"].([]any); len(errs) > 0 {
			t.Fatalf("client errors: %v", errs)
		}
		if r["seconds"].(float64) > 2*raceSlowdown {
			t.Errorf("50 clients took %.2f s, want < 2 s", r["seconds"].(float64))
		}
	})
}
