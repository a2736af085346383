package davxml

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
)

// prefixes are declared on the root of every document we write, so
// fragments may use them.
var prefixes = []struct{ prefix, space string }{
	{"D", NSDAV},
	{"C", NSCalDAV},
	{"CR", NSCardDAV},
	{"CS", NSCS},
	{"A", NSApple},
}

func prefixOf(space string) (string, bool) {
	for _, p := range prefixes {
		if p.space == space {
			return p.prefix, true
		}
	}
	return "", false
}

func rootDecls(b *bytes.Buffer) {
	for _, p := range prefixes {
		fmt.Fprintf(b, ` xmlns:%s="%s"`, p.prefix, p.space)
	}
}

// N is shorthand for an xml.Name.
func N(space, local string) xml.Name { return xml.Name{Space: space, Local: local} }

func openTag(b *bytes.Buffer, name xml.Name) {
	b.WriteByte('<')
	if p, ok := prefixOf(name.Space); ok {
		b.WriteString(p)
		b.WriteByte(':')
		b.WriteString(name.Local)
		return
	}
	b.WriteString(name.Local)
	b.WriteString(` xmlns="`)
	EscapeAttr(b, name.Space)
	b.WriteByte('"')
}

func closeTag(b *bytes.Buffer, name xml.Name) {
	b.WriteString("</")
	if p, ok := prefixOf(name.Space); ok {
		b.WriteString(p)
		b.WriteByte(':')
	}
	b.WriteString(name.Local)
	b.WriteByte('>')
}

// Element serializes an element whose content is the XML fragment inner
// (which may use the standard prefixes D, C, CR, CS and A).
func Element(name xml.Name, inner string) []byte {
	var b bytes.Buffer
	writeElement(&b, name, inner)
	return b.Bytes()
}

func writeElement(b *bytes.Buffer, name xml.Name, inner string) {
	openTag(b, name)
	if inner == "" {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	b.WriteString(inner)
	closeTag(b, name)
}

// TextElement serializes an element holding escaped text.
func TextElement(name xml.Name, text string) []byte {
	var b bytes.Buffer
	openTag(&b, name)
	b.WriteByte('>')
	EscapeText(&b, text)
	closeTag(&b, name)
	return b.Bytes()
}

// Empty serializes an empty element, e.g. <C:calendar/>.
func Empty(name xml.Name) string { return string(Element(name, "")) }

// Href returns a <D:href> element for an already escaped URL path.
func Href(escapedPath string) string {
	var b bytes.Buffer
	b.WriteString("<D:href>")
	EscapeText(&b, escapedPath)
	b.WriteString("</D:href>")
	return b.String()
}

// Prop is one property in a response. XML is the complete serialized
// element; nil writes an empty element (used for failed properties and
// PROPFIND propname).
type Prop struct {
	Name xml.Name
	XML  []byte
}

// PropStat groups properties with the same status.
type PropStat struct {
	Status int
	Props  []Prop
}

// Response is one DAV:response of a multistatus.
type Response struct {
	Href      string // escaped URL path
	Status    int    // status of the whole resource; used when PropStats is empty
	PropStats []PropStat
	// Error is an optional precondition element name (DAV:error content).
	Error *xml.Name
}

// Writer streams a DAV:multistatus document.
type Writer struct {
	bw      *bufio.Writer
	buf     bytes.Buffer
	started bool
	err     error
}

// NewWriter returns a Writer that writes to w. Nothing is written until
// the first Response, SyncToken or Close.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, 32<<10)}
}

func (w *Writer) start() {
	if w.started {
		return
	}
	w.started = true
	w.buf.WriteString(xml.Header)
	w.buf.WriteString("<D:multistatus")
	rootDecls(&w.buf)
	w.buf.WriteString(">\n")
}

func (w *Writer) flushBuf() {
	if w.err == nil {
		_, w.err = w.bw.Write(w.buf.Bytes())
	}
	w.buf.Reset()
}

// Response writes one response element.
func (w *Writer) Response(r Response) {
	w.start()
	b := &w.buf
	b.WriteString("<D:response>")
	b.WriteString(Href(r.Href))
	if len(r.PropStats) == 0 {
		writeStatus(b, r.Status)
	}
	for _, ps := range r.PropStats {
		b.WriteString("<D:propstat><D:prop>")
		for _, p := range ps.Props {
			if p.XML == nil {
				writeElement(b, p.Name, "")
			} else {
				b.Write(p.XML)
			}
		}
		b.WriteString("</D:prop>")
		writeStatus(b, ps.Status)
		b.WriteString("</D:propstat>")
	}
	if r.Error != nil {
		b.WriteString("<D:error>")
		writeElement(b, *r.Error, "")
		b.WriteString("</D:error>")
	}
	b.WriteString("</D:response>\n")
	w.flushBuf()
}

// SyncToken writes the DAV:sync-token element of a sync-collection report.
func (w *Writer) SyncToken(token string) {
	w.start()
	w.buf.WriteString("<D:sync-token>")
	EscapeText(&w.buf, token)
	w.buf.WriteString("</D:sync-token>\n")
	w.flushBuf()
}

// Close ends the document and flushes it.
func (w *Writer) Close() error {
	w.start()
	w.buf.WriteString("</D:multistatus>\n")
	w.flushBuf()
	if w.err != nil {
		return fmt.Errorf("davxml: write multistatus: %w", w.err)
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("davxml: write multistatus: %w", err)
	}
	return nil
}

func writeStatus(b *bytes.Buffer, code int) {
	fmt.Fprintf(b, "<D:status>HTTP/1.1 %d %s</D:status>", code, http.StatusText(code))
}

// ErrorDocument returns a DAV:error body naming one precondition or
// postcondition, with optional inner content (e.g. a D:href).
func ErrorDocument(cond xml.Name, inner string) []byte {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString("<D:error")
	rootDecls(&b)
	b.WriteString(">")
	writeElement(&b, cond, inner)
	b.WriteString("</D:error>\n")
	return b.Bytes()
}
