package webdav

import (
	"fmt"
	"strings"

	"github.com/mycelium-go/mycelium/adapters/webdav/internal/dav"
	"github.com/mycelium-go/mycelium/adapters/webdav/internal/store"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// identity is who a request acts for.
type identity struct {
	home    string // volume id of the home tree: "users/<account>" or "keys/<hex>"
	account string // local account name; "" for an overlay key not linked to one
	key     string // overlay public key in hex; "" for a loopback login
}

// overlayIdentity maps a proven overlay key to its identity: the linked
// account's tree if settings link the key, else the key's own tree.
func overlayIdentity(s *Settings, k sdk.PublicKey) identity {
	hexKey := k.String()
	for key, acct := range s.Links {
		if strings.EqualFold(key, hexKey) {
			return identity{home: "users/" + acct, account: acct, key: hexKey}
		}
	}
	return identity{home: "keys/" + hexKey, key: hexKey}
}

// accountIdentity is the identity of a local account logged in over
// loopback.
func accountIdentity(name string) identity {
	return identity{home: "users/" + name, account: name}
}

// is reports whether member (an account name or a key) names id.
func (id identity) is(member string) bool {
	if isKey(member) {
		return id.key != "" && strings.EqualFold(member, id.key)
	}
	return id.account != "" && member == id.account
}

// quota returns the quota of id's home tree.
func (id identity) quota(s *Settings) int64 {
	if id.account != "" {
		if q, ok := s.Quotas[id.account]; ok {
			return int64(q)
		}
	}
	for who, q := range s.Quotas {
		if id.key != "" && strings.EqualFold(who, id.key) {
			return int64(q)
		}
	}
	return int64(s.DefaultQuota)
}

// view builds the URL space of id: its home tree and its shared folders.
func view(s *Settings, trees *store.Trees, id identity) (*dav.View, error) {
	home, err := trees.Volume(id.home)
	if err != nil {
		return nil, fmt.Errorf("webdav: home of %s: %w", id.home, err)
	}
	v := &dav.View{Principal: id.home, Home: home, HomeQuota: id.quota(s), SharedDir: s.SharedDir}
	for _, f := range s.Shared {
		access := 0 // 1 read-only, 2 read-write
		for _, m := range f.Members {
			if id.is(m) {
				access = 2
			}
		}
		for _, m := range f.Readers {
			if access == 0 && id.is(m) {
				access = 1
			}
		}
		if access == 0 {
			continue
		}
		vol, err := trees.Volume("shared/" + f.Name)
		if err != nil {
			return nil, fmt.Errorf("webdav: shared folder %s: %w", f.Name, err)
		}
		v.Shares = append(v.Shares, dav.Share{Name: f.Name, Volume: vol, ReadOnly: access == 1, Quota: int64(f.Quota)})
	}
	return v, nil
}
