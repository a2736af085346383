package identity

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
)

// KeySize is the size of X25519 secret and public keys.
const KeySize = 32

// PublicKey is an X25519 public key, a node's identity on the overlay.
type PublicKey [KeySize]byte

// String returns the 64 lowercase hex digits used everywhere in the APIs.
func (k PublicKey) String() string { return hex.EncodeToString(k[:]) }

// IsZero reports whether k is all zeroes.
func (k PublicKey) IsZero() bool { return k == PublicKey{} }

// Address returns the overlay address derived from k.
func (k PublicKey) Address() netip.Addr { return AddressOf(k) }

// Subnet returns the /64 derived from k.
func (k PublicKey) Subnet() netip.Prefix { return SubnetOf(k) }

// MarshalText implements encoding.TextMarshaler (64 hex digits).
func (k PublicKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *PublicKey) UnmarshalText(b []byte) error {
	p, err := ParsePublicKey(string(b))
	if err != nil {
		return err
	}
	*k = p
	return nil
}

// ErrKeyText is returned for a public key text that is not 64 hex digits.
var ErrKeyText = errors.New("identity: public key must be exactly 64 hex digits")

// ParsePublicKey parses exactly 64 hex digits (either case), as the
// reference does.
func ParsePublicKey(s string) (PublicKey, error) {
	var k PublicKey
	if len(s) != 2*KeySize {
		return k, ErrKeyText
	}
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return k, fmt.Errorf("%w: %v", ErrKeyText, err)
	}
	return k, nil
}

// KeyPair is a node's static X25519 key pair.
type KeyPair struct {
	secret [KeySize]byte
	priv   *ecdh.PrivateKey
	public PublicKey
}

// GenerateKeyPair returns a fresh key pair from the OS random source.
func GenerateKeyPair() (*KeyPair, error) {
	var s [KeySize]byte
	if _, err := rand.Read(s[:]); err != nil {
		return nil, fmt.Errorf("identity: generate key: %w", err)
	}
	return NewKeyPair(s)
}

// NewKeyPair builds the key pair for the 32-byte secret. Clamping is done
// by the X25519 function, as the reference does it.
func NewKeyPair(secret [KeySize]byte) (*KeyPair, error) {
	priv, err := ecdh.X25519().NewPrivateKey(secret[:])
	if err != nil {
		return nil, fmt.Errorf("identity: x25519 key: %w", err)
	}
	kp := &KeyPair{secret: secret, priv: priv}
	copy(kp.public[:], priv.PublicKey().Bytes())
	return kp, nil
}

// Public returns the public key.
func (kp *KeyPair) Public() PublicKey { return kp.public }

// Secret returns the raw 32 secret bytes, as stored in the key file.
func (kp *KeyPair) Secret() [KeySize]byte { return kp.secret }

// Address returns the node's overlay address.
func (kp *KeyPair) Address() netip.Addr { return AddressOf(kp.public) }

// Subnet returns the node's /64.
func (kp *KeyPair) Subnet() netip.Prefix { return SubnetOf(kp.public) }

// ErrLowOrderKey is returned when a remote public key yields an all-zero
// shared secret (a low-order point). Such a key can never be used safely.
var ErrLowOrderKey = errors.New("identity: remote public key is a low-order point")

// SharedKey returns the raw X25519 shared secret with remote. The reference
// uses these 32 bytes directly as the AES-256-GCM key (no KDF).
func (kp *KeyPair) SharedKey(remote PublicKey) ([KeySize]byte, error) {
	var out [KeySize]byte
	pub, err := ecdh.X25519().NewPublicKey(remote[:])
	if err != nil {
		return out, fmt.Errorf("identity: remote key: %w", err)
	}
	b, err := kp.priv.ECDH(pub)
	if err != nil {
		// crypto/ecdh reports an all-zero result as an error.
		return out, ErrLowOrderKey
	}
	copy(out[:], b)
	return out, nil
}

// SharedSecret returns the sealing state for traffic with remote.
func (kp *KeyPair) SharedSecret(remote PublicKey) (*SharedSecret, error) {
	k, err := kp.SharedKey(remote)
	if err != nil {
		return nil, err
	}
	return NewSharedSecret(k)
}
