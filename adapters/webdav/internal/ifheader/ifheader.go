// Package ifheader parses the WebDAV If request header (RFC 4918 section
// 10.4) into lists of conditions.
//
// The grammar is
//
//	If           = "If" ":" ( 1*No-tag-list | 1*Tagged-list )
//	No-tag-list  = List
//	Tagged-list  = Resource-Tag 1*List
//	List         = "(" 1*Condition ")"
//	Condition    = ["Not"] ( State-token | "[" entity-tag "]" )
//	State-token  = Coded-URL
//	Resource-Tag = "<" Simple-ref ">"
//
// The header is a disjunction of lists and each list is a conjunction of
// conditions. Evaluation is left to the caller, which knows the resources,
// their entity tags and the active locks.
package ifheader

import (
	"errors"
	"strings"

	"golang.org/x/net/webdav"
)

// ErrMalformed is returned for a header that does not follow the grammar.
var ErrMalformed = errors.New("ifheader: malformed If header")

// Limits that keep a hostile header from costing more than a few
// microseconds to evaluate.
const (
	maxLists      = 64
	maxConditions = 64
)

// List is one parenthesised list of conditions, all of which must hold.
type List struct {
	// Tag is the resource tag (a URL or absolute path) the list applies
	// to, exactly as sent; empty for a no-tag list, which applies to the
	// request URL.
	Tag string
	// Conditions are the list's conditions. A Condition has either a
	// Token (a state token such as a lock token) or an ETag (with its
	// quotes and any W/ prefix), and Not inverts it.
	Conditions []webdav.Condition
}

// Header is a parsed If header: it holds when any of its lists holds.
type Header struct {
	Lists []List
}

// Tokens returns the state tokens of all non-negated conditions, in
// order and without duplicates. These are the lock tokens the request
// submits (RFC 4918 section 6.5).
func (h Header) Tokens() []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range h.Lists {
		for _, c := range l.Conditions {
			if c.Not || c.Token == "" || seen[c.Token] {
				continue
			}
			seen[c.Token] = true
			out = append(out, c.Token)
		}
	}
	return out
}

// Parse parses the value of an If header. Header folding has already
// been undone by net/http.
func Parse(s string) (Header, error) {
	p := parser{s: s}
	var h Header
	p.skipSpace()
	if p.eof() {
		return h, ErrMalformed
	}
	tagged := p.peek() == '<'
	tag := ""
	for {
		p.skipSpace()
		if p.eof() {
			break
		}
		switch p.peek() {
		case '<':
			if !tagged {
				return Header{}, ErrMalformed
			}
			t, err := p.angle()
			if err != nil {
				return Header{}, err
			}
			p.skipSpace()
			if p.eof() || p.peek() != '(' {
				return Header{}, ErrMalformed // a tag needs at least one list
			}
			tag = t
		case '(':
			l, err := p.list()
			if err != nil {
				return Header{}, err
			}
			l.Tag = tag
			if len(h.Lists) == maxLists {
				return Header{}, ErrMalformed
			}
			h.Lists = append(h.Lists, l)
		default:
			return Header{}, ErrMalformed
		}
	}
	if len(h.Lists) == 0 {
		return Header{}, ErrMalformed
	}
	return h, nil
}

type parser struct {
	s   string
	pos int
}

func (p *parser) eof() bool  { return p.pos >= len(p.s) }
func (p *parser) peek() byte { return p.s[p.pos] }

func (p *parser) skipSpace() {
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t' || p.peek() == '\r' || p.peek() == '\n') {
		p.pos++
	}
}

// angle reads "<...>" and returns what is between the brackets.
func (p *parser) angle() (string, error) {
	p.pos++ // '<'
	end := strings.IndexByte(p.s[p.pos:], '>')
	if end < 0 {
		return "", ErrMalformed
	}
	v := p.s[p.pos : p.pos+end]
	p.pos += end + 1
	if v == "" || strings.ContainsAny(v, " \t\r\n<") {
		return "", ErrMalformed
	}
	return v, nil
}

// list reads "(" 1*Condition ")".
func (p *parser) list() (List, error) {
	p.pos++ // '('
	var l List
	for {
		p.skipSpace()
		if p.eof() {
			return List{}, ErrMalformed
		}
		if p.peek() == ')' {
			p.pos++
			if len(l.Conditions) == 0 {
				return List{}, ErrMalformed
			}
			return l, nil
		}
		c, err := p.condition()
		if err != nil {
			return List{}, err
		}
		if len(l.Conditions) == maxConditions {
			return List{}, ErrMalformed
		}
		l.Conditions = append(l.Conditions, c)
	}
}

// condition reads ["Not"] ( Coded-URL | "[" entity-tag "]" ).
func (p *parser) condition() (webdav.Condition, error) {
	var c webdav.Condition
	if len(p.s)-p.pos >= 3 && strings.EqualFold(p.s[p.pos:p.pos+3], "not") {
		c.Not = true
		p.pos += 3
		p.skipSpace()
		if p.eof() {
			return c, ErrMalformed
		}
	}
	switch p.peek() {
	case '<':
		t, err := p.angle()
		if err != nil {
			return c, err
		}
		c.Token = t
	case '[':
		e, err := p.etag()
		if err != nil {
			return c, err
		}
		c.ETag = e
	default:
		return c, ErrMalformed
	}
	return c, nil
}

// etag reads "[" [ "W/" ] quoted-string "]". An unquoted tag is accepted
// for clients that forget the quotes; it is returned quoted.
func (p *parser) etag() (string, error) {
	p.pos++ // '['
	weak := ""
	if strings.HasPrefix(p.s[p.pos:], "W/") {
		weak = "W/"
		p.pos += 2
	}
	if !p.eof() && p.peek() == '"' {
		end := strings.IndexByte(p.s[p.pos+1:], '"')
		if end < 0 {
			return "", ErrMalformed
		}
		tag := p.s[p.pos : p.pos+end+2]
		p.pos += end + 2
		p.skipSpace()
		if p.eof() || p.peek() != ']' {
			return "", ErrMalformed
		}
		p.pos++
		return weak + tag, nil
	}
	end := strings.IndexByte(p.s[p.pos:], ']')
	if end <= 0 {
		return "", ErrMalformed
	}
	v := p.s[p.pos : p.pos+end]
	p.pos += end + 1
	if strings.ContainsAny(v, " \t\"[") {
		return "", ErrMalformed
	}
	return weak + `"` + v + `"`, nil
}
