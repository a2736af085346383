package store

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters (the OWASP minimum recommendation: 19 MiB, 2 passes).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
)

var b64 = base64.RawStdEncoding

// HashPassword returns a PHC-format argon2id hash of password.
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("hash password: empty password")
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches the PHC-format argon2id
// hash.
func VerifyPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("verify password: not an argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("verify password: unsupported argon2 version")
	}
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, fmt.Errorf("verify password: parameters: %w", err)
	}
	if m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 {
		return false, errors.New("verify password: parameters out of range")
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("verify password: salt: %w", err)
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 64 {
		return false, errors.New("verify password: bad key")
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// authCache remembers recent successful verifications so a client that
// opens many connections (Thunderbird opens several, and checks every
// folder) does not pay argon2id each time. An entry is valid only while the
// stored hash is unchanged and for authCacheTTL; it holds an HMAC of the
// password under a per-process random key, never the password.
type authCache struct {
	key   [32]byte
	mu    sync.Mutex
	m     map[string]authEntry // user local part -> entry
	locks map[string]*userLock // user local part -> verification lock
}

type userLock struct {
	mu   sync.Mutex
	refs int
}

// lockUser serialises password verification for one user.
func (c *authCache) lockUser(user string) (unlock func()) {
	c.mu.Lock()
	l := c.locks[user]
	if l == nil {
		l = &userLock{}
		c.locks[user] = l
	}
	l.refs++
	c.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		c.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(c.locks, user)
		}
		c.mu.Unlock()
	}
}

type authEntry struct {
	hash    string
	mac     [32]byte
	expires time.Time
}

const authCacheTTL = 10 * time.Minute

func newAuthCache() *authCache {
	c := &authCache{m: make(map[string]authEntry), locks: make(map[string]*userLock)}
	rand.Read(c.key[:])
	return c
}

func (c *authCache) mac(password string) [32]byte {
	h := hmac.New(sha256.New, c.key[:])
	h.Write([]byte(password))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

func (c *authCache) hit(user, hash, password string) bool {
	mac := c.mac(password)
	c.mu.Lock()
	e, ok := c.m[user]
	c.mu.Unlock()
	return ok && e.hash == hash && time.Now().Before(e.expires) && hmac.Equal(e.mac[:], mac[:])
}

func (c *authCache) add(user, hash, password string) {
	e := authEntry{hash: hash, mac: c.mac(password), expires: time.Now().Add(authCacheTTL)}
	c.mu.Lock()
	c.m[user] = e
	c.mu.Unlock()
}
