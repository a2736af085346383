// Package davxml reads and writes the XML bodies of WebDAV, CalDAV and
// CardDAV requests and responses.
//
// Requests are parsed into a small element tree (Node) with resolved
// namespaces and hard limits on size, depth and element count, so that
// handlers can interpret PROPFIND, PROPPATCH, MKCOL, MKCALENDAR and REPORT
// bodies without trusting the client. Responses are written by a streaming
// multistatus Writer that declares the well-known namespace prefixes once on
// the root element.
package davxml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// Namespaces used by the DAV protocols.
const (
	NSDAV     = "DAV:"
	NSCalDAV  = "urn:ietf:params:xml:ns:caldav"
	NSCardDAV = "urn:ietf:params:xml:ns:carddav"
	NSCS      = "http://calendarserver.org/ns/"
	NSApple   = "http://apple.com/ns/ical/"
)

// Limits bound what Parse accepts.
type Limits struct {
	MaxBytes    int64 // body size
	MaxDepth    int   // element nesting
	MaxElements int   // total elements
}

// DefaultLimits are generous for real clients (a multiget of thousands of
// hrefs) and small enough to refuse abuse.
var DefaultLimits = Limits{MaxBytes: 4 << 20, MaxDepth: 32, MaxElements: 200_000}

// ErrTooLarge is returned when a body exceeds Limits.
var ErrTooLarge = errors.New("davxml: request body too large")

// Node is one XML element with its namespace resolved.
type Node struct {
	Name     xml.Name
	Attr     []xml.Attr // without namespace declarations
	Children []*Node
	Text     string // all character data directly inside the element
}

// Parse reads one XML document and returns its root element. An empty
// body returns (nil, nil).
func Parse(r io.Reader, lim Limits) (*Node, error) {
	lr := &io.LimitedReader{R: r, N: lim.MaxBytes + 1}
	dec := xml.NewDecoder(lr)
	dec.Strict = true
	var (
		root  *Node
		stack []*Node
		count int
	)
	for {
		tok, err := dec.Token()
		if lr.N <= 0 {
			return nil, ErrTooLarge
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("davxml: parse: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			count++
			if count > lim.MaxElements || len(stack) >= lim.MaxDepth {
				return nil, ErrTooLarge
			}
			if !validName(t.Name.Local) {
				return nil, fmt.Errorf("davxml: parse: invalid element name %q", t.Name.Local)
			}
			n := &Node{Name: t.Name, Attr: plainAttrs(t.Attr)}
			for _, a := range n.Attr {
				if !validName(a.Name.Local) {
					return nil, fmt.Errorf("davxml: parse: invalid attribute name %q", a.Name.Local)
				}
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("davxml: parse: more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("davxml: parse: text outside the root element")
			}
		}
	}
	if len(stack) != 0 {
		return nil, errors.New("davxml: parse: unexpected end of document")
	}
	return root, nil
}

// validName reports whether s is an XML NCName (approximated with
// Unicode letter, digit and mark classes).
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || unicode.IsLetter(r):
		case i > 0 && (r == '-' || r == '.' || unicode.IsDigit(r) || unicode.IsMark(r)):
		default:
			return false
		}
	}
	return true
}

func plainAttrs(attrs []xml.Attr) []xml.Attr {
	var out []xml.Attr
	for _, a := range attrs {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		out = append(out, a)
	}
	return out
}

// Is reports whether n has the given namespace and local name.
func (n *Node) Is(space, local string) bool {
	return n != nil && n.Name.Space == space && n.Name.Local == local
}

// Child returns the first child element with the given name, or nil.
func (n *Node) Child(space, local string) *Node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.Is(space, local) {
			return c
		}
	}
	return nil
}

// All returns every child element with the given name.
func (n *Node) All(space, local string) []*Node {
	if n == nil {
		return nil
	}
	var out []*Node
	for _, c := range n.Children {
		if c.Is(space, local) {
			out = append(out, c)
		}
	}
	return out
}

// Attribute returns the value of the unqualified attribute name.
func (n *Node) Attribute(name string) (string, bool) {
	for _, a := range n.Attr {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// TrimmedText returns the element's character data without surrounding
// white space.
func (n *Node) TrimmedText() string {
	if n == nil {
		return ""
	}
	return strings.TrimSpace(n.Text)
}

// Marshal returns a self-contained serialization of n: every element
// declares its own default namespace, and namespaced attributes get local
// prefixes. The result can be embedded anywhere in another document.
func (n *Node) Marshal() []byte {
	var b bytes.Buffer
	n.marshal(&b)
	return b.Bytes()
}

func (n *Node) marshal(b *bytes.Buffer) {
	b.WriteByte('<')
	b.WriteString(n.Name.Local)
	b.WriteString(` xmlns="`)
	escapeAttr(b, n.Name.Space)
	b.WriteByte('"')
	for i, a := range n.Attr {
		b.WriteByte(' ')
		if a.Name.Space != "" {
			fmt.Fprintf(b, `xmlns:a%d="`, i)
			escapeAttr(b, a.Name.Space)
			fmt.Fprintf(b, `" a%d:`, i)
		}
		b.WriteString(a.Name.Local)
		b.WriteString(`="`)
		escapeAttr(b, a.Value)
		b.WriteByte('"')
	}
	if n.Text == "" && len(n.Children) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	EscapeText(b, n.Text)
	for _, c := range n.Children {
		c.marshal(b)
	}
	b.WriteString("</")
	b.WriteString(n.Name.Local)
	b.WriteByte('>')
}

func escapeAttr(b *bytes.Buffer, s string) { EscapeAttr(b, s) }
