package dav

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/plugins/sdk"
	"github.com/mycelium-go/mycelium/plugins/sdk/sdktest"
)

// fakeHost is the part of sdk.Host the dav plugin never calls.
type fakeHost struct{}

func (fakeHost) LookupKey(context.Context, netip.Addr) (sdk.PublicKey, error) {
	return sdk.PublicKey{}, sdk.ErrNotFound
}
func (fakeHost) AddressOf(context.Context, sdk.PublicKey) (netip.Addr, error) {
	return netip.Addr{}, sdk.ErrNotFound
}
func (fakeHost) RouteMetric(context.Context, netip.Addr) (uint16, error) { return 0, sdk.ErrNotFound }
func (fakeHost) Dial(context.Context, string, string) (net.Conn, error) {
	return nil, errors.New("no dialing in tests")
}
func (fakeHost) SendMessage(context.Context, sdk.OutboundMessage) (string, error) {
	return "", errors.New("no messages in tests")
}
func (fakeHost) ReceiveMessage(ctx context.Context, _ []byte) (sdk.InboundMessage, error) {
	<-ctx.Done()
	return sdk.InboundMessage{}, ctx.Err()
}

var _ sdk.Host = fakeHost{}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// plugin is a configured Adapter with its data directory.
type plugin struct {
	t   *testing.T
	a   *Adapter
	cfg sdk.Config
}

func newPlugin(t *testing.T, settings string, tlsMat *sdk.TLSMaterial) *plugin {
	t.Helper()
	a, err := New(testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := sdk.Config{Settings: json.RawMessage(settings), DataDir: t.TempDir(), TLS: tlsMat}
	if err := a.Configure(t.Context(), cfg, fakeHost{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return &plugin{t: t, a: a, cfg: cfg}
}

// serve starts service on a loopback TCP port with connections of the
// given origin (and key, for the overlay) and returns the base URL.
func (p *plugin) serve(service string, origin sdk.Origin, key sdk.PublicKey) string {
	p.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		p.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- p.a.Serve(ctx, service, sdktest.IdentityListener(ln, sdk.Peer{Key: key, Origin: origin, Service: service}))
	}()
	p.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			p.t.Errorf("Serve(%s) = %v", service, err)
		}
	})
	scheme := "http"
	if service == ServiceHTTPS {
		scheme = "https"
	}
	return scheme + "://" + ln.Addr().String()
}

// command runs a plugin subcommand with stdin.
func (p *plugin) command(stdin string, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	err := p.a.RunCommand(p.t.Context(), sdk.CommandEnv{Config: p.cfg, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut}, args)
	return out.String() + errOut.String(), err
}

func (p *plugin) addUser(name, pass string) {
	p.t.Helper()
	if out, err := p.command(pass+"\n", "adduser", name); err != nil {
		p.t.Fatalf("adduser %s: %v\n%s", name, err, out)
	}
}

// testTLS makes a throwaway CA and a leaf for 127.0.0.1 and localhost.
func testTLS(t *testing.T) *sdk.TLSMaterial {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test node CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(leafKey)
	return &sdk.TLSMaterial{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		CAPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
	}
}

// pythonWithCalDAV finds a Python interpreter that has the caldav module
// (Debian's python3-caldav lives in /usr/bin/python3, which may not be
// the python3 first on PATH).
func pythonWithCalDAV(t *testing.T) string {
	t.Helper()
	for _, cand := range []string{"/usr/bin/python3", "python3"} {
		path, err := exec.LookPath(cand)
		if err != nil {
			continue
		}
		if exec.Command(path, "-c", "import caldav").Run() == nil {
			return path
		}
	}
	t.Skip("no python3 with the caldav module (apt-get install python3-caldav)")
	return ""
}
