package contacts

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/emersion/go-vcard"

	"github.com/mycelium-go/mycelium/adapters/dav/collation"
	"github.com/mycelium-go/mycelium/adapters/dav/davxml"
)

// DefaultCollation is the CardDAV default for text-match.
const DefaultCollation = collation.UnicodeCasemap

// Filter is the CARDDAV:filter of an addressbook-query.
type Filter struct {
	AllOf bool // test="allof"; default anyof
	Props []PropFilter
}

// PropFilter is a CARDDAV:prop-filter.
type PropFilter struct {
	Name         string
	AllOf        bool
	IsNotDefined bool
	Texts        []TextMatch
	Params       []ParamFilter
}

// ParamFilter is a CARDDAV:param-filter.
type ParamFilter struct {
	Name         string
	IsNotDefined bool
	Text         *TextMatch
}

// TextMatch is a CARDDAV:text-match.
type TextMatch struct {
	Text      string
	Collation string
	Match     collation.MatchType
	Negate    bool
}

// FilterError is a filter the server cannot evaluate; Collation is set
// for an unsupported collation (CARDDAV:supported-collation).
type FilterError struct {
	Msg       string
	Collation bool
}

func (e *FilterError) Error() string { return "contacts: invalid filter: " + e.Msg }

func filterErr(format string, a ...any) error { return &FilterError{Msg: fmt.Sprintf(format, a...)} }

// Query is a parsed addressbook-query: its filter and result limit.
type Query struct {
	Filter Filter
	Limit  int // 0: no limit
}

// ParseQuery interprets the filter and limit of a CARDDAV:addressbook-query
// element.
func ParseQuery(root *davxml.Node) (*Query, error) {
	fn := root.Child(davxml.NSCardDAV, "filter")
	if fn == nil {
		return nil, filterErr("missing CARDDAV:filter")
	}
	q := &Query{}
	allOf, err := parseTest(fn)
	if err != nil {
		return nil, err
	}
	q.Filter.AllOf = allOf
	for _, p := range fn.All(davxml.NSCardDAV, "prop-filter") {
		pf, err := parsePropFilter(p)
		if err != nil {
			return nil, err
		}
		q.Filter.Props = append(q.Filter.Props, pf)
	}
	if lim := root.Child(davxml.NSCardDAV, "limit"); lim != nil {
		n, err := strconv.Atoi(lim.Child(davxml.NSCardDAV, "nresults").TrimmedText())
		if err != nil || n < 1 {
			return nil, filterErr("limit/nresults must be a positive number")
		}
		q.Limit = n
	}
	return q, nil
}

func parseTest(n *davxml.Node) (allOf bool, err error) {
	switch t, _ := n.Attribute("test"); t {
	case "", "anyof":
		return false, nil
	case "allof":
		return true, nil
	default:
		return false, filterErr("test must be anyof or allof, not %q", t)
	}
}

func parsePropFilter(n *davxml.Node) (PropFilter, error) {
	name, ok := n.Attribute("name")
	if !ok || name == "" {
		return PropFilter{}, filterErr("prop-filter without name")
	}
	pf := PropFilter{Name: strings.ToUpper(name)}
	allOf, err := parseTest(n)
	if err != nil {
		return pf, err
	}
	pf.AllOf = allOf
	if n.Child(davxml.NSCardDAV, "is-not-defined") != nil {
		pf.IsNotDefined = true
		return pf, nil
	}
	for _, tm := range n.All(davxml.NSCardDAV, "text-match") {
		t, err := parseTextMatch(tm)
		if err != nil {
			return pf, err
		}
		pf.Texts = append(pf.Texts, *t)
	}
	for _, p := range n.All(davxml.NSCardDAV, "param-filter") {
		name, ok := p.Attribute("name")
		if !ok || name == "" {
			return pf, filterErr("param-filter without name")
		}
		parf := ParamFilter{Name: strings.ToUpper(name)}
		if p.Child(davxml.NSCardDAV, "is-not-defined") != nil {
			parf.IsNotDefined = true
		} else if tm := p.Child(davxml.NSCardDAV, "text-match"); tm != nil {
			t, err := parseTextMatch(tm)
			if err != nil {
				return pf, err
			}
			parf.Text = t
		}
		pf.Params = append(pf.Params, parf)
	}
	return pf, nil
}

func parseTextMatch(n *davxml.Node) (*TextMatch, error) {
	t := &TextMatch{Text: n.Text, Collation: DefaultCollation}
	if c, ok := n.Attribute("collation"); ok && c != "" {
		t.Collation = c
	}
	if !collation.IsSupported(t.Collation) {
		return nil, &FilterError{Msg: fmt.Sprintf("unsupported collation %q", t.Collation), Collation: true}
	}
	mt, _ := n.Attribute("match-type")
	m, err := collation.ParseMatchType(mt)
	if err != nil {
		return nil, filterErr("%v", err)
	}
	t.Match = m
	switch v, _ := n.Attribute("negate-condition"); v {
	case "", "no":
	case "yes":
		t.Negate = true
	default:
		return nil, filterErr("negate-condition must be yes or no")
	}
	return t, nil
}

// Match reports whether card matches the filter. A filter without
// prop-filters matches every card.
func (f *Filter) Match(card vcard.Card) (bool, error) {
	if len(f.Props) == 0 {
		return true, nil
	}
	for _, pf := range f.Props {
		ok, err := pf.match(card)
		if err != nil {
			return false, err
		}
		if ok && !f.AllOf {
			return true, nil
		}
		if !ok && f.AllOf {
			return false, nil
		}
	}
	return f.AllOf, nil
}

func (pf *PropFilter) match(card vcard.Card) (bool, error) {
	fields := card[pf.Name]
	if pf.IsNotDefined {
		return len(fields) == 0, nil
	}
	for _, field := range fields {
		ok, err := pf.matchField(field)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// matchField combines the text-matches and param-filters of pf with its
// test (anyof or allof) for one property instance.
func (pf *PropFilter) matchField(field *vcard.Field) (bool, error) {
	n := len(pf.Texts) + len(pf.Params)
	if n == 0 {
		return true, nil
	}
	results := make([]bool, 0, n)
	for _, t := range pf.Texts {
		ok, err := t.match(field.Value)
		if err != nil {
			return false, err
		}
		results = append(results, ok)
	}
	for _, p := range pf.Params {
		ok, err := p.match(field)
		if err != nil {
			return false, err
		}
		results = append(results, ok)
	}
	for _, ok := range results {
		if ok && !pf.AllOf {
			return true, nil
		}
		if !ok && pf.AllOf {
			return false, nil
		}
	}
	return pf.AllOf, nil
}

func (p *ParamFilter) match(field *vcard.Field) (bool, error) {
	var vals []string
	for k, v := range field.Params {
		if strings.EqualFold(k, p.Name) {
			vals = append(vals, v...)
		}
	}
	if p.IsNotDefined {
		return len(vals) == 0, nil
	}
	if len(vals) == 0 {
		return false, nil
	}
	if p.Text == nil {
		return true, nil
	}
	for _, v := range vals {
		// TYPE=home,work arrives as one value in vCard 3.0 files.
		for _, part := range strings.Split(v, ",") {
			ok, err := p.Text.match(part)
			if err != nil || ok {
				return ok, err
			}
		}
	}
	return false, nil
}

func (t *TextMatch) match(value string) (bool, error) {
	ok, err := collation.Match(t.Collation, t.Match, value, t.Text)
	if err != nil {
		return false, err
	}
	return ok != t.Negate, nil
}
