// Package passwd hashes and verifies local-account passwords with
// argon2id, stored in the PHC string format
// ($argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>, unpadded base64).
package passwd

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// Default follows the OWASP minimum for argon2id (19 MiB, 2 passes, 1
// lane): cheap enough for a small node, memory-hard against GPUs.
var Default = Params{Memory: 19 * 1024, Time: 2, Threads: 1}

// Limits on parameters read from stored hashes, so that a corrupted or
// hostile hash string cannot make Verify allocate gigabytes.
const (
	maxMemory  = 1 << 20 // 1 GiB in KiB
	maxTime    = 16
	maxThreads = 16
	saltLen    = 16
	keyLen     = 32
)

// ErrMalformed is returned for a hash string that is not ours.
var ErrMalformed = errors.New("passwd: malformed hash")

var b64 = base64.RawStdEncoding

// Hash returns the PHC string of password with fresh salt.
func Hash(password string, p Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("passwd: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether password matches the PHC string hash.
func Verify(hash, password string) (bool, error) {
	h, err := Parse(hash)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(password), h.Salt, h.Params.Time, h.Params.Memory, h.Params.Threads, uint32(len(h.Key)))
	return subtle.ConstantTimeCompare(key, h.Key) == 1, nil
}

// Parsed is a decoded PHC string.
type Parsed struct {
	Params Params
	Salt   []byte
	Key    []byte
}

// Parse decodes a PHC argon2id string and checks its parameters.
func Parse(s string) (Parsed, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Parsed{}, ErrMalformed
	}
	var (
		p   Params
		got int
	)
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || n == 0 {
			return Parsed{}, ErrMalformed
		}
		switch k {
		case "m":
			p.Memory, got = uint32(n), got|1
		case "t":
			p.Time, got = uint32(n), got|2
		case "p":
			if n > maxThreads {
				return Parsed{}, ErrMalformed
			}
			p.Threads, got = uint8(n), got|4
		default:
			return Parsed{}, ErrMalformed
		}
	}
	if got != 7 || p.Memory > maxMemory || p.Time > maxTime || p.Memory < 8*uint32(p.Threads) {
		return Parsed{}, ErrMalformed
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return Parsed{}, ErrMalformed
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return Parsed{}, ErrMalformed
	}
	return Parsed{Params: p, Salt: salt, Key: key}, nil
}
