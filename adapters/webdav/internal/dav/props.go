package dav

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"
	"time"

	"github.com/mycelium-go/mycelium/adapters/webdav/internal/davxml"
	"github.com/mycelium-go/mycelium/adapters/webdav/internal/store"
	"golang.org/x/net/webdav"
)

// Live property names.
var (
	pResourceType  = xml.Name{Space: davxml.NS, Local: "resourcetype"}
	pContentLength = xml.Name{Space: davxml.NS, Local: "getcontentlength"}
	pContentType   = xml.Name{Space: davxml.NS, Local: "getcontenttype"}
	pETag          = xml.Name{Space: davxml.NS, Local: "getetag"}
	pLastModified  = xml.Name{Space: davxml.NS, Local: "getlastmodified"}
	pLockDiscovery = xml.Name{Space: davxml.NS, Local: "lockdiscovery"}
	pSupportedLock = xml.Name{Space: davxml.NS, Local: "supportedlock"}
	pQuotaAvail    = xml.Name{Space: davxml.NS, Local: "quota-available-bytes"}
	pQuotaUsed     = xml.Name{Space: davxml.NS, Local: "quota-used-bytes"}
)

// liveProp describes a live property.
type liveProp struct {
	name      xml.Name
	files     bool // defined on non-collections
	dirs      bool // defined on collections
	allprop   bool // returned by allprop (RFC 4331 keeps quotas out)
	protected bool // PROPPATCH gets 403; otherwise a dead value overrides
}

var liveProps = []liveProp{
	{pResourceType, true, true, true, true},
	{pContentLength, true, false, true, true},
	{pContentType, true, false, true, false},
	{pETag, true, false, true, true},
	{pLastModified, true, true, true, true},
	{pLockDiscovery, true, true, true, true},
	{pSupportedLock, true, true, true, true},
	{pQuotaAvail, false, true, false, true},
	{pQuotaUsed, false, true, false, true},
}

func findLive(n xml.Name) (liveProp, bool) {
	for _, p := range liveProps {
		if p.name == n {
			return p, true
		}
	}
	return liveProp{}, false
}

// res is one resource of a PROPFIND answer.
type res struct {
	l     loc
	info  *store.Info // nil for the virtual shared-folders collection
	dead  []webdav.Property
	mtime time.Time // of the virtual collection: its home root's
}

func (r res) dir() bool { return r.info == nil || r.info.IsDir() }

// defines reports whether live property p exists on r.
func (pc *propCtx) defines(r res, p liveProp) bool {
	if pc.h.cfg.HideQuota && (p.name == pQuotaAvail || p.name == pQuotaUsed) {
		return false
	}
	return r.defines(p)
}

// defines reports whether live property p exists on r.
func (r res) defines(p liveProp) bool {
	if r.info == nil {
		return p.name == pResourceType || p.name == pLockDiscovery || (p.name == pLastModified && !r.mtime.IsZero())
	}
	if r.dir() {
		return p.dirs
	}
	return p.files
}

func (r res) deadProp(n xml.Name) (webdav.Property, bool) {
	for _, p := range r.dead {
		if p.XMLName == n {
			return p, true
		}
	}
	return webdav.Property{}, false
}

// propCtx caches what several resources of one answer share.
type propCtx struct {
	h     *Handler
	rq    *request
	now   time.Time
	quota map[string][2]string // volume id -> available, used
}

// value returns the inner XML of live property p on r, and false if it
// cannot be computed (a quota the disk will not tell).
func (pc *propCtx) value(r res, p liveProp) (string, bool) {
	switch p.name {
	case pResourceType:
		if r.dir() {
			return "<D:collection/>", true
		}
		return "", true
	case pContentLength:
		return strconv.FormatInt(r.info.Size(), 10), true
	case pContentType:
		return davxml.EscapeText(r.info.ContentTypeValue()), true
	case pETag:
		return davxml.EscapeText(r.info.ETagValue()), true
	case pLastModified:
		t := r.mtime
		if r.info != nil {
			t = r.info.ModTime()
		}
		return t.UTC().Format(http.TimeFormat), true
	case pLockDiscovery:
		return pc.lockDiscovery(r), true
	case pSupportedLock:
		return davxml.SupportedLock, true
	case pQuotaAvail, pQuotaUsed:
		q, ok := pc.quotaOf(r.l)
		if p.name == pQuotaAvail {
			return q[0], ok
		}
		return q[1], ok
	}
	return "", false
}

func (pc *propCtx) lockDiscovery(r res) string {
	if r.l.virtual() || !pc.h.cfg.Locks.Active(r.l.vol.ID()) {
		return ""
	}
	var b bytes.Buffer
	for _, lk := range pc.h.cfg.Locks.Covering(r.l.vol.ID(), r.l.path) {
		davxml.WriteActiveLock(&b, davxml.ActiveLock{
			Shared: lk.Shared, Infinite: lk.Infinite, Owner: lk.Owner,
			Timeout: lk.Expires.Sub(pc.now), Token: lk.Token,
			RootHref: davxml.Href(r.l.url(lk.Root)),
		})
	}
	return b.String()
}

// quotaOf computes the RFC 4331 values for l's volume once per answer:
// available is the quota left, or the free disk space if that is less
// or there is no quota.
func (pc *propCtx) quotaOf(l loc) ([2]string, bool) {
	id := l.vol.ID()
	if q, ok := pc.quota[id]; ok {
		return q, q[0] != ""
	}
	var q [2]string
	used, err1 := l.vol.Usage(pc.rq.ctx)
	free, err2 := l.vol.Free()
	if err1 == nil && err2 == nil {
		avail := free
		if l.quota > 0 {
			avail = min(free, max(0, l.quota-used))
		}
		q = [2]string{strconv.FormatInt(avail, 10), strconv.FormatInt(used, 10)}
	} else {
		pc.h.log.Warn("webdav quota unavailable", "volume", id, "usage_err", err1, "free_err", err2)
	}
	pc.quota[id] = q
	return q, q[0] != ""
}

// propstats answers a PROPFIND for one resource.
func (pc *propCtx) propstats(r res, pf davxml.Propfind) []webdav.Propstat {
	ok := webdav.Propstat{Status: http.StatusOK}
	missing := webdav.Propstat{Status: http.StatusNotFound}
	switch pf.Kind {
	case davxml.PropName:
		for _, p := range liveProps {
			if _, shadowed := r.deadProp(p.name); pc.defines(r, p) && !shadowed {
				ok.Props = append(ok.Props, webdav.Property{XMLName: p.name})
			}
		}
		for _, d := range r.dead {
			ok.Props = append(ok.Props, webdav.Property{XMLName: d.XMLName})
		}
	case davxml.AllProp:
		for _, p := range liveProps {
			if _, shadowed := r.deadProp(p.name); p.allprop && pc.defines(r, p) && !shadowed {
				pc.add(&ok, &missing, r, p.name)
			}
		}
		ok.Props = append(ok.Props, r.dead...)
		for _, n := range pf.Include {
			if lp, live := findLive(n); !live || !lp.allprop {
				pc.add(&ok, &missing, r, n)
			}
		}
	default:
		for _, n := range pf.Names {
			pc.add(&ok, &missing, r, n)
		}
	}
	var out []webdav.Propstat
	if len(ok.Props) > 0 || len(missing.Props) == 0 {
		out = append(out, ok)
	}
	if len(missing.Props) > 0 {
		out = append(out, missing)
	}
	return out
}

// add appends property n of r to ok, or to missing if r has no such
// property.
func (pc *propCtx) add(ok, missing *webdav.Propstat, r res, n xml.Name) {
	lp, live := findLive(n)
	if live && lp.protected && pc.defines(r, lp) {
		if v, found := pc.value(r, lp); found {
			ok.Props = append(ok.Props, webdav.Property{XMLName: n, InnerXML: []byte(v)})
			return
		}
	}
	if d, found := r.deadProp(n); found {
		ok.Props = append(ok.Props, d)
		return
	}
	if live && !lp.protected && pc.defines(r, lp) {
		if v, found := pc.value(r, lp); found {
			ok.Props = append(ok.Props, webdav.Property{XMLName: n, InnerXML: []byte(v)})
			return
		}
	}
	missing.Props = append(missing.Props, webdav.Property{XMLName: n})
}
