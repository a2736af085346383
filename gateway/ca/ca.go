// Package ca is the node's local certificate authority. Clients that
// insist on TLS (Apple Mail, iOS, Thunderbird with IMAP/DAV) trust its
// certificate once, after `mycelium ca export`, and every service of the
// node gets a leaf certificate from it.
//
// Keys are ECDSA P-256 with SHA-256 signatures, which Apple platforms,
// NSS (Thunderbird, Firefox), OpenSSL (curl) and Go all accept. The CA
// certificate carries critical name constraints, so even a stolen CA key
// can only vouch for this node's kind of names: DNS "localhost",
// "mycelium.internal" and its subdomains, and the node names configured
// when the CA was created; IP addresses in 400::/7 (the overlay),
// 127.0.0.0/8 and ::1.
//
// Layout of the CA directory (usually <data-dir>/ca):
//
//	ca.crt         the CA certificate, PEM (0644)
//	ca.key         its private key, PKCS#8 PEM (0600)
//	leaf/<name>.crt, leaf/<name>.key   issued leaves, reused until renewal
//	lock           serializes creation and issuance between processes
//
// Every file is written durably: to a temporary file, fsynced, renamed
// into place, and the directory fsynced.
package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names inside the CA directory.
const (
	CertFile = "ca.crt"
	KeyFile  = "ca.key"
	leafDir  = "leaf"
	lockFile = "lock"
)

// Validity periods.
const (
	// CAValidity is the CA certificate's lifetime.
	CAValidity = 10 * 365 * 24 * time.Hour
	// LeafValidity is a leaf's lifetime: one year, well inside Apple's
	// 825-day limit for TLS server certificates.
	LeafValidity = 365 * 24 * time.Hour
	// RenewBefore is how long before expiry a leaf is replaced.
	RenewBefore = 30 * 24 * time.Hour
	// backdate moves NotBefore into the past against clock skew.
	backdate = time.Hour
)

// MailSuffix is the DNS suffix of node mail domains.
const MailSuffix = "mycelium.internal"

// ErrNoCA is returned by ReadCertPEM when the directory holds no CA yet.
var ErrNoCA = errors.New("ca: no CA certificate")

// MailDomain returns a node's canonical mail domain: the 32 lowercase hex
// digits of its overlay address under MailSuffix.
func MailDomain(addr netip.Addr) string {
	b := addr.As16()
	return hex.EncodeToString(b[:]) + "." + MailSuffix
}

// Options configure Open.
type Options struct {
	// CommonName is the CA certificate's subject common name, shown in
	// trust stores; default "Mycelium node CA".
	CommonName string
	// Names are the node's DNS names. When the CA is created they join the
	// permitted DNS name constraints; later additions are outside them.
	Names []string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// CA is a loaded certificate authority. It is safe for concurrent use.
type CA struct {
	dir     string
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
	now     func() time.Time
}

// Open loads the CA in dir, creating the directory and a new CA on first
// use. Creation and loading are serialized with other processes (the node
// and its CLI) by a lock file.
func Open(dir string, opts Options) (*CA, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CommonName == "" {
		opts.CommonName = "Mycelium node CA"
	}
	for _, n := range opts.Names {
		if err := ValidateDNSName(n); err != nil {
			return nil, fmt.Errorf("ca: open: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("ca: open: %w", err)
	}
	unlock, err := lock(filepath.Join(dir, lockFile))
	if err != nil {
		return nil, fmt.Errorf("ca: open: %w", err)
	}
	defer unlock()
	c := &CA{dir: dir, now: opts.Now}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); errors.Is(err, os.ErrNotExist) {
		err = c.create(opts)
		if err != nil {
			return nil, fmt.Errorf("ca: create in %s: %w", dir, err)
		}
		return c, nil
	}
	if err := c.load(); err != nil {
		return nil, fmt.Errorf("ca: load from %s: %w", dir, err)
	}
	return c, nil
}

// ReadCertPEM returns the CA certificate in dir, PEM-encoded, without
// creating anything: for `mycelium ca export` with the node stopped.
func ReadCertPEM(dir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, CertFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s: start the node once to create it", ErrNoCA, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("ca: read certificate: %w", err)
	}
	if _, err := parseCertPEM(b); err != nil {
		return nil, fmt.Errorf("ca: %s: %w", filepath.Join(dir, CertFile), err)
	}
	return b, nil
}

// CertPEM returns the CA certificate, PEM-encoded.
func (c *CA) CertPEM() []byte { return append([]byte(nil), c.certPEM...) }

// Certificate returns the parsed CA certificate.
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// Pool returns a certificate pool holding only this CA.
func (c *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

// Dir is the CA directory.
func (c *CA) Dir() string { return c.dir }

// create makes a new key and self-signed certificate and stores both.
func (c *CA) create(opts Options) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := opts.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: opts.CommonName, Organization: []string{"Mycelium"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	setConstraints(tmpl, opts.Names)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("sign CA certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// The certificate first: a directory with a key but no certificate
	// would fail to load, one with only a certificate is re-created.
	if err := writeFile(filepath.Join(c.dir, CertFile), certPEM, 0o644); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(c.dir, KeyFile), keyPEM, 0o600); err != nil {
		return err
	}
	c.key, c.certPEM = key, certPEM
	c.cert, err = x509.ParseCertificate(der)
	return err
}

// load reads and checks the stored key and certificate.
func (c *CA) load() error {
	certPEM, err := os.ReadFile(filepath.Join(c.dir, CertFile))
	if err != nil {
		return err
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return fmt.Errorf("%s: %w", CertFile, err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(c.dir, KeyFile))
	if err != nil {
		return err
	}
	key, err := decodeKey(keyPEM)
	if err != nil {
		return fmt.Errorf("%s: %w", KeyFile, err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return fmt.Errorf("%s does not belong to %s", KeyFile, CertFile)
	}
	if !cert.IsCA {
		return fmt.Errorf("%s is not a CA certificate", CertFile)
	}
	c.cert, c.certPEM, c.key = cert, certPEM, key
	return nil
}

// permittedIPs are the IP name constraints: the overlay, and loopback.
var permittedIPs = []*net.IPNet{
	{IP: net.ParseIP("400::"), Mask: net.CIDRMask(7, 128)},
	{IP: net.IPv4(127, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)},
	{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
}

// setConstraints adds the critical name constraints.
func setConstraints(tmpl *x509.Certificate, names []string) {
	dns := []string{"localhost", MailSuffix}
	for _, n := range names {
		if !permits(dns, n) {
			dns = append(dns, strings.ToLower(n))
		}
	}
	tmpl.PermittedDNSDomainsCritical = true
	tmpl.PermittedDNSDomains = dns
	tmpl.PermittedIPRanges = permittedIPs
}

// permits reports whether a DNS name falls under one of the constraints
// (RFC 5280: the constraint itself or any name with labels added on the
// left).
func permits(constraints []string, name string) bool {
	name = strings.ToLower(name)
	for _, c := range constraints {
		c = strings.ToLower(strings.TrimPrefix(c, "."))
		if name == c || strings.HasSuffix(name, "."+c) {
			return true
		}
	}
	return false
}

// ValidateDNSName checks a node name: dot-separated labels of 1-63
// letters, digits and inner hyphens, 253 characters at most.
func ValidateDNSName(name string) error {
	if name == "" || len(name) > 253 {
		return fmt.Errorf("DNS name %q: must be 1-253 characters", name)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("DNS name %q: bad label %q", name, label)
		}
		for i := 0; i < len(label); i++ {
			ch := label[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-') {
				return fmt.Errorf("DNS name %q: character %q not allowed", name, ch)
			}
		}
	}
	return nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("ca: crypto/rand failed: " + err.Error()) // never happens: crypto/rand does not fail
	}
	return n.Add(n, big.NewInt(1))
}

// keyID is the SHA-1 of the public key bytes (RFC 5280 4.2.1.2 method 1).
func keyID(pub *ecdsa.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	sum := sha1.Sum(der)
	return sum[:]
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func decodeKey(b []byte) (*ecdsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, errors.New("no PRIVATE KEY PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is a %T, want ECDSA", k)
	}
	return ek, nil
}

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("no CERTIFICATE PEM block")
	}
	return x509.ParseCertificate(blk.Bytes)
}
