package link_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/big"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/mycelium-go/mycelium/core/link"
	"github.com/mycelium-go/mycelium/core/link/linktest"
	"github.com/mycelium-go/mycelium/core/wire"
)

type quicStatser interface{ QUICStats() link.QUICStats }

func quicTestConfig(id byte) link.Config {
	cfg := testConfig(id)
	cfg.DisableQUIC = false
	cfg.QUICListen = netip.MustParseAddrPort("[::1]:0")
	cfg.QUICHandshakeTimeout = 3 * time.Second
	return cfg
}

// sendOnUp makes a Recorder queue a control packet on LinkUp, as the node
// queues its Update; a QUIC dialer's stream exists for the peer only
// once something is written.
func sendOnUp(l link.Link) { _ = l.SendControl(hello(0)) }

// quicPair starts two managers, b dialling a over QUIC, and returns the
// two ends of the link.
func quicPair(t *testing.T) (la, lb link.Link, ra, rb *linktest.Recorder, a *link.Manager) {
	t.Helper()
	ra, rb = &linktest.Recorder{OnUp: sendOnUp}, &linktest.Recorder{OnUp: sendOnUp}
	a, _ = startManager(t, quicTestConfig(1), ra)
	cfgB := quicTestConfig(2)
	cfgB.Peers = []link.Endpoint{{Proto: link.ProtoQUIC, Addr: a.QUICAddr()}}
	startManager(t, cfgB, rb)
	return waitUp(t, ra), waitUp(t, rb), ra, rb, a
}

func TestQUICRoundTrip(t *testing.T) {
	la, lb, ra, rb, _ := quicPair(t)
	exchange(t, la, lb, ra, rb)
	if got := la.Info(); got.Transport != "quic" || got.Kind != "inbound" {
		t.Errorf("accepting side Info = %+v", got)
	}
	if got, want := lb.String(), "QUIC -> "+la.Info().Local.String(); got != want && la.Info().Local.Addr().IsUnspecified() {
		t.Logf("String() = %q", got) // local is [::]:port on the listener
	}
	if lb.StaticCost() != 7 {
		t.Errorf("StaticCost() = %d, want 7 for IPv6 QUIC", lb.StaticCost())
	}
	for name, l := range map[string]link.Link{"a": la, "b": lb} {
		s := l.(quicStatser).QUICStats()
		t.Logf("%s: %+v", name, s)
		// bodies 0, 1 and 100 fit a datagram; 9000 and 65535 never do
		if s.DatagramsSent < 3 || s.StreamFallbacks < 2 {
			t.Errorf("%s: %d datagrams, %d stream fallbacks; want >= 3 and >= 2", name, s.DatagramsSent, s.StreamFallbacks)
		}
	}
}

func TestQUICDatagramAndFallback(t *testing.T) {
	la, _, _, rb, _ := quicPair(t)
	before := la.(quicStatser).QUICStats()

	small := dataPacket(1000, 1) // 1040 bytes: fits a datagram from the start
	if err := la.SendData(small); err != nil {
		t.Fatal(err)
	}
	e, err := rb.WaitKind(ctx(t), linktest.Data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.Pkt, small[wire.OuterHeaderSize:]) {
		t.Error("small data packet corrupted")
	}
	mid := la.(quicStatser).QUICStats()
	if mid.DatagramsSent != before.DatagramsSent+1 || mid.StreamFallbacks != before.StreamFallbacks {
		t.Errorf("small packet: stats %+v -> %+v, want one more datagram", before, mid)
	}

	big := dataPacket(1432, 2) // 1472 bytes: a full-size overlay packet
	if err := la.SendData(big); err != nil {
		t.Fatal(err)
	}
	e, err = rb.Wait(ctx(t), func(e linktest.Event) bool { return e.Kind == linktest.Data && len(e.Pkt) == len(big)-4 })
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.Pkt, big[wire.OuterHeaderSize:]) {
		t.Error("full-size data packet corrupted")
	}
	after := la.(quicStatser).QUICStats()
	if after.StreamFallbacks != mid.StreamFallbacks+1 {
		t.Errorf("full-size packet: stats %+v -> %+v, want one more stream fallback", mid, after)
	}
	if after.MaxDatagram < after.LargestDatagram || after.MaxDatagram >= len(big) {
		t.Errorf("MaxDatagram = %d, want the quic-go limit below %d", after.MaxDatagram, len(big))
	}
	t.Logf("quic-go datagram limit at connection start: %d bytes", after.MaxDatagram)
}

// TestQUICDatagramLimitAfterPMTUD measures quic-go's datagram limit once
// path MTU discovery has run; it takes seconds, so it runs on request.
func TestQUICDatagramLimitAfterPMTUD(t *testing.T) {
	if os.Getenv("MYCELIUM_MEASURE") == "" {
		t.Skip("set MYCELIUM_MEASURE=1 to measure the datagram limit after path MTU discovery")
	}
	la, _, _, _, _ := quicPair(t)
	start := time.Now()
	pkt := dataPacket(1432, 0)
	last := 0
	for time.Since(start) < 8*time.Second {
		_ = la.SendData(pkt)
		if s := la.(quicStatser).QUICStats(); s.MaxDatagram != last {
			last = s.MaxDatagram
			t.Logf("after %v: datagram limit %d", time.Since(start).Round(100*time.Millisecond), last)
		}
		time.Sleep(1100 * time.Millisecond)
	}
}

// rawClientTLS is a client like the reference's: SNI dummy.mycelium, no
// verification and no ALPN.
func rawClientTLS() *tls.Config {
	return &tls.Config{ServerName: "dummy.mycelium", InsecureSkipVerify: true, MinVersion: tls.VersionTLS13} //nolint:gosec // test of the protocol
}

func TestQUICHandshakeWithoutALPN(t *testing.T) {
	r := &linktest.Recorder{}
	m, _ := startManager(t, quicTestConfig(1), r)

	c, err := quic.DialAddr(ctx(t), m.QUICAddr().String(), rawClientTLS(), &quic.Config{EnableDatagrams: true})
	if err != nil {
		t.Fatalf("dial without ALPN: %v", err)
	}
	defer c.CloseWithError(0, "")
	st := c.ConnectionState()
	if st.TLS.NegotiatedProtocol != "" {
		t.Errorf("negotiated ALPN %q, want none", st.TLS.NegotiatedProtocol)
	}
	if !st.SupportsDatagrams.Remote {
		t.Error("server did not enable DATAGRAM frames")
	}
	cert := st.TLS.PeerCertificates[0]
	if want := routerID(1).String(); len(cert.DNSNames) != 1 || cert.DNSNames[0] != want {
		t.Errorf("server certificate names %v, want [%s]", cert.DNSNames, want)
	}

	s, err := c.OpenStreamSync(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(hello(5)); err != nil {
		t.Fatal(err)
	}
	l := waitUp(t, r)
	if _, err := r.WaitKind(ctx(t), linktest.Control, l); err != nil {
		t.Fatal(err)
	}
	// a data packet in a datagram, with trailing bytes that are ignored
	if err := c.SendDatagram(append(dataPacket(64, 9), 0xff, 0xff)); err != nil {
		t.Fatal(err)
	}
	e, err := r.WaitKind(ctx(t), linktest.Data, l)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.Pkt, dataPacket(64, 9)[4:]) {
		t.Error("datagram payload corrupted")
	}
	// the link sends small data packets as datagrams
	if err := l.SendData(dataPacket(10, 3)); err != nil {
		t.Fatal(err)
	}
	d, err := c.ReceiveDatagram(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d, dataPacket(10, 3)) {
		t.Errorf("received datagram %x, want %x", d, dataPacket(10, 3))
	}
	// a datagram of <= 4 bytes tears the link down
	if err := c.SendDatagram([]byte{1, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if err := waitDown(t, r, l); !errors.Is(err, link.ErrProtocol) {
		t.Errorf("LinkDown after a 4-byte datagram = %v, want ErrProtocol", err)
	}
	select {
	case <-c.Context().Done():
	case <-time.After(5 * time.Second):
		t.Error("the QUIC connection stayed open after the link went down")
	}
}

func TestQUICDialOffersNoALPN(t *testing.T) {
	cert := selfSigned(t)
	offered := make(chan []string, 1)
	server := &tls.Config{
		Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			offered <- h.SupportedProtos
			if h.ServerName != "dummy.mycelium" {
				t.Errorf("SNI %q, want dummy.mycelium", h.ServerName)
			}
			return nil, nil
		},
	}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: udp}
	defer udp.Close()
	defer tr.Close()
	ln, err := tr.Listen(server, &quic.Config{EnableDatagrams: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	r := &linktest.Recorder{OnUp: sendOnUp}
	cfg := quicTestConfig(2)
	cfg.Peers = []link.Endpoint{{Proto: link.ProtoQUIC, Addr: udp.LocalAddr().(*net.UDPAddr).AddrPort()}}
	startManager(t, cfg, r)
	c, err := ln.Accept(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseWithError(0, "")
	if p := <-offered; len(p) != 0 {
		t.Errorf("client offered ALPN %q, want none", p)
	}
	s, err := c.AcceptStream(ctx(t))
	if err != nil {
		t.Fatalf("accept the dialler's stream: %v", err)
	}
	buf := make([]byte, 16)
	if _, err := s.Read(buf); err != nil || !bytes.Equal(buf, hello(0)) {
		t.Errorf("first stream bytes %x, %v; want the Update queued on LinkUp", buf, err)
	}
}

func TestQUICStreamBudget(t *testing.T) {
	cfg := quicTestConfig(1)
	cfg.QUICHandshakeTimeout = 300 * time.Millisecond
	r := &linktest.Recorder{}
	m, _ := startManager(t, cfg, r)
	c, err := quic.DialAddr(ctx(t), m.QUICAddr().String(), rawClientTLS(), &quic.Config{EnableDatagrams: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseWithError(0, "")
	// never open a stream: the server gives up after the budget
	select {
	case <-c.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("server kept a connection without a stream past the handshake budget")
	}
	if n := len(r.Events()); n != 0 {
		t.Errorf("%d handler events for a connection that never opened a stream", n)
	}
}

func TestQUICRefusedWhenDisabled(t *testing.T) {
	m, _ := startManager(t, testConfig(1), &linktest.Recorder{})
	err := m.AddPeer(link.MustParseEndpoint("quic://[::1]:9651"))
	if !errors.Is(err, link.ErrUnsupported) {
		t.Errorf("AddPeer(quic) with QUIC disabled = %v, want ErrUnsupported", err)
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"test.invalid"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
