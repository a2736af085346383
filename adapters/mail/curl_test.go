package mail

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCurlClient uses curl as a third real client: SMTPS submission with
// certificate verification, then IMAP over STARTTLS and IMAPS.
func TestCurlClient(t *testing.T) {
	curl := needTool(t, "curl", "curl")
	n := startNode(t, nodeOpts{})
	alice := n.addUser("alice", "alice password")
	msgFile := filepath.Join(t.TempDir(), "msg.eml")
	os.WriteFile(msgFile, []byte(message(alice, alice, "curl test", "sent by curl")), 0o600)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(curl, append([]string{"--silent", "--show-error", "--cacert", n.caFile, "--user", alice + ":alice password"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("--mail-from", alice, "--mail-rcpt", alice, "--upload-file", msgFile,
		"smtps://127.0.0.1:"+strconv.Itoa(n.ports[SvcSubmissions]))
	run("--ssl-reqd", "--mail-from", alice, "--mail-rcpt", alice, "--upload-file", msgFile,
		"smtp://127.0.0.1:"+strconv.Itoa(n.ports[SvcSubmission]))
	list := run("--ssl-reqd", "imap://127.0.0.1:"+strconv.Itoa(n.ports[SvcIMAP])+"/")
	if !strings.Contains(list, `\Sent`) || !strings.Contains(list, "INBOX") {
		t.Errorf("curl LIST:\n%s", list)
	}
	body := run("imaps://127.0.0.1:" + strconv.Itoa(n.ports[SvcIMAPS]) + "/INBOX/;UID=2")
	if !strings.Contains(body, "sent by curl") || !strings.Contains(body, "Subject: curl test") {
		t.Errorf("curl fetch:\n%s", body)
	}
	search := run("--request", "SEARCH SUBJECT curl", "imaps://127.0.0.1:"+strconv.Itoa(n.ports[SvcIMAPS])+"/INBOX")
	if !strings.Contains(search, "* SEARCH 1 2") {
		t.Errorf("curl SEARCH: %q", search)
	}
}
