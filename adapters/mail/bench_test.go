package mail

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// benchBody is a typical small message (about 2 KB).
func benchBody(from, to string) string {
	return message(from, to, "benchmark", strings.Repeat("The quick brown fox jumps over the lazy dog. 0123456789\r\n", 35))
}

// submitLoop sends b.N messages over authenticated implicit-TLS sessions,
// one session per parallel worker (SetParallelism), reusing each session.
func submitLoop(b *testing.B, address string, tc *tls.Config, user, pass string, workers int) {
	body := benchBody(user, user)
	var failed atomic.Int64
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.SetParallelism(workers)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := smtp.DialTLS(address, tc)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		if err := c.Auth(sasl.NewPlainClient("", user, pass)); err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			if err := c.SendMail(user, []string{user}, strings.NewReader(body)); err != nil {
				failed.Add(1)
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if failed.Load() == 0 {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	}
}

// BenchmarkSubmission measures authenticated submission over TLS with
// local delivery (fsync'd body + committed index per message). With
// MADDY_BIN set to a maddy binary it measures maddy the same way.
func BenchmarkSubmission(b *testing.B) {
	n := startNode(b, nodeOpts{})
	alice := n.addUser("alice", "alice password")
	for _, w := range []int{1, 8} {
		b.Run(fmt.Sprintf("mycelium/workers=%d", w), func(b *testing.B) {
			submitLoop(b, n.addr127(SvcSubmissions), n.clientTLS(), alice, "alice password", w)
		})
	}
	bin := os.Getenv("MADDY_BIN")
	if bin == "" {
		b.Log("MADDY_BIN not set: skipping the maddy comparison")
		return
	}
	addr, tc := startMaddy(b, bin, n)
	for _, w := range []int{1, 8} {
		b.Run(fmt.Sprintf("maddy/workers=%d", w), func(b *testing.B) {
			submitLoop(b, addr, tc, "alice@example.org", "alice password", w)
		})
	}
}

// startMaddy runs maddy with a minimal config: implicit-TLS submission with
// a local pass_table, delivering to its imapsql storage.
func startMaddy(b *testing.B, bin string, n *testNode) (string, *tls.Config) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "cert.pem"), n.tls.CertPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), n.tls.KeyPEM, 0o600)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := fmt.Sprintf(`hostname localhost
state_dir %[1]s/state
runtime_dir %[1]s/run
tls file %[1]s/cert.pem %[1]s/key.pem
log off

auth.pass_table local_authdb {
    table sql_table {
        driver sqlite3
        dsn credentials.db
        table_name passwords
    }
}

storage.imapsql local_mailboxes {
    driver sqlite3
    dsn imapsql.db
}

submission tls://127.0.0.1:%[2]d {
    auth &local_authdb
    source example.org {
        destination example.org {
            deliver_to &local_mailboxes
        }
        default_destination {
            reject 550 5.7.1 "no relay"
        }
    }
    default_source {
        reject 550 5.7.1 "bad sender"
    }
}
`, dir, port)
	cfg := filepath.Join(dir, "maddy.conf")
	os.WriteFile(cfg, []byte(conf), 0o600)
	run := func(args ...string) {
		cmd := exec.Command(bin, append([]string{"--config", cfg}, args...)...)
		cmd.Stdin = strings.NewReader("alice password\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("maddy %v: %v\n%s", args, err, out)
		}
	}
	run("creds", "create", "alice@example.org")
	run("imap-acct", "create", "alice@example.org")
	cmd := exec.Command(bin, "--config", cfg, "run")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("maddy did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return addr, n.clientTLS()
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
