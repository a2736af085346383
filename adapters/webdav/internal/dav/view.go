package dav

import (
	"errors"
	"path"
	"strings"

	"github.com/mycelium-go/mycelium/adapters/webdav/internal/davxml"
	"github.com/mycelium-go/mycelium/adapters/webdav/internal/store"
)

// View is the URL space one principal sees: its home volume at "/" and
// each shared folder it belongs to at "/<SharedDir>/<name>/". The
// collection "/<SharedDir>" itself is virtual and read-only; a real
// entry of that name in the home volume is hidden.
type View struct {
	// Principal names the identity; locks are bound to it.
	Principal string
	Home      *store.Volume
	// HomeQuota limits the bytes in the home volume; 0 means no limit
	// beyond free disk space.
	HomeQuota int64
	// SharedDir is the name of the shared-folders collection.
	SharedDir string
	Shares    []Share
}

// Share is one shared folder as a member sees it.
type Share struct {
	Name     string
	Volume   *store.Volume
	ReadOnly bool
	Quota    int64 // 0: no limit beyond free disk space
}

// errNoShare: the URL names an entry of the shared-folders collection
// that is not a share of this principal.
var errNoShare = errors.New("dav: no such shared folder")

// loc is a resolved URL: a path in a volume, or the virtual collection.
type loc struct {
	vol      *store.Volume // nil for the virtual shared-folders collection
	path     string        // clean path inside vol
	mount    string        // URL prefix of vol: "" for home, "/shared/x" for a share
	readOnly bool
	quota    int64
}

func (l loc) virtual() bool { return l.vol == nil }

// isMountRoot reports whether l is the root of its volume.
func (l loc) isMountRoot() bool { return l.vol != nil && l.path == "/" }

// url returns the URL path of p inside l's volume.
func (l loc) url(p string) string {
	if l.mount == "" {
		return p
	}
	if p == "/" {
		return l.mount + "/"
	}
	return l.mount + p
}

// href returns the encoded href of l, with a trailing slash for
// collections.
func (l loc) href(dir bool) string {
	u := l.url(l.path)
	if dir && !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return davxml.Href(u)
}

// child returns the location of member name of l.
func (l loc) child(name string) loc {
	c := l
	c.path = path.Join(l.path, name)
	return c
}

// sharedRoot returns the URL path of the shared-folders collection.
func (v *View) sharedRoot() string { return "/" + v.SharedDir }

// resolve maps a clean URL path to a location.
func (v *View) resolve(p string) (loc, error) {
	sd := v.sharedRoot()
	if v.SharedDir == "" || (p != sd && !strings.HasPrefix(p, sd+"/")) {
		return loc{vol: v.Home, path: p, quota: v.HomeQuota}, nil
	}
	if p == sd {
		return loc{path: p, readOnly: true}, nil
	}
	name, sub, _ := strings.Cut(p[len(sd)+1:], "/")
	for _, s := range v.Shares {
		if s.Name == name {
			return loc{vol: s.Volume, path: "/" + sub, mount: sd + "/" + name, readOnly: s.ReadOnly, quota: s.Quota}, nil
		}
	}
	return loc{}, errNoShare
}

// cleanPath validates and cleans a URL path. A NUL byte or a relative
// path is an error; ".." segments resolve inside the namespace.
func cleanPath(p string) (string, bool) {
	if p == "" || p[0] != '/' || strings.IndexByte(p, 0) >= 0 {
		return "", false
	}
	return path.Clean(p), true
}
