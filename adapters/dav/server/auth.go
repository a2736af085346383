package server

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/mycelium-go/mycelium/adapters/dav/store"
	"github.com/mycelium-go/mycelium/plugins/sdk"
	"github.com/mycelium-go/mycelium/plugins/sdk/passwd"
)

// identity is the authenticated caller.
type identity struct {
	principal string // principal id: account name or key hex
	display   string
}

// authenticator maps connections to principals: overlay peers by their
// proven public key (or the account linked to it), loopback clients by
// HTTP Basic against the local accounts.
type authenticator struct {
	store *store.Store
	links map[sdk.PublicKey]string
	realm string

	// logins remembers recent successful logins, so that a DAV client,
	// which sends credentials with every request, costs one argon2id run
	// per TTL rather than per request, and bounds concurrent runs.
	logins *passwd.Cache

	mu struct {
		sync.Mutex
		// fail rate-limits wrong passwords per account name.
		fail map[string]*rate.Limiter
	}
}

const (
	// loginTTL is how long a successful login is remembered.
	loginTTL = 10 * time.Minute
	// maxFailNames bounds the failure limiters kept.
	maxFailNames = 1024
)

func newAuthenticator(st *store.Store, links map[sdk.PublicKey]string, realm string) *authenticator {
	a := &authenticator{store: st, links: links, realm: realm, logins: passwd.NewCache(passwd.CacheOptions{TTL: loginTTL})}
	a.mu.fail = map[string]*rate.Limiter{}
	return a
}

var errUnauthorized = errStatus(http.StatusUnauthorized, "authentication required")

// authenticate returns the caller's identity, or an httpError: 401 for
// missing or wrong loopback credentials, 403 for a connection without a
// usable identity.
func (a *authenticator) authenticate(r *http.Request) (identity, error) {
	peer, ok := sdk.PeerFromContext(r.Context())
	if !ok {
		return identity{}, errStatus(http.StatusForbidden, "connection has no identity")
	}
	switch peer.Origin {
	case sdk.OriginOverlay:
		if !peer.FromOverlay() {
			return identity{}, errStatus(http.StatusForbidden, "overlay connection without a key")
		}
		if name, ok := a.links[peer.Key]; ok {
			return identity{principal: name, display: name}, nil
		}
		k := peer.Key.String()
		return identity{principal: k, display: "Node " + k[:12]}, nil
	case sdk.OriginLoopback:
		name, pass, ok := r.BasicAuth()
		if !ok {
			return identity{}, errUnauthorized
		}
		if err := a.checkPassword(r.Context(), name, pass); err != nil {
			return identity{}, err
		}
		return identity{principal: name, display: name}, nil
	}
	return identity{}, errStatus(http.StatusForbidden, "unknown connection origin %s", peer.Origin)
}

func (a *authenticator) checkPassword(ctx context.Context, name, pass string) error {
	if !ValidAccountName(name) {
		return errUnauthorized
	}
	hash, err := a.store.AccountHash(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		// Take as long as a wrong password, so the reply time does not
		// tell which accounts exist.
		if err := a.logins.Reject(ctx, pass); err != nil {
			return err
		}
		return errUnauthorized
	} else if err != nil {
		return err
	}
	// A client that knows the password keeps working while wrong
	// guesses for its name are rate-limited.
	if a.logins.Cached(name, hash, pass) {
		return nil
	}
	if !a.allowAttempt(name) {
		return errStatus(http.StatusUnauthorized, "too many failed logins for %q", name)
	}
	ok, err := a.logins.Verify(ctx, name, hash, pass)
	if err != nil {
		return err
	}
	if !ok {
		a.recordFailure(name)
		return errStatus(http.StatusUnauthorized, "wrong password for %q", name)
	}
	return nil
}

// Wrong passwords are limited to a burst of 10, then one every 6 s, per
// account name.
func (a *authenticator) limiter(name string) *rate.Limiter {
	l, ok := a.mu.fail[name]
	if !ok {
		if len(a.mu.fail) >= maxFailNames {
			a.mu.fail = map[string]*rate.Limiter{}
		}
		l = rate.NewLimiter(rate.Every(6*time.Second), 10)
		a.mu.fail[name] = l
	}
	return l
}

func (a *authenticator) allowAttempt(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.limiter(name).Tokens() >= 1
}

func (a *authenticator) recordFailure(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.limiter(name).Allow()
}

// ValidAccountName reports whether name can be a local account: 1 to 32
// characters of letters, digits, '.', '_' and '-', starting with a
// letter or digit. (Keys are 64 hex digits, so names never collide with
// key principals.)
func ValidAccountName(name string) bool {
	if len(name) == 0 || len(name) > 32 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}
