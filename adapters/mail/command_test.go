package mail

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mycelium-go/mycelium/adapters/mail/addr"
	"github.com/mycelium-go/mycelium/adapters/mail/setup"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

func runCmd(t *testing.T, env sdk.CommandEnv, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	env.Stdin, env.Stdout, env.Stderr = strings.NewReader(stdin), &out, &errOut
	err := New(nil).RunCommand(context.Background(), env, args)
	return out.String(), err
}

func TestCommands(t *testing.T) {
	key, a := testKey(t)
	dir := t.TempDir()
	env := sdk.CommandEnv{Config: sdk.Config{
		DataDir:  filepath.Join(dir, "data"),
		Node:     sdk.NodeInfo{PublicKey: key, Address: a},
		TLS:      testTLS(t),
		Settings: json.RawMessage(`{"aliases":{"me.mesh":"` + key.String() + `"}}`),
	}}
	domain := addr.CanonicalDomain(a)
	if _, err := runCmd(t, env, "short\n", "adduser", "alice"); err == nil || !strings.Contains(err.Error(), "8 characters") {
		t.Fatalf("adduser with a short password: %v", err)
	}
	if out, err := runCmd(t, env, "first password\n", "adduser", "Alice@me.mesh"); err != nil || !strings.Contains(out, "alice@"+domain) {
		t.Fatalf("adduser: %q %v", out, err)
	}
	if _, err := runCmd(t, env, "first password\n", "adduser", "alice"); err == nil {
		t.Fatal("adduser twice succeeded")
	}
	if _, err := runCmd(t, env, "x\n", "adduser", "eve@example.com"); err == nil || !strings.Contains(err.Error(), "not a domain of this node") {
		t.Fatalf("adduser with a foreign domain: %v", err)
	}
	if _, err := runCmd(t, env, "second password\n", "passwd", "alice"); err != nil {
		t.Fatalf("passwd: %v", err)
	}
	out, err := runCmd(t, env, "", "list")
	if err != nil || !strings.Contains(out, "alice\talice@"+domain+" alice@me.mesh") {
		t.Fatalf("list = %q, %v", out, err)
	}
	// A running node sees the change: the new password works, the old one
	// does not.
	n := startNode(t, nodeOpts{dir: dir, key: &key, settings: map[string]any{"aliases": map[string]string{"me.mesh": key.String()}}})
	for pw, wantOK := range map[string]bool{"first password": false, "second password": true} {
		c, err := imapclient.DialTLS(n.addr127(SvcIMAPS), &imapclient.Options{TLSConfig: n.clientTLS()})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Login("alice@me.mesh", pw).Wait()
		c.Close()
		if (err == nil) != wantOK {
			t.Errorf("login with %q: %v, want ok=%v", pw, err, wantOK)
		}
	}
	n.stop()
	prof, err := runCmd(t, env, "", "profile", "--smtp-port", "587", "--name", "Alice A.", "alice")
	if err != nil {
		t.Fatalf("profile: %v", err)
	}
	for _, want := range []string{"com.apple.mail.managed", "<string>alice@" + domain + "</string>", "com.apple.security.root",
		"<integer>993</integer>", "<integer>587</integer>", "EmailTypeIMAP", "Alice A."} {
		if !strings.Contains(prof, want) {
			t.Errorf("profile lacks %q", want)
		}
	}
	if strings.Contains(prof, "<integer>25</integer>") {
		t.Error("profile offers port 25")
	}
	if py, err := exec.LookPath("python3"); err == nil {
		cmd := exec.Command(py, "-c", "import plistlib,sys; p=plistlib.loads(sys.stdin.buffer.read()); print(p['PayloadType'], len(p['PayloadContent']))")
		cmd.Stdin = strings.NewReader(prof)
		got, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(got)) != "Configuration 2" {
			t.Errorf("plistlib: %s %v", got, err)
		}
	}
	if _, err := runCmd(t, env, "", "profile", "--smtp-port", "25", "alice"); err == nil {
		t.Error("profile with SMTP port 25 accepted")
	}
	if _, err := runCmd(t, env, "", "profile", "bob"); err == nil || !strings.Contains(err.Error(), "adduser bob") {
		t.Errorf("profile for a missing user: %v", err)
	}
	if _, err := runCmd(t, env, "", "deluser", "alice"); err != nil {
		t.Fatalf("deluser: %v", err)
	}
	if out, _ := runCmd(t, env, "", "list"); out != "" {
		t.Errorf("list after deluser = %q", out)
	}
	if _, err := runCmd(t, env, "", "frobnicate"); err == nil {
		t.Error("unknown command accepted")
	}
}

func TestProfileWithDAV(t *testing.T) {
	key, a := testKey(t)
	ad := New(nil)
	set, _ := ParseSettings(nil)
	ad.set = set
	ad.cfg = sdk.Config{Node: sdk.NodeInfo{PublicKey: key, Address: a}, TLS: testTLS(t)}
	ad.res, _ = addr.NewResolver(key, a, nil, &fakeHost{})
	p, err := ad.buildProfile("alice", true, "", 465, "",
		WithCalDAV(setup.DAVAccount{Host: "localhost", Port: 18443, UseSSL: true}),
		WithCardDAV(setup.DAVAccount{Host: "localhost", Port: 18443, UseSSL: true, PrincipalURL: "/principals/alice/"}))
	if err != nil {
		t.Fatal(err)
	}
	b, err := setup.BuildProfile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"com.apple.caldav.account", "com.apple.carddav.account", "<key>CardDAVPrincipalURL</key>",
		"<string>localhost</string>", "<integer>1993</integer>", "<integer>1465</integer>"} {
		if !strings.Contains(s, want) {
			t.Errorf("profile lacks %q", want)
		}
	}
	if strings.Contains(s, "CalDAVPrincipalURL") {
		t.Error("CalDAV principal URL written although none was given")
	}
}
