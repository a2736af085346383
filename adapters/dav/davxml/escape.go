package davxml

import (
	"bytes"
	"unicode/utf8"
)

// EscapeText appends s to b escaped as XML character data. Carriage
// returns are written as character references so that the CRLF line ends
// of iCalendar and vCard data survive XML end-of-line normalization, and
// characters that XML 1.0 forbids are replaced by U+FFFD.
func EscapeText(b *bytes.Buffer, s string) {
	escape(b, s, false)
}

// EscapeAttr is EscapeText for attribute values (quotes escaped too).
func EscapeAttr(b *bytes.Buffer, s string) {
	escape(b, s, true)
}

func escape(b *bytes.Buffer, s string, attr bool) {
	last := 0
	for i := 0; i < len(s); {
		r, width := utf8.DecodeRuneInString(s[i:])
		var repl string
		switch {
		case r == '&':
			repl = "&amp;"
		case r == '<':
			repl = "&lt;"
		case r == '>':
			repl = "&gt;"
		case r == '\r':
			repl = "&#13;"
		case attr && r == '"':
			repl = "&quot;"
		case attr && r == '\n':
			repl = "&#10;"
		case attr && r == '\t':
			repl = "&#9;"
		case !validXMLChar(r, width):
			repl = "\uFFFD"
		default:
			i += width
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(repl)
		i += width
		last = i
	}
	b.WriteString(s[last:])
}

func validXMLChar(r rune, width int) bool {
	if r == utf8.RuneError && width == 1 {
		return false
	}
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		(r >= 0x20 && r <= 0xD7FF) ||
		(r >= 0xE000 && r <= 0xFFFD) ||
		(r >= 0x10000 && r <= 0x10FFFF)
}
