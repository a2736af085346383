package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// LeafRequest asks for a server certificate.
type LeafRequest struct {
	// Name names the stored leaf (the plugin's name): leaf/<Name>.crt.
	Name string
	// DNSNames and IPs are the subject alternative names.
	DNSNames []string
	IPs      []netip.Addr
}

// Leaf is an issued server certificate.
type Leaf struct {
	CertPEM  []byte // the leaf certificate
	KeyPEM   []byte // its private key (PKCS#8)
	NotAfter time.Time
	// Skipped lists requested DNS names left out because the CA's name
	// constraints do not cover them (names configured after the CA was
	// created).
	Skipped []string
}

// RenewAt is when the leaf should be replaced.
func (l *Leaf) RenewAt() time.Time { return l.NotAfter.Add(-RenewBefore) }

// Leaf returns a server certificate for req: the stored one if it is
// valid for at least RenewBefore, signed by this CA and for exactly the
// requested names; otherwise a new one, which is stored. DNS names outside
// the CA's name constraints are left out and reported in Skipped.
func (c *CA) Leaf(req LeafRequest) (*Leaf, error) {
	if err := validateLeafName(req.Name); err != nil {
		return nil, fmt.Errorf("ca: leaf: %w", err)
	}
	dns, skipped, err := c.sans(req.DNSNames)
	if err != nil {
		return nil, fmt.Errorf("ca: leaf %s: %w", req.Name, err)
	}
	ips := canonicalIPs(req.IPs)
	for _, ip := range ips {
		if !c.permitsIP(ip) {
			return nil, fmt.Errorf("ca: leaf %s: IP %s is outside the CA's name constraints", req.Name, ip)
		}
	}
	dir := filepath.Join(c.dir, leafDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ca: leaf %s: %w", req.Name, err)
	}
	unlock, err := lock(filepath.Join(c.dir, lockFile))
	if err != nil {
		return nil, fmt.Errorf("ca: leaf %s: %w", req.Name, err)
	}
	defer unlock()
	certPath, keyPath := filepath.Join(dir, req.Name+".crt"), filepath.Join(dir, req.Name+".key")
	if l, ok := c.stored(certPath, keyPath, dns, ips); ok {
		l.Skipped = skipped
		return l, nil
	}
	l, err := c.issue(dns, ips)
	if err != nil {
		return nil, fmt.Errorf("ca: leaf %s: %w", req.Name, err)
	}
	if err := writeFile(keyPath, l.KeyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("ca: leaf %s: %w", req.Name, err)
	}
	if err := writeFile(certPath, l.CertPEM, 0o600); err != nil {
		return nil, fmt.Errorf("ca: leaf %s: %w", req.Name, err)
	}
	l.Skipped = skipped
	return l, nil
}

// sans validates, lower-cases and de-duplicates the DNS names, and splits
// off those the constraints do not permit.
func (c *CA) sans(names []string) (dns, skipped []string, err error) {
	for _, n := range names {
		if err := ValidateDNSName(n); err != nil {
			return nil, nil, err
		}
		n = strings.ToLower(n)
		switch {
		case slices.Contains(dns, n) || slices.Contains(skipped, n):
		case len(c.cert.PermittedDNSDomains) > 0 && !permits(c.cert.PermittedDNSDomains, n):
			skipped = append(skipped, n)
		default:
			dns = append(dns, n)
		}
	}
	if len(dns) == 0 {
		return nil, nil, errors.New("no DNS name inside the CA's name constraints")
	}
	return dns, skipped, nil
}

func (c *CA) permitsIP(ip netip.Addr) bool {
	if len(c.cert.PermittedIPRanges) == 0 {
		return true
	}
	nip := net.IP(ip.AsSlice())
	for _, r := range c.cert.PermittedIPRanges {
		if len(r.IP) == len(nip) && r.Contains(nip) {
			return true
		}
	}
	return false
}

// canonicalIPs unmaps IPv4-mapped addresses and removes duplicates.
func canonicalIPs(in []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, ip := range in {
		ip = ip.Unmap()
		if ip.IsValid() && !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	return out
}

// stored returns the stored leaf if it can be reused.
func (c *CA) stored(certPath, keyPath string, dns []string, ips []netip.Addr) (*Leaf, bool) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, false
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, false
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil || cert.CheckSignatureFrom(c.cert) != nil {
		return nil, false
	}
	key, err := decodeKey(keyPEM)
	if err != nil || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, false
	}
	now := c.now()
	if now.Before(cert.NotBefore) || now.Add(RenewBefore).After(cert.NotAfter) {
		return nil, false
	}
	if !sameSet(cert.DNSNames, dns) || !sameIPs(cert.IPAddresses, ips) {
		return nil, false
	}
	return &Leaf{CertPEM: certPEM, KeyPEM: keyPEM, NotAfter: cert.NotAfter}, true
}

// issue signs a new leaf.
func (c *CA) issue(dns []string, ips []netip.Addr) (*Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := c.now()
	notAfter := now.Add(LeafValidity)
	if notAfter.After(c.cert.NotAfter) {
		notAfter = c.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: dns[0]},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(ip.AsSlice()))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return &Leaf{
		CertPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:   keyPEM,
		NotAfter: notAfter,
	}, nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}

func sameIPs(have []net.IP, want []netip.Addr) bool {
	if len(have) != len(want) {
		return false
	}
	for _, ip := range have {
		a, ok := netip.AddrFromSlice(ip)
		if !ok || !slices.Contains(want, a.Unmap()) {
			return false
		}
	}
	return true
}

func validateLeafName(name string) error {
	if name == "" || len(name) > 64 || strings.ContainsAny(name, `/\`) || name[0] == '.' {
		return fmt.Errorf("bad leaf name %q", name)
	}
	return nil
}
