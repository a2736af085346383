// Package passwd is the one implementation of local-account passwords for
// every plugin: argon2id hashes in PHC string form (Hash, Verify), a cache
// of recent successful logins that bounds the argon2 work a login storm
// can cause (Cache), and reading a new password for an `adduser` or
// `passwd` subcommand (ReadNew).
//
// A stored hash looks like
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// with salt and key in unpadded standard base64. Verify uses the cost
// parameters written in the hash, so Default can be raised later without
// invalidating existing accounts.
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
	Time    uint32 // passes over the memory
	Threads uint8  // lanes
}

// Default is what Hash uses: the OWASP baseline for argon2id, 19 MiB of
// memory, 2 passes, 1 lane. One verification takes about 36 ms of one core
// on a 2-core x86-64 VM (BenchmarkVerify) and 19 MiB while it runs; a
// Cache runs at most two at a time, so a login storm costs the node under
// 40 MiB. Memory hardness is what makes GPU guessing expensive; one lane
// keeps each login on one core, since a server verifies concurrent logins
// in parallel anyway. Raise Memory first if nodes grow.
var Default = Params{Memory: 19 * 1024, Time: 2, Threads: 1}

// Limits on stored parameters, so that a corrupted or hostile hash cannot
// make Verify allocate gigabytes or spin for minutes.
const (
	maxMemory  = 1 << 20 // KiB: 1 GiB
	maxTime    = 32
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64

	saltLen = 16
	keyLen  = 32
)

// ErrMalformed is returned (wrapped) for a stored hash that is not an
// argon2id PHC string within the limits above.
var ErrMalformed = errors.New("malformed password hash")

// b64 is the PHC encoding: standard alphabet, no padding, and canonical
// (Strict) so every hash has exactly one spelling.
var b64 = base64.RawStdEncoding.Strict()

// Hash returns the PHC string of password under Default with a fresh
// random salt.
func Hash(password string) (string, error) {
	return HashWith(Default, password)
}

// HashWith is Hash with explicit parameters (tests use cheap ones).
func HashWith(p Params, password string) (string, error) {
	if password == "" {
		return "", errors.New("hash password: empty password")
	}
	if err := p.check(); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	h := phc{Params: p, Salt: make([]byte, saltLen)}
	rand.Read(h.Salt) // never fails (crypto/rand since Go 1.24)
	h.Key = h.derive(password, keyLen)
	return h.String(), nil
}

// Verify reports whether password matches the PHC string hash, comparing
// in constant time. A malformed hash is an error wrapping ErrMalformed.
func Verify(hash, password string) (bool, error) {
	h, err := parse(hash)
	if err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	got := h.derive(password, uint32(len(h.Key)))
	return subtle.ConstantTimeCompare(got, h.Key) == 1, nil
}

// phc is a decoded argon2id PHC string.
type phc struct {
	Params
	Salt []byte
	Key  []byte
}

func (h phc) derive(password string, n uint32) []byte {
	return argon2.IDKey([]byte(password), h.Salt, h.Time, h.Memory, h.Threads, n)
}

// String encodes h in PHC form; parse(h.String()) gives h back.
func (h phc) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.Memory, h.Time, h.Threads, b64.EncodeToString(h.Salt), b64.EncodeToString(h.Key))
}

// check reports parameters argon2 cannot run or that exceed the limits.
// RFC 9106 requires at least 8 KiB of memory per lane.
func (p Params) check() error {
	switch {
	case p.Threads == 0 || p.Time == 0:
		return fmt.Errorf("%w: zero time or lanes", ErrMalformed)
	case p.Memory < 8*uint32(p.Threads):
		return fmt.Errorf("%w: less than 8 KiB of memory per lane", ErrMalformed)
	case p.Memory > maxMemory || p.Time > maxTime:
		return fmt.Errorf("%w: cost m=%d,t=%d over the limit m=%d,t=%d", ErrMalformed, p.Memory, p.Time, maxMemory, maxTime)
	}
	return nil
}

// parse decodes a PHC argon2id string strictly: fields in the order
// Hash writes them, decimal numbers without sign or leading zeros,
// canonical base64. Stored hashes come from Hash (or a compatible tool),
// so there is no reason to accept other spellings.
func parse(s string) (phc, error) {
	// The base64 decoder skips CR and LF even when Strict.
	if strings.ContainsAny(s, "\r\n") {
		return phc{}, fmt.Errorf("%w: line break in hash", ErrMalformed)
	}
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return phc{}, fmt.Errorf("%w: not an argon2id PHC string", ErrMalformed)
	}
	if f[2] != "v="+strconv.Itoa(argon2.Version) {
		return phc{}, fmt.Errorf("%w: unsupported argon2 version %q", ErrMalformed, f[2])
	}
	p, err := parseParams(f[3])
	if err != nil {
		return phc{}, err
	}
	salt, err := b64.DecodeString(f[4])
	if err != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return phc{}, fmt.Errorf("%w: salt must be %d to %d bytes of base64", ErrMalformed, minSaltLen, maxSaltLen)
	}
	key, err := b64.DecodeString(f[5])
	if err != nil || len(key) < minKeyLen || len(key) > maxKeyLen {
		return phc{}, fmt.Errorf("%w: key must be %d to %d bytes of base64", ErrMalformed, minKeyLen, maxKeyLen)
	}
	return phc{Params: p, Salt: salt, Key: key}, nil
}

// parseParams decodes "m=<KiB>,t=<passes>,p=<lanes>".
func parseParams(s string) (Params, error) {
	f := strings.Split(s, ",")
	if len(f) != 3 {
		return Params{}, fmt.Errorf("%w: parameters are not m=<KiB>,t=<passes>,p=<lanes>", ErrMalformed)
	}
	var v [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		num, ok := strings.CutPrefix(f[i], name)
		n, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil || (num[0] == '0' && len(num) > 1) {
			return Params{}, fmt.Errorf("%w: parameter %q is not %s<decimal>", ErrMalformed, f[i], name)
		}
		v[i] = n
	}
	if v[2] > 255 {
		return Params{}, fmt.Errorf("%w: %d lanes", ErrMalformed, v[2])
	}
	p := Params{Memory: uint32(v[0]), Time: uint32(v[1]), Threads: uint8(v[2])}
	return p, p.check()
}
