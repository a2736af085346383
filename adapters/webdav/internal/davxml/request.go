package davxml

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"golang.org/x/net/webdav"
)

// ErrUnsupportedLockType is returned for a LOCK whose locktype is not
// DAV:write, the only lock type RFC 4918 defines.
var ErrUnsupportedLockType = errors.New("davxml: unsupported lock type")

// NS is the WebDAV namespace.
const NS = "DAV:"

// PropfindKind says what a PROPFIND asks for.
type PropfindKind int

// The three forms of PROPFIND.
const (
	AllProp  PropfindKind = iota // DAV:allprop, or an empty body
	PropName                     // DAV:propname
	Prop                         // DAV:prop with named properties
)

// Propfind is a parsed PROPFIND body.
type Propfind struct {
	Kind    PropfindKind
	Names   []xml.Name // for Prop: the properties asked for
	Include []xml.Name // for AllProp: DAV:include, extra properties
}

// LockInfo is a parsed LOCK body.
type LockInfo struct {
	Shared bool   // DAV:shared rather than DAV:exclusive
	Owner  []byte // canonical content of DAV:owner, nil if absent
}

// newDecoder returns a strict decoder. Only UTF-8 (and its ASCII subset)
// is accepted, as RFC 4918 clients send.
func newDecoder(r io.Reader) *xml.Decoder {
	d := xml.NewDecoder(r)
	d.Strict = true
	return d
}

// root returns the document element, or io.EOF for a body with no
// element at all (empty or only whitespace and comments).
func root(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, checkDecls(t)
		case xml.CharData:
			if len(trimSpace(t)) != 0 {
				return xml.StartElement{}, errors.New("text before the document element")
			}
		case xml.EndElement:
			return xml.StartElement{}, errors.New("unexpected end tag")
		}
	}
}

// children calls fn for each child element of the element just opened,
// and returns after its end tag. fn must consume the child entirely
// (with skip or captureInner). Text between children is ignored.
func children(d *xml.Decoder, fn func(xml.StartElement) error) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := checkDecls(t); err != nil {
				return err
			}
			if err := fn(t); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		}
	}
}

// skip consumes the rest of the element just opened, checking that it
// is well-formed.
func skip(d *xml.Decoder) error {
	return children(d, func(xml.StartElement) error { return skip(d) })
}

// end checks that nothing but whitespace, comments and processing
// instructions follows the document element.
func end(d *xml.Decoder) error {
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(trimSpace(t)) != 0 {
				return errors.New("text after the document element")
			}
		case xml.Comment, xml.ProcInst:
		default:
			return errors.New("content after the document element")
		}
	}
}

// names reads the child element names of a DAV:prop or DAV:include.
func names(d *xml.Decoder) ([]xml.Name, error) {
	var out []xml.Name
	err := children(d, func(t xml.StartElement) error {
		out = append(out, t.Name)
		return skip(d)
	})
	return out, err
}

// ParsePropfind parses a PROPFIND request body. An empty body means
// allprop (RFC 4918 section 9.1). Unknown elements are ignored.
func ParsePropfind(r io.Reader) (Propfind, error) {
	d := newDecoder(r)
	top, err := root(d)
	if err == io.EOF {
		return Propfind{Kind: AllProp}, nil
	}
	if err != nil {
		return Propfind{}, fmt.Errorf("davxml: propfind: %w", err)
	}
	if top.Name != (xml.Name{Space: NS, Local: "propfind"}) {
		return Propfind{}, fmt.Errorf("davxml: propfind: document element is %s", top.Name.Local)
	}
	var pf Propfind
	found := 0
	err = children(d, func(t xml.StartElement) error {
		if t.Name.Space != NS {
			return skip(d)
		}
		var err error
		switch t.Name.Local {
		case "prop":
			found++
			pf.Kind = Prop
			pf.Names, err = names(d)
		case "allprop":
			found++
			pf.Kind = AllProp
			err = skip(d)
		case "propname":
			found++
			pf.Kind = PropName
			err = skip(d)
		case "include":
			pf.Include, err = names(d)
		default:
			err = skip(d)
		}
		return err
	})
	if err == nil {
		err = end(d)
	}
	if err == nil && found != 1 {
		err = fmt.Errorf("want exactly one of prop, allprop and propname, got %d", found)
	}
	if err != nil {
		return Propfind{}, fmt.Errorf("davxml: propfind: %w", err)
	}
	return pf, nil
}

// ParseProppatch parses a PROPPATCH request body into its set and remove
// instructions, in document order. Values are kept as canonical XML and
// xml:lang is inherited from enclosing elements (RFC 4918 section 4.3).
func ParseProppatch(r io.Reader) ([]webdav.Proppatch, error) {
	d := newDecoder(r)
	top, err := root(d)
	if err != nil {
		return nil, fmt.Errorf("davxml: proppatch: %w", err)
	}
	if top.Name != (xml.Name{Space: NS, Local: "propertyupdate"}) {
		return nil, fmt.Errorf("davxml: proppatch: document element is %s", top.Name.Local)
	}
	var patches []webdav.Proppatch
	topLang := lang(top, "")
	err = children(d, func(t xml.StartElement) error {
		if t.Name.Space != NS || (t.Name.Local != "set" && t.Name.Local != "remove") {
			return skip(d)
		}
		p := webdav.Proppatch{Remove: t.Name.Local == "remove"}
		opLang := lang(t, topLang)
		err := children(d, func(pt xml.StartElement) error {
			if pt.Name != (xml.Name{Space: NS, Local: "prop"}) {
				return skip(d)
			}
			props, err := patchProps(d, lang(pt, opLang), p.Remove)
			p.Props = append(p.Props, props...)
			return err
		})
		if err == nil && len(p.Props) == 0 {
			err = fmt.Errorf("%s without properties", t.Name.Local)
		}
		patches = append(patches, p)
		return err
	})
	if err == nil {
		err = end(d)
	}
	if err == nil && len(patches) == 0 {
		err = errors.New("no set or remove instructions")
	}
	if err != nil {
		return nil, fmt.Errorf("davxml: proppatch: %w", err)
	}
	return patches, nil
}

// patchProps reads the properties inside one DAV:prop of a PROPPATCH.
func patchProps(d *xml.Decoder, inherited string, remove bool) ([]webdav.Property, error) {
	var out []webdav.Property
	err := children(d, func(t xml.StartElement) error {
		p := webdav.Property{XMLName: t.Name}
		if remove {
			out = append(out, p)
			return skip(d)
		}
		p.Lang = lang(t, inherited)
		v, err := captureInner(d)
		p.InnerXML = v
		out = append(out, p)
		return err
	})
	return out, err
}

// lang returns the xml:lang attribute of t, or inherited.
func lang(t xml.StartElement, inherited string) string {
	for _, a := range t.Attr {
		if a.Name == (xml.Name{Space: xmlNamespace, Local: "lang"}) {
			return a.Value
		}
	}
	return inherited
}

// ParseLockInfo parses a LOCK request body. ok is false for an empty
// body, which asks to refresh an existing lock.
func ParseLockInfo(r io.Reader) (li LockInfo, ok bool, err error) {
	d := newDecoder(r)
	top, err := root(d)
	if err == io.EOF {
		return LockInfo{}, false, nil
	}
	if err != nil {
		return LockInfo{}, false, fmt.Errorf("davxml: lockinfo: %w", err)
	}
	if top.Name != (xml.Name{Space: NS, Local: "lockinfo"}) {
		return LockInfo{}, false, fmt.Errorf("davxml: lockinfo: document element is %s", top.Name.Local)
	}
	var scope, typ []xml.Name
	err = children(d, func(t xml.StartElement) error {
		var err error
		switch t.Name {
		case xml.Name{Space: NS, Local: "lockscope"}:
			scope, err = names(d)
		case xml.Name{Space: NS, Local: "locktype"}:
			typ, err = names(d)
		case xml.Name{Space: NS, Local: "owner"}:
			li.Owner, err = captureInner(d)
			if err == nil && li.Owner == nil {
				li.Owner = []byte{}
			}
		default:
			err = skip(d)
		}
		return err
	})
	if err == nil {
		err = end(d)
	}
	if err != nil {
		return LockInfo{}, false, fmt.Errorf("davxml: lockinfo: %w", err)
	}
	switch {
	case len(scope) == 1 && scope[0] == xml.Name{Space: NS, Local: "exclusive"}:
	case len(scope) == 1 && scope[0] == xml.Name{Space: NS, Local: "shared"}:
		li.Shared = true
	default:
		return LockInfo{}, false, errors.New("davxml: lockinfo: lockscope must hold exclusive or shared")
	}
	if len(typ) != 1 || typ[0] != (xml.Name{Space: NS, Local: "write"}) {
		return LockInfo{}, false, ErrUnsupportedLockType
	}
	return li, true, nil
}

func trimSpace(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j]
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
