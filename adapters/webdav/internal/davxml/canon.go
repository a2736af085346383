package davxml

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
)

// xmlNamespace is the namespace encoding/xml gives the "xml:" prefix.
const xmlNamespace = "http://www.w3.org/XML/1998/namespace"

// maxDepth bounds element nesting inside a captured value.
const maxDepth = 128

// captureInner reads the content of the element whose start tag was just
// returned by d, up to and including its end tag, and returns the content
// re-serialized in canonical form.
//
// Canonical form declares namespaces on the elements that use them and
// assumes no default namespace is in scope where it is embedded, so the
// bytes can be stored and later written inside any element whose own
// prefix is not the default: the value means the same wherever it lands.
// Element names never carry prefixes; attribute namespaces get generated
// prefixes declared on the same element. Comments are kept, processing
// instructions and directives are dropped.
func captureInner(d *xml.Decoder) ([]byte, error) {
	var buf bytes.Buffer
	defaults := []string{""} // default namespace in scope, per open element
	for depth := 0; ; {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("read value: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := checkDecls(t); err != nil {
				return nil, err
			}
			if depth++; depth > maxDepth {
				return nil, fmt.Errorf("value nested deeper than %d", maxDepth)
			}
			writeStart(&buf, t, defaults[len(defaults)-1])
			defaults = append(defaults, t.Name.Space)
		case xml.EndElement:
			if depth == 0 {
				return buf.Bytes(), nil
			}
			depth--
			defaults = defaults[:len(defaults)-1]
			buf.WriteString("</")
			buf.WriteString(t.Name.Local)
			buf.WriteByte('>')
		case xml.CharData:
			escapeText(&buf, t)
		case xml.Comment:
			buf.WriteString("<!--")
			buf.Write(t)
			buf.WriteString("-->")
		}
	}
}

// writeStart writes t as a start tag, declaring its namespace when it
// differs from the default in scope.
func writeStart(buf *bytes.Buffer, t xml.StartElement, def string) {
	buf.WriteByte('<')
	buf.WriteString(t.Name.Local)
	if t.Name.Space != def {
		buf.WriteString(` xmlns="`)
		escapeAttr(buf, t.Name.Space)
		buf.WriteByte('"')
	}
	n := 0
	for _, a := range t.Attr {
		switch {
		case isNamespaceDecl(a.Name):
			continue
		case a.Name.Space == "":
			buf.WriteByte(' ')
			buf.WriteString(a.Name.Local)
		case a.Name.Space == xmlNamespace:
			buf.WriteString(" xml:")
			buf.WriteString(a.Name.Local)
		default:
			prefix := "a" + strconv.Itoa(n)
			n++
			buf.WriteString(" xmlns:" + prefix + `="`)
			escapeAttr(buf, a.Name.Space)
			buf.WriteString(`" ` + prefix + ":" + a.Name.Local)
		}
		buf.WriteString(`="`)
		escapeAttr(buf, a.Value)
		buf.WriteByte('"')
	}
	buf.WriteByte('>')
}

func isNamespaceDecl(n xml.Name) bool {
	return n.Space == "xmlns" || (n.Space == "" && n.Local == "xmlns")
}

// checkDecls rejects a prefixed namespace declaration with an empty
// name, which the Namespaces in XML recommendation forbids
// (xmlns:p=""); encoding/xml accepts it silently.
func checkDecls(t xml.StartElement) error {
	for _, a := range t.Attr {
		if a.Name.Space == "xmlns" && a.Value == "" {
			return fmt.Errorf("empty namespace declaration for prefix %q", a.Name.Local)
		}
	}
	return nil
}

// escapeText escapes character data for element content.
func escapeText(buf *bytes.Buffer, s []byte) {
	last := 0
	for i, c := range s {
		var esc string
		switch c {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		buf.Write(s[last:i])
		buf.WriteString(esc)
		last = i + 1
	}
	buf.Write(s[last:])
}

// escapeAttr escapes s for a double-quoted attribute value.
func escapeAttr(buf *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '"':
			esc = "&quot;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		buf.WriteString(s[last:i])
		buf.WriteString(esc)
		last = i + 1
	}
	buf.WriteString(s[last:])
}
