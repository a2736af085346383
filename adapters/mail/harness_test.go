package mail

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mycelium-go/mycelium/adapters/mail/addr"
	"github.com/mycelium-go/mycelium/plugins/sdk"
	"github.com/mycelium-go/mycelium/plugins/sdk/sdktest"
)

// testTLS makes a throwaway CA and a leaf for localhost/127.0.0.1/::1.
func testTLS(t testing.TB) *sdk.TLSMaterial {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test mycelium CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(leafKey)
	return &sdk.TLSMaterial{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		CAPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
	}
}

// testKey returns a random node key and the overlay address the fake host
// derives from it.
func testKey(t testing.TB) (sdk.PublicKey, netip.Addr) {
	var k sdk.PublicKey
	rand.Read(k[:])
	return k, fakeAddressOf(k)
}

func fakeAddressOf(k sdk.PublicKey) netip.Addr {
	h := sha256.Sum256(k[:])
	h[0] = 0x04 | h[0]&1
	return netip.AddrFrom16([16]byte(h[:16]))
}

// fakeNet connects test nodes: Dial to a node's overlay address hands a
// pipe to that node's mx listener, carrying the caller's identity.
type fakeNet struct {
	mu  sync.Mutex
	mx  map[netip.Addr]*chanLn
	off map[netip.Addr]bool // unreachable nodes
}

func newFakeNet() *fakeNet {
	return &fakeNet{mx: map[netip.Addr]*chanLn{}, off: map[netip.Addr]bool{}}
}

func (n *fakeNet) setReachable(a netip.Addr, ok bool) {
	n.mu.Lock()
	n.off[a] = !ok
	n.mu.Unlock()
}

// fakeHost is one node's sdk.Host.
type fakeHost struct {
	net  *fakeNet
	key  sdk.PublicKey
	addr netip.Addr

	mu   sync.Mutex
	svcs []sdk.NodeService // what NodeServices answers
}

// setServices sets the node services the host reports.
func (h *fakeHost) setServices(svcs ...sdk.NodeService) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.svcs = svcs
}

// NodeServices implements sdk.NodeServiceLister.
func (h *fakeHost) NodeServices(ctx context.Context) ([]sdk.NodeService, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sdk.NodeService(nil), h.svcs...), ctx.Err()
}

func (h *fakeHost) LookupKey(context.Context, netip.Addr) (sdk.PublicKey, error) {
	return sdk.PublicKey{}, sdk.ErrNotFound
}
func (h *fakeHost) AddressOf(_ context.Context, k sdk.PublicKey) (netip.Addr, error) {
	return fakeAddressOf(k), nil
}
func (h *fakeHost) RouteMetric(context.Context, netip.Addr) (uint16, error) { return 1, nil }
func (h *fakeHost) SendMessage(context.Context, sdk.OutboundMessage) (string, error) {
	return "", errors.New("no message bus in tests")
}
func (h *fakeHost) ReceiveMessage(ctx context.Context, _ []byte) (sdk.InboundMessage, error) {
	<-ctx.Done()
	return sdk.InboundMessage{}, ctx.Err()
}

func (h *fakeHost) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || network != "tcp" {
		return nil, fmt.Errorf("fake dial %s %s: bad address", network, address)
	}
	h.net.mu.Lock()
	ln, off := h.net.mx[ap.Addr()], h.net.off[ap.Addr()]
	h.net.mu.Unlock()
	if ln == nil || off || ap.Port() != 25 {
		return nil, fmt.Errorf("fake dial %s: no route to host", address)
	}
	c1, c2 := net.Pipe()
	peer := sdk.Peer{Key: h.key, Addr: netip.AddrPortFrom(h.addr, 40000), Local: ap, Origin: sdk.OriginOverlay, Service: "mx"}
	if !ln.push(sdk.NewConn(c2, peer)) {
		c1.Close()
		return nil, fmt.Errorf("fake dial %s: connection refused", address)
	}
	return c1, nil
}

// chanLn is a listener fed by fake dials.
type chanLn struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newChanLn() *chanLn { return &chanLn{ch: make(chan net.Conn), done: make(chan struct{})} }
func (l *chanLn) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}
func (l *chanLn) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *chanLn) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *chanLn) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv6loopback, Port: 25} }

// testNode is one adapter serving on loopback TCP listeners.
type testNode struct {
	t      testing.TB
	a      *Adapter
	host   *fakeHost
	key    sdk.PublicKey
	addr   netip.Addr
	domain string
	dir    string
	tls    *sdk.TLSMaterial
	caFile string
	ports  map[string]int // service -> loopback TCP port
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type nodeOpts struct {
	settings map[string]any
	dir      string
	net      *fakeNet
	key      *sdk.PublicKey
}

func startNode(t testing.TB, o nodeOpts) *testNode {
	t.Helper()
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	if o.net == nil {
		o.net = newFakeNet()
	}
	key, a := testKey(t)
	if o.key != nil {
		key, a = *o.key, fakeAddressOf(*o.key)
	}
	n := &testNode{t: t, key: key, addr: a, dir: o.dir, tls: testTLS(t), ports: map[string]int{}}
	n.caFile = filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(n.caFile, n.tls.CAPEM, 0o600)
	if o.settings == nil {
		o.settings = map[string]any{}
	}
	raw, _ := json.Marshal(o.settings)
	level := slog.LevelError
	if os.Getenv("MAIL_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	n.a = New(log)
	host := &fakeHost{net: o.net, key: key, addr: a}
	n.host = host
	cfg := sdk.Config{Settings: raw, DataDir: filepath.Join(o.dir, "data"),
		Node: sdk.NodeInfo{PublicKey: key, Address: a}, TLS: n.tls, Services: map[string]sdk.ServiceBinding{}}
	lns := map[string]net.Listener{}
	for _, s := range Services {
		if s.Name == SvcMX {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		n.ports[s.Name] = ln.Addr().(*net.TCPAddr).Port
		lns[s.Name] = sdktest.IdentityListener(ln, sdk.Peer{Origin: sdk.OriginLoopback, Service: s.Name})
		cfg.Services[s.Name] = sdk.ServiceBinding{Loopback: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(n.ports[s.Name]))}
	}
	mx := newChanLn()
	lns[SvcMX] = mx
	o.net.mu.Lock()
	o.net.mx[a] = mx
	o.net.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	if err := n.a.Configure(ctx, cfg, host); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	n.domain = n.a.res.Canonical()
	for name, ln := range lns {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := n.a.Serve(ctx, name, ln); err != nil {
				t.Errorf("Serve(%s) = %v", name, err)
			}
		}()
	}
	t.Cleanup(n.stop)
	return n
}

func (n *testNode) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.wg.Wait()
	n.a.Close()
	n.cancel = nil
}

func (n *testNode) addr127(service string) string {
	return fmt.Sprintf("127.0.0.1:%d", n.ports[service])
}

func (n *testNode) addUser(local, password string) string {
	n.t.Helper()
	if err := n.a.store.AddUser(context.Background(), local, password); err != nil {
		n.t.Fatalf("AddUser: %v", err)
	}
	return local + "@" + n.domain
}

func (n *testNode) clientTLS() *tls.Config {
	pool, _ := n.tls.CAPool()
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var _ = strings.Contains

func canonicalOf(a netip.Addr) string { return addr.CanonicalDomain(a) }

func (n *testNode) clientTLSWith(pool *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
}
