package ca

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var overlayAddr = netip.MustParseAddr("4ab:cd::1")

func request(name string, dns ...string) LeafRequest {
	return LeafRequest{
		Name:     name,
		DNSNames: append([]string{"localhost", MailDomain(overlayAddr)}, dns...),
		IPs:      []netip.Addr{overlayAddr, netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()},
	}
}

func TestMailDomain(t *testing.T) {
	if got, want := MailDomain(overlayAddr), "04ab00cd000000000000000000000001.mycelium.internal"; got != want {
		t.Errorf("MailDomain = %s, want %s", got, want)
	}
}

func TestOpenCreatesThenLoads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	c1, err := Open(dir, Options{Names: []string{"node.example"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{CertFile: 0o644, KeyFile: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %v", name, fi.Mode().Perm(), err, want)
		}
	}
	c2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c1.CertPEM(), c2.CertPEM()) {
		t.Error("second Open created a new CA")
	}
	cert := c2.Certificate()
	if !cert.IsCA || !cert.MaxPathLenZero || cert.PublicKeyAlgorithm != x509.ECDSA || cert.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("CA certificate: IsCA %v pathlen0 %v alg %v sig %v", cert.IsCA, cert.MaxPathLenZero, cert.PublicKeyAlgorithm, cert.SignatureAlgorithm)
	}
	if !cert.PermittedDNSDomainsCritical || strings.Join(cert.PermittedDNSDomains, ",") != "localhost,mycelium.internal,node.example" {
		t.Errorf("DNS constraints %v critical %v", cert.PermittedDNSDomains, cert.PermittedDNSDomainsCritical)
	}
	pem, err := ReadCertPEM(dir)
	if err != nil || !bytes.Equal(pem, c1.CertPEM()) {
		t.Errorf("ReadCertPEM = %v; want the CA certificate", err)
	}
}

func TestReadCertPEMWithoutCA(t *testing.T) {
	_, err := ReadCertPEM(t.TempDir())
	if !errors.Is(err, ErrNoCA) || !strings.Contains(err.Error(), "start the node") {
		t.Errorf("ReadCertPEM = %v, want ErrNoCA with a hint", err)
	}
}

func TestOpenRefusesMismatchedKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if _, err := Open(other, Options{}); err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(filepath.Join(other, KeyFile))
	if err := os.WriteFile(filepath.Join(dir, KeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Errorf("Open with a foreign key = %v", err)
	}
}

func TestConcurrentOpenMakesOneCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	var wg sync.WaitGroup
	pems := make([][]byte, 4)
	for i := range pems {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := Open(dir, Options{})
			if err != nil {
				t.Error(err)
				return
			}
			pems[i] = c.CertPEM()
		}()
	}
	wg.Wait()
	for i := range pems {
		if !bytes.Equal(pems[i], pems[0]) {
			t.Fatal("concurrent Opens created different CAs")
		}
	}
}

func TestLeafVerifies(t *testing.T) {
	c, err := Open(t.TempDir(), Options{Names: []string{"node.example"}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Leaf(request("mail", "node.example", "later.example"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(l.Skipped, ",") != "later.example" {
		t.Errorf("Skipped = %v, want [later.example]", l.Skipped)
	}
	leaf, err := parseCertPEM(l.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.NotAfter.Sub(leaf.NotBefore) > 825*24*time.Hour {
		t.Errorf("leaf valid for %v, longer than Apple's 825 days", leaf.NotAfter.Sub(leaf.NotBefore))
	}
	for _, name := range []string{"localhost", MailDomain(overlayAddr), "node.example", "4ab:cd::1", "127.0.0.1", "::1"} {
		_, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: c.Pool()})
		if err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "later.example", Roots: c.Pool()}); err == nil {
		t.Error("leaf verifies for a skipped name")
	}
	if _, err := tls.X509KeyPair(l.CertPEM, l.KeyPEM); err != nil {
		t.Errorf("key pair: %v", err)
	}
}

// TestNameConstraintsBindTheCAKey signs certificates for foreign names
// with the CA key directly: verifiers must refuse them.
func TestNameConstraintsBindTheCAKey(t *testing.T) {
	c, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dns string
		ip  net.IP
	}{
		{dns: "www.example.com"},
		{dns: "localhost", ip: net.ParseIP("192.0.2.1")},
		{dns: "localhost", ip: net.ParseIP("2001:db8::1")},
	} {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: tc.dns},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSNames: []string{tc.dns},
		}
		if tc.ip != nil {
			tmpl.IPAddresses = []net.IP{tc.ip}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
		if err != nil {
			t.Fatal(err)
		}
		forged, _ := x509.ParseCertificate(der)
		if _, err := forged.Verify(x509.VerifyOptions{DNSName: tc.dns, Roots: c.Pool()}); err == nil {
			t.Errorf("certificate for %s %v verified despite the name constraints", tc.dns, tc.ip)
		}
	}
	if _, err := c.Leaf(LeafRequest{Name: "x", DNSNames: []string{"localhost"}, IPs: []netip.Addr{netip.MustParseAddr("192.0.2.1")}}); err == nil {
		t.Error("Leaf issued for an IP outside the constraints")
	}
}

func TestLeafReuseAndRenewal(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	dir := t.TempDir()
	c, err := Open(dir, Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.Leaf(request("mail"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "leaf", "mail.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("leaf key mode %v, %v", fi.Mode().Perm(), err)
	}
	again, _ := c.Leaf(request("mail"))
	if !bytes.Equal(first.CertPEM, again.CertPEM) {
		t.Error("valid leaf was not reused")
	}
	// A reopened CA reuses it too.
	c2, _ := Open(dir, Options{Now: clock})
	if reopened, _ := c2.Leaf(request("mail")); !bytes.Equal(reopened.CertPEM, first.CertPEM) {
		t.Error("leaf not reused after reopening the CA")
	}
	changed, _ := c.Leaf(request("mail", "localhost", "node2.mycelium.internal"))
	if bytes.Equal(changed.CertPEM, first.CertPEM) {
		t.Error("leaf reused although the names changed")
	}
	now = first.RenewAt().Add(time.Minute)
	renewed, err := c.Leaf(request("mail"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(renewed.CertPEM, changed.CertPEM) || !renewed.NotAfter.After(first.NotAfter) {
		t.Errorf("leaf not renewed near expiry: NotAfter %v", renewed.NotAfter)
	}
}

func TestLeafRejectsBadInput(t *testing.T) {
	c, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]LeafRequest{
		"path name":    {Name: "../x", DNSNames: []string{"localhost"}},
		"bad dns":      {Name: "x", DNSNames: []string{"bad_name"}},
		"only foreign": {Name: "x", DNSNames: []string{"example.com"}},
	} {
		if _, err := c.Leaf(req); err == nil {
			t.Errorf("%s: Leaf succeeded", name)
		}
	}
	if _, err := Open(t.TempDir(), Options{Names: []string{"-bad"}}); err == nil {
		t.Error("Open accepted a bad node name")
	}
}

// TestClientsAcceptTheChain runs a TLS server with an issued leaf and
// checks it with OpenSSL and curl (the stacks of many mail and DAV
// clients), by name and by IP, trusting only the exported CA.
func TestClientsAcceptTheChain(t *testing.T) {
	c, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Leaf(request("web"))
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	leafFile := filepath.Join(t.TempDir(), "leaf.pem")
	_ = os.WriteFile(caFile, c.CertPEM(), 0o644)
	_ = os.WriteFile(leafFile, l.CertPEM, 0o644)

	t.Run("openssl", func(t *testing.T) {
		if _, err := exec.LookPath("openssl"); err != nil {
			t.Skip("openssl not installed (apt-get install openssl)")
		}
		for _, check := range [][]string{{"-verify_hostname", "localhost"}, {"-verify_ip", "127.0.0.1"}, {"-verify_ip", "4ab:cd::1"}, {"-verify_hostname", MailDomain(overlayAddr)}} {
			args := append([]string{"verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", caFile}, check...)
			out, err := exec.Command("openssl", append(args, leafFile)...).CombinedOutput()
			if err != nil {
				t.Errorf("openssl %v: %v\n%s", check, err, out)
			}
		}
	})
	t.Run("curl", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("curl not installed (apt-get install curl)")
		}
		pair, err := tls.X509KeyPair(l.CertPEM, l.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
		srv.StartTLS()
		defer srv.Close()
		port := srv.Listener.Addr().(*net.TCPAddr).Port
		for _, host := range []string{"localhost", "127.0.0.1"} {
			url := "https://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/"
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			out, err := exec.CommandContext(ctx, "curl", "-sS", "--cacert", caFile, url).CombinedOutput()
			cancel()
			if err != nil || string(out) != "ok" {
				t.Errorf("curl %s: %v: %s", url, err, out)
			}
		}
	})
}
