package identity

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Sizes of the data-packet sealing (spec §5.2): ciphertext || tag || nonce.
const (
	NonceSize = 12
	TagSize   = 16
	// Overhead is what sealing adds to a plaintext.
	Overhead = TagSize + NonceSize
)

// ErrOpen is returned when a sealed body fails authentication or is too
// short to hold a tag and a nonce.
var ErrOpen = errors.New("identity: packet authentication failed")

// SharedSecret seals and opens data-packet bodies exchanged with one remote
// node. It is safe for concurrent use.
type SharedSecret struct {
	aead cipher.AEAD
}

// NewSharedSecret returns sealing state for a raw 32-byte AES-256 key.
func NewSharedSecret(key [KeySize]byte) (*SharedSecret, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("identity: aes key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("identity: gcm: %w", err)
	}
	return &SharedSecret{aead: aead}, nil
}

// Seal encrypts plaintext and appends ciphertext, tag and a random nonce to
// dst, exactly as the reference lays out a data-packet body (AES-256-GCM,
// empty AAD, nonce after the tag). It allocates nothing when dst has
// len(plaintext)+Overhead bytes of spare capacity. dst and plaintext may
// overlap exactly (dst = plaintext[:0]) for in-place sealing.
func (s *SharedSecret) Seal(dst, plaintext []byte) []byte {
	ret, out := grow(dst, len(plaintext)+Overhead)
	nonce := out[len(plaintext)+TagSize:]
	rand.Read(nonce) // never fails since Go 1.24
	s.aead.Seal(out[:0], nonce, plaintext, nil)
	return ret
}

// sealWithNonce is Seal with a caller-chosen nonce, for test vectors.
func (s *SharedSecret) sealWithNonce(dst, plaintext []byte, nonce *[NonceSize]byte) []byte {
	ret, out := grow(dst, len(plaintext)+Overhead)
	copy(out[len(plaintext)+TagSize:], nonce[:])
	s.aead.Seal(out[:0], nonce[:], plaintext, nil)
	return ret
}

// grow extends dst by n bytes, reusing its capacity when it can. It returns
// the extended slice and its last n bytes.
func grow(dst []byte, n int) (ret, tail []byte) {
	total := len(dst) + n
	if cap(dst) >= total {
		ret = dst[:total]
	} else {
		ret = make([]byte, total)
		copy(ret, dst)
	}
	return ret, ret[len(dst):]
}

// SealInPlace seals the first n bytes of buf in place and returns the
// sealed body, buf[:n+Overhead]. buf must have capacity for n+Overhead.
func (s *SharedSecret) SealInPlace(buf []byte, n int) []byte {
	return s.Seal(buf[:0], buf[:n])
}

// Open authenticates and decrypts a sealed body and appends the plaintext
// to dst. dst and body may overlap exactly (dst = body[:0]) for in-place
// opening. It returns ErrOpen for a short or forged body.
func (s *SharedSecret) Open(dst, body []byte) ([]byte, error) {
	if len(body) < Overhead {
		return nil, ErrOpen
	}
	n := len(body) - NonceSize
	out, err := s.aead.Open(dst, body[n:], body[:n], nil)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}
