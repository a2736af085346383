package link

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	"github.com/quic-go/quic-go"
)

// quicServerName is the SNI the reference's QUIC client sends. It
// verifies nothing, so neither do we (spec §2.4).
const quicServerName = "dummy.mycelium"

// Reference transport parameters (spec §2.4).
const (
	quicKeepAlive   = 20 * time.Second
	quicIdleTimeout = 60 * time.Second
	// quicPacketSize is the largest UDP payload quic-go sends; the
	// reference starts at 1500 but quic-go caps packets at 1452.
	quicPacketSize = 1452
	quicMaxStreams = 5
)

// newServerCert makes a fresh self-signed ECDSA P-256 certificate whose
// only name is the router ID text form, as the reference does at every
// start. Peers do not verify it; rustls only checks that the handshake
// signature is made with a key type it supports.
func newServerCert(name string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate quic key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate quic cert serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create quic cert: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// quicTLS returns the server and client TLS configurations. Neither sets
// NextProtos: the reference configures no ALPN, and rustls refuses a QUIC
// handshake that offers protocols it does not know.
func quicTLS(routerID string) (server, client *tls.Config, err error) {
	cert, err := newServerCert(routerID)
	if err != nil {
		return nil, nil, err
	}
	server = &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS13,
	}
	client = &tls.Config{
		ServerName: quicServerName,
		// The reference accepts any certificate: link identity is not
		// authenticated; trust comes from end-to-end encryption.
		InsecureSkipVerify: true, //nolint:gosec // protocol requirement, spec §2.4
		MinVersion:         tls.VersionTLS13,
	}
	return server, client, nil
}

// quicConfig is the quic-go configuration for both directions.
func quicConfig(handshakeTimeout time.Duration) *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:       handshakeTimeout,
		MaxIdleTimeout:             quicIdleTimeout,
		KeepAlivePeriod:            quicKeepAlive,
		InitialPacketSize:          quicPacketSize,
		EnableDatagrams:            true,
		MaxIncomingStreams:         quicMaxStreams,
		MaxIncomingUniStreams:      -1, // none
		MaxStreamReceiveWindow:     10 << 20,
		MaxConnectionReceiveWindow: 16 << 20,
	}
}
