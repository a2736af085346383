package webdav

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
	"github.com/mycelium-go/mycelium/plugins/sdk/sdktest"
)

// testAdapter is a configured adapter on a data directory.
type testAdapter struct {
	a       *Adapter
	dataDir string
	t       *testing.T
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("WEBDAV_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newTestAdapter configures an adapter on dataDir ("" for a fresh one)
// with JSON settings; it is closed at the end of the test.
func newTestAdapter(t *testing.T, dataDir, settings string, tlsMat *sdk.TLSMaterial) *testAdapter {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	a := New("test", testLogger(t))
	cfg := sdk.Config{Settings: []byte(settings), DataDir: dataDir, TLS: tlsMat}
	if err := a.Configure(context.Background(), cfg, nil); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	ta := &testAdapter{a: a, dataDir: dataDir, t: t}
	t.Cleanup(func() { a.Close() })
	return ta
}

// serve starts a listener for one identity and returns its base URL
// ("http://127.0.0.1:port"). It stops at the end of the test.
func (ta *testAdapter) serve(service string, origin sdk.Origin, key sdk.PublicKey) string {
	ta.t.Helper()
	url, _ := ta.serveAt("127.0.0.1:0", service, origin, key)
	return url
}

// serveAt is serve on a given address; the returned function stops the
// server early (it is also stopped at the end of the test).
func (ta *testAdapter) serveAt(addr, service string, origin sdk.Origin, key sdk.PublicKey) (string, func()) {
	ta.t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		ta.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ta.a.Serve(ctx, service, sdktest.IdentityListener(ln, sdk.Peer{Key: key, Origin: origin, Service: service}))
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				ta.t.Errorf("Serve returned %v", err)
			}
		})
	}
	ta.t.Cleanup(stop)
	scheme := "http"
	if service == ServiceHTTPS {
		scheme = "https"
	}
	return scheme + "://" + ln.Addr().String(), stop
}

// addUser creates a local account through the command interface.
func (ta *testAdapter) addUser(name, password string) {
	ta.t.Helper()
	env := sdk.CommandEnv{
		Config: sdk.Config{DataDir: ta.dataDir},
		Stdin:  strings.NewReader(password + "\n"), Stdout: io.Discard, Stderr: io.Discard,
	}
	if err := ta.a.RunCommand(context.Background(), env, []string{"adduser", name}); err != nil {
		ta.t.Fatalf("adduser %s: %v", name, err)
	}
}

func keyOf(b byte) sdk.PublicKey {
	var k sdk.PublicKey
	for i := range k {
		k[i] = b
	}
	return k
}

// do sends one request and returns the response with its body read.
func do(t *testing.T, method, url string, body io.Reader, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "auth" {
			user, pass, _ := strings.Cut(v, ":")
			req.SetBasicAuth(user, pass)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// testTLS makes a throwaway CA and a leaf for 127.0.0.1 and localhost.
func testTLS(t *testing.T) (*sdk.TLSMaterial, *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(leafKey)
	mat := &sdk.TLSMaterial{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		CAPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return mat, pool
}
