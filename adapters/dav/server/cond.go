package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/mycelium-go/mycelium/adapters/dav/store"
)

// etagList is a parsed If-Match or If-None-Match header (RFC 9110
// 13.1.1 and 13.1.2).
type etagList struct {
	set  bool // the header was present
	any  bool // "*"
	tags []entityTag
}

type entityTag struct {
	weak  bool
	value string // without quotes
}

var errBadETagList = errors.New("malformed entity-tag list")

// parseETagList parses the combined values of a conditional header.
// Unquoted tags, which some clients send, are accepted as strong tags.
func parseETagList(values []string) (etagList, error) {
	var l etagList
	s := strings.TrimSpace(strings.Join(values, ","))
	if len(values) == 0 {
		return l, nil
	}
	l.set = true
	if s == "*" {
		l.any = true
		return l, nil
	}
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			break
		}
		var t entityTag
		if strings.HasPrefix(s, "W/") {
			t.weak, s = true, s[2:]
		}
		if strings.HasPrefix(s, `"`) {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return etagList{}, errBadETagList
			}
			t.value, s = s[1:1+end], s[2+end:]
		} else {
			end := strings.IndexAny(s, ", \t")
			if end < 0 {
				end = len(s)
			}
			t.value, s = s[:end], s[end:]
			if t.value == "*" || t.value == "" || strings.ContainsAny(t.value, `"`) {
				return etagList{}, errBadETagList
			}
		}
		if s != "" && s[0] != ',' && s[0] != ' ' && s[0] != '\t' {
			return etagList{}, errBadETagList
		}
		l.tags = append(l.tags, t)
	}
	if len(l.tags) == 0 {
		return etagList{}, errBadETagList
	}
	return l, nil
}

// matchStrong is the If-Match comparison: weak tags never match.
func (l etagList) matchStrong(etag string) bool {
	if l.any {
		return true
	}
	for _, t := range l.tags {
		if !t.weak && t.value == etag {
			return true
		}
	}
	return false
}

// matchWeak is the If-None-Match comparison.
func (l etagList) matchWeak(etag string) bool {
	if l.any {
		return true
	}
	for _, t := range l.tags {
		if t.value == etag {
			return true
		}
	}
	return false
}

var errPrecondition = errStatus(http.StatusPreconditionFailed, "precondition failed")

// conditions turns If-Match and If-None-Match into a store.Check that
// runs inside the write transaction, so the test and the write are
// atomic.
func conditions(r *http.Request) (store.Check, error) {
	im, err := parseETagList(r.Header.Values("If-Match"))
	if err != nil {
		return nil, errStatus(http.StatusBadRequest, "If-Match: %v", err)
	}
	inm, err := parseETagList(r.Header.Values("If-None-Match"))
	if err != nil {
		return nil, errStatus(http.StatusBadRequest, "If-None-Match: %v", err)
	}
	if !im.set && !inm.set {
		return nil, nil
	}
	return func(cur *store.ObjectMeta) error {
		if im.set && (cur == nil || !im.matchStrong(cur.ETag)) {
			return errPrecondition
		}
		if inm.set && cur != nil && inm.matchWeak(cur.ETag) {
			return errPrecondition
		}
		return nil
	}, nil
}
