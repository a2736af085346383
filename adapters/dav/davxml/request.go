package davxml

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// PropFind is what a PROPFIND (or the DAV:prop part of a REPORT) asks for.
type PropFind struct {
	AllProp  bool
	PropName bool
	Props    []xml.Name // for <prop>, or the <include> list of <allprop>
}

// ParsePropFind interprets a DAV:propfind document. A nil root (empty
// body) means allprop, as RFC 4918 section 9.1 requires.
func ParsePropFind(root *Node) (PropFind, error) {
	if root == nil {
		return PropFind{AllProp: true}, nil
	}
	if !root.Is(NSDAV, "propfind") {
		return PropFind{}, fmt.Errorf("davxml: expected DAV:propfind, got %s", nameString(root.Name))
	}
	return parsePropSelector(root, true)
}

// ParsePropSelector interprets the prop/allprop/propname children of a
// REPORT body. Without any of them, the report selects no properties.
func ParsePropSelector(parent *Node) (PropFind, error) {
	return parsePropSelector(parent, false)
}

func parsePropSelector(parent *Node, required bool) (PropFind, error) {
	var pf PropFind
	n := 0
	for _, c := range parent.Children {
		switch {
		case c.Is(NSDAV, "allprop"):
			pf.AllProp = true
			n++
		case c.Is(NSDAV, "propname"):
			pf.PropName = true
			n++
		case c.Is(NSDAV, "prop"):
			for _, p := range c.Children {
				pf.Props = append(pf.Props, p.Name)
			}
			n++
		}
	}
	if n > 1 {
		return PropFind{}, errors.New("davxml: more than one of prop, allprop and propname")
	}
	if pf.AllProp {
		for _, p := range parent.Child(NSDAV, "include").childNames() {
			pf.Props = append(pf.Props, p)
		}
	}
	if n == 0 && required {
		return PropFind{}, errors.New("davxml: propfind needs prop, allprop or propname")
	}
	return pf, nil
}

func (n *Node) childNames() []xml.Name {
	if n == nil {
		return nil
	}
	out := make([]xml.Name, 0, len(n.Children))
	for _, c := range n.Children {
		out = append(out, c.Name)
	}
	return out
}

// PropOp is one instruction of a PROPPATCH, in document order.
type PropOp struct {
	Remove bool
	Prop   *Node // the property element (value for set, name for remove)
}

// ParsePropertyUpdate interprets a DAV:propertyupdate document.
func ParsePropertyUpdate(root *Node) ([]PropOp, error) {
	if root == nil || !root.Is(NSDAV, "propertyupdate") {
		return nil, errors.New("davxml: expected DAV:propertyupdate")
	}
	var ops []PropOp
	for _, c := range root.Children {
		remove := c.Is(NSDAV, "remove")
		if !remove && !c.Is(NSDAV, "set") {
			continue
		}
		for _, prop := range c.All(NSDAV, "prop") {
			for _, p := range prop.Children {
				ops = append(ops, PropOp{Remove: remove, Prop: p})
			}
		}
	}
	if len(ops) == 0 {
		return nil, errors.New("davxml: propertyupdate without properties")
	}
	return ops, nil
}

// ParseMkcol interprets the body of an extended MKCOL (RFC 5689,
// DAV:mkcol) or a MKCALENDAR (RFC 4791, CALDAV:mkcalendar) and returns
// the properties to set. A nil root returns no properties.
func ParseMkcol(root *Node, rootName xml.Name) ([]*Node, error) {
	if root == nil {
		return nil, nil
	}
	if root.Name != rootName {
		return nil, fmt.Errorf("davxml: expected %s, got %s", nameString(rootName), nameString(root.Name))
	}
	var props []*Node
	for _, set := range root.All(NSDAV, "set") {
		for _, prop := range set.All(NSDAV, "prop") {
			props = append(props, prop.Children...)
		}
	}
	return props, nil
}

// Multiget is a calendar-multiget or addressbook-multiget report.
type Multiget struct {
	PropFind PropFind
	Hrefs    []string // raw href text, unresolved
}

// ParseMultiget interprets a multiget REPORT body of the given name.
func ParseMultiget(root *Node) (Multiget, error) {
	pf, err := ParsePropSelector(root)
	if err != nil {
		return Multiget{}, err
	}
	m := Multiget{PropFind: pf}
	for _, h := range root.All(NSDAV, "href") {
		m.Hrefs = append(m.Hrefs, h.TrimmedText())
	}
	return m, nil
}

// SyncCollection is a DAV:sync-collection report (RFC 6578).
type SyncCollection struct {
	Token    string // empty for the initial synchronization
	Infinite bool   // sync-level infinite
	Limit    int    // -1: no limit
	PropFind PropFind
}

// ParseSyncCollection interprets a DAV:sync-collection REPORT body.
func ParseSyncCollection(root *Node) (SyncCollection, error) {
	sc := SyncCollection{Limit: -1}
	if root == nil || !root.Is(NSDAV, "sync-collection") {
		return sc, errors.New("davxml: expected DAV:sync-collection")
	}
	tok := root.Child(NSDAV, "sync-token")
	if tok == nil {
		return sc, errors.New("davxml: sync-collection without sync-token")
	}
	sc.Token = tok.TrimmedText()
	switch lvl := root.Child(NSDAV, "sync-level"); {
	case lvl == nil:
		// RFC 6578 requires sync-level, but early clients omit it; 1 is
		// the only level that makes sense for our flat collections.
	case lvl.TrimmedText() == "1":
	case strings.EqualFold(lvl.TrimmedText(), "infinite"):
		sc.Infinite = true
	default:
		return sc, fmt.Errorf("davxml: invalid sync-level %q", lvl.TrimmedText())
	}
	if lim := root.Child(NSDAV, "limit"); lim != nil {
		nr := lim.Child(NSDAV, "nresults")
		n, err := strconv.Atoi(nr.TrimmedText())
		if nr == nil || err != nil || n < 0 {
			return sc, errors.New("davxml: invalid limit/nresults")
		}
		sc.Limit = n
	}
	pf, err := ParsePropSelector(root)
	if err != nil {
		return sc, err
	}
	sc.PropFind = pf
	return sc, nil
}

func nameString(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return "{" + n.Space + "}" + n.Local
}
