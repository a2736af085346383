package davxml

import (
	"bytes"
	"strconv"
	"time"
)

// ActiveLock describes one lock for DAV:lockdiscovery.
type ActiveLock struct {
	Shared   bool
	Infinite bool          // depth infinity, else depth 0
	Owner    []byte        // canonical DAV:owner content; nil: no owner element
	Timeout  time.Duration // remaining time; <= 0 writes Second-0
	Token    string
	RootHref string // already encoded with Href
}

// SupportedLock is the value of DAV:supportedlock: exclusive and shared
// write locks.
const SupportedLock = `<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>` +
	`<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>`

// WriteActiveLock appends one DAV:activelock element to b.
func WriteActiveLock(b *bytes.Buffer, l ActiveLock) {
	b.WriteString("<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope>")
	if l.Shared {
		b.WriteString("<D:shared/>")
	} else {
		b.WriteString("<D:exclusive/>")
	}
	b.WriteString("</D:lockscope><D:depth>")
	if l.Infinite {
		b.WriteString("infinity")
	} else {
		b.WriteString("0")
	}
	b.WriteString("</D:depth>")
	if l.Owner != nil {
		b.WriteString("<D:owner>")
		b.Write(l.Owner)
		b.WriteString("</D:owner>")
	}
	b.WriteString("<D:timeout>" + TimeoutValue(l.Timeout) + "</D:timeout>")
	b.WriteString("<D:locktoken><D:href>")
	escapeText(b, []byte(l.Token))
	b.WriteString("</D:href></D:locktoken><D:lockroot><D:href>")
	escapeText(b, []byte(l.RootHref))
	b.WriteString("</D:href></D:lockroot></D:activelock>")
}

// TimeoutValue formats a lock timeout as RFC 4918 writes it, rounding
// up to whole seconds.
func TimeoutValue(d time.Duration) string {
	if d <= 0 {
		return "Second-0"
	}
	s := int64((d + time.Second - 1) / time.Second)
	return "Second-" + strconv.FormatInt(s, 10)
}

// LockResponse returns the body of a successful LOCK: a DAV:prop holding
// the lockdiscovery of the created or refreshed lock.
func LockResponse(l ActiveLock) []byte {
	var b bytes.Buffer
	b.WriteString(Header + `<D:prop xmlns:D="DAV:"><D:lockdiscovery>`)
	WriteActiveLock(&b, l)
	b.WriteString("</D:lockdiscovery></D:prop>")
	return b.Bytes()
}

// ErrorBody returns a DAV:error body holding the given precondition
// content, e.g. "<D:lock-token-matches-request-uri/>".
func ErrorBody(inner string) []byte {
	return []byte(Header + `<D:error xmlns:D="DAV:">` + inner + "</D:error>")
}

// ConflictingLock returns the content of a DAV:no-conflicting-lock
// precondition naming the root of the conflicting lock.
func ConflictingLock(rootHref string) string {
	var b bytes.Buffer
	b.WriteString("<D:no-conflicting-lock><D:href>")
	escapeText(&b, []byte(rootHref))
	b.WriteString("</D:href></D:no-conflicting-lock>")
	return b.String()
}
