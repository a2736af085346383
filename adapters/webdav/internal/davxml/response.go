package davxml

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"io"
	"strconv"

	"golang.org/x/net/webdav"
)

// Header is the XML declaration every response body starts with.
const Header = `<?xml version="1.0" encoding="utf-8"?>` + "\n"

// ContentType is the media type of WebDAV XML bodies.
const ContentType = "application/xml; charset=utf-8"

// Multistatus streams a DAV:multistatus body. The DAV: namespace is
// bound to the prefix D and no default namespace is ever declared, which
// is what canonical property values (see captureInner) assume.
type Multistatus struct {
	w       *bufio.Writer
	started bool
	scratch bytes.Buffer
}

// NewMultistatus returns a writer that writes to w. Nothing is written
// until the first response.
func NewMultistatus(w io.Writer) *Multistatus {
	return &Multistatus{w: bufio.NewWriterSize(w, 64<<10)}
}

func (m *Multistatus) start() {
	if !m.started {
		m.started = true
		m.w.WriteString(Header + `<D:multistatus xmlns:D="DAV:">`)
	}
}

// Response writes one DAV:response with property status groups. A
// Propstat's props carry values only where InnerXML is set; XMLError,
// when set, is the content of a DAV:error element.
func (m *Multistatus) Response(href string, pstats []webdav.Propstat) error {
	m.start()
	b := &m.scratch
	b.Reset()
	b.WriteString("<D:response><D:href>")
	escapeText(b, []byte(href))
	b.WriteString("</D:href>")
	for _, ps := range pstats {
		b.WriteString("<D:propstat><D:prop>")
		for _, p := range ps.Props {
			WriteProperty(b, p)
		}
		b.WriteString("</D:prop>")
		writeStatus(b, ps.Status)
		if ps.XMLError != "" {
			b.WriteString("<D:error>" + ps.XMLError + "</D:error>")
		}
		b.WriteString("</D:propstat>")
	}
	b.WriteString("</D:response>")
	_, err := m.w.Write(b.Bytes())
	return err
}

// Status writes a DAV:response that reports only a status for href,
// with an optional DAV:error content.
func (m *Multistatus) Status(href string, status int, xmlError string) error {
	m.start()
	b := &m.scratch
	b.Reset()
	b.WriteString("<D:response><D:href>")
	escapeText(b, []byte(href))
	b.WriteString("</D:href>")
	writeStatus(b, status)
	if xmlError != "" {
		b.WriteString("<D:error>" + xmlError + "</D:error>")
	}
	b.WriteString("</D:response>")
	_, err := m.w.Write(b.Bytes())
	return err
}

// Close ends the body and flushes it.
func (m *Multistatus) Close() error {
	m.start()
	m.w.WriteString("</D:multistatus>")
	return m.w.Flush()
}

func writeStatus(b *bytes.Buffer, status int) {
	b.WriteString("<D:status>HTTP/1.1 ")
	b.WriteString(strconv.Itoa(status))
	b.WriteByte(' ')
	escapeText(b, []byte(webdav.StatusText(status)))
	b.WriteString("</D:status>")
}

// WriteProperty writes p as an element. InnerXML must be canonical (as
// produced by the request parsers) or use only the D prefix.
func WriteProperty(b *bytes.Buffer, p webdav.Property) {
	name := propTag(b, p.XMLName)
	if p.Lang != "" {
		b.WriteString(` xml:lang="`)
		escapeAttr(b, p.Lang)
		b.WriteByte('"')
	}
	if len(p.InnerXML) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	b.Write(p.InnerXML)
	b.WriteString("</" + name + ">")
}

// propTag writes the start of n's tag (without closing bracket) and
// returns the qualified name to close it with.
func propTag(b *bytes.Buffer, n xml.Name) string {
	var name string
	switch n.Space {
	case NS:
		name = "D:" + n.Local
		b.WriteString("<" + name)
	case "":
		name = n.Local
		b.WriteString("<" + name)
	default:
		name = "R:" + n.Local
		b.WriteString("<" + name + ` xmlns:R="`)
		escapeAttr(b, n.Space)
		b.WriteByte('"')
	}
	return name
}

// EscapeText returns s escaped for element content.
func EscapeText(s string) string {
	var b bytes.Buffer
	escapeText(&b, []byte(s))
	return b.String()
}

// Href percent-encodes a URL path for a DAV:href or Location header:
// everything but unreserved characters and slashes is encoded, so the
// result is also safe in XML without escaping.
func Href(p string) string {
	const hex = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(p); i++ {
		if !keepInHref(p[i]) {
			n++
		}
	}
	if n == 0 {
		return p
	}
	out := make([]byte, 0, len(p)+2*n)
	for i := 0; i < len(p); i++ {
		c := p[i]
		if keepInHref(c) {
			out = append(out, c)
			continue
		}
		out = append(out, '%', hex[c>>4], hex[c&15])
	}
	return string(out)
}

func keepInHref(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~' || c == '/'
}
