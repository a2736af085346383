package imapd

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/mycelium-go/mycelium/adapters/mail/store"
)

func (s *session) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	sel := s.sel
	refs := sel.resolve(imap.SeqSet{{Start: 1, Stop: 0}})
	data := &imap.SearchData{}
	var (
		seqs imap.SeqSet
		uids imap.UIDSet
		hits []imap.UID
	)
	if len(refs) > 0 {
		var maxSeq uint32
		for _, r := range refs {
			maxSeq = max(maxSeq, r.seq)
		}
		crit := sel.staticCriteria(*criteria, maxSeq, refs[len(refs)-1].uid)
		msgs, err := s.srv.cfg.Store.Messages(s.ctx, sel.mb.ID, refs[0].uid, refs[len(refs)-1].uid, false)
		if err != nil {
			return nil, imapErr(err)
		}
		byUID := make(map[imap.UID]*store.Message, len(msgs))
		for i := range msgs {
			byUID[msgs[i].UID] = &msgs[i]
		}
		for _, r := range refs {
			m := byUID[r.uid]
			if m == nil {
				continue
			}
			c := &candidate{s: s, ref: r, m: m}
			ok := c.match(&crit)
			c.close()
			if !ok {
				continue
			}
			hits = append(hits, r.uid)
			uids.AddNum(r.uid)
			seqs.AddNum(r.seq)
			num := r.seq
			if kind == imapserver.NumKindUID {
				num = uint32(r.uid)
			}
			if data.Min == 0 || num < data.Min {
				data.Min = num
			}
			data.Max = max(data.Max, num)
			data.Count++
		}
	}
	if kind == imapserver.NumKindUID {
		data.All = uids
	} else {
		data.All = seqs
	}
	if options.ReturnSave {
		sel.searchRes = hits
	}
	return data, nil
}

// staticCriteria resolves "*" and "$" in the criteria's sets.
func (sel *selected) staticCriteria(c imap.SearchCriteria, maxSeq uint32, maxUID imap.UID) imap.SearchCriteria {
	var seqs []imap.SeqSet
	var uids []imap.UIDSet
	for _, set := range c.SeqNum {
		switch v := sel.static(set, maxSeq, maxUID).(type) {
		case imap.SeqSet:
			seqs = append(seqs, v)
		case imap.UIDSet:
			uids = append(uids, v)
		}
	}
	for _, set := range c.UID {
		uids = append(uids, sel.static(set, maxSeq, maxUID).(imap.UIDSet))
	}
	c.SeqNum, c.UID = seqs, uids
	if len(c.Not) > 0 {
		not := make([]imap.SearchCriteria, len(c.Not))
		for i := range c.Not {
			not[i] = sel.staticCriteria(c.Not[i], maxSeq, maxUID)
		}
		c.Not = not
	}
	if len(c.Or) > 0 {
		or := make([][2]imap.SearchCriteria, len(c.Or))
		for i := range c.Or {
			or[i][0] = sel.staticCriteria(c.Or[i][0], maxSeq, maxUID)
			or[i][1] = sel.staticCriteria(c.Or[i][1], maxSeq, maxUID)
		}
		c.Or = or
	}
	return c
}

// candidate is a message under test; its body is read at most once, and
// only when a criterion needs it.
type candidate struct {
	s      *session
	ref    ref
	m      *store.Message
	raw    []byte
	loaded bool
	header *mail.Header
}

func (c *candidate) close() { c.raw = nil }

func (c *candidate) body() []byte {
	if !c.loaded {
		c.loaded = true
		f, err := c.s.srv.cfg.Store.OpenBody(c.m)
		if err == nil {
			c.raw, _ = io.ReadAll(f)
			f.Close()
		}
	}
	return c.raw
}

func (c *candidate) hdr() *mail.Header {
	if c.header == nil {
		h, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(c.body())))
		c.header = &mail.Header{Header: gomessage.Header{Header: h}}
	}
	return c.header
}

func (c *candidate) match(cr *imap.SearchCriteria) bool {
	for _, set := range cr.SeqNum {
		if !set.Contains(c.ref.seq) {
			return false
		}
	}
	for _, set := range cr.UID {
		if !set.Contains(c.ref.uid) {
			return false
		}
	}
	if !matchDate(c.m.InternalDate, cr.Since, cr.Before) {
		return false
	}
	for _, f := range cr.Flag {
		if !c.m.Flags.Has(f) {
			return false
		}
	}
	for _, f := range cr.NotFlag {
		if c.m.Flags.Has(f) {
			return false
		}
	}
	if cr.Larger != 0 && c.m.Size <= cr.Larger {
		return false
	}
	if cr.Smaller != 0 && c.m.Size >= cr.Smaller {
		return false
	}
	if !c.matchContent(cr) {
		return false
	}
	for i := range cr.Not {
		if c.match(&cr.Not[i]) {
			return false
		}
	}
	for i := range cr.Or {
		if !c.match(&cr.Or[i][0]) && !c.match(&cr.Or[i][1]) {
			return false
		}
	}
	return true
}

func (c *candidate) matchContent(cr *imap.SearchCriteria) bool {
	for _, hf := range cr.Header {
		if !matchHeader(c.hdr().FieldsByKey(hf.Key), hf.Value) {
			return false
		}
	}
	if !cr.SentSince.IsZero() || !cr.SentBefore.IsZero() {
		t, err := c.hdr().Date()
		if err != nil || !matchDate(t, cr.SentSince, cr.SentBefore) {
			return false
		}
	}
	for _, text := range cr.Text {
		if !c.matchText(text, true) {
			return false
		}
	}
	for _, text := range cr.Body {
		if !c.matchText(text, false) {
			return false
		}
	}
	return true
}

func (c *candidate) matchText(pattern string, withHeader bool) bool {
	if pattern == "" {
		return true
	}
	e, err := gomessage.Read(bytes.NewReader(c.body()))
	if e == nil {
		// Unparseable: fall back to a raw substring search.
		return containsFold(c.body(), pattern)
	}
	_ = err // unknown charsets still yield a readable entity
	return matchEntity(e, strings.ToLower(pattern), withHeader)
}

func matchEntity(e *gomessage.Entity, pattern string, withHeader bool) bool {
	if withHeader && matchHeader(e.Header.Fields(), pattern) {
		return true
	}
	if mr := e.MultipartReader(); mr != nil {
		for {
			part, err := mr.NextPart()
			if err != nil {
				return false
			}
			if matchEntity(part, pattern, withHeader) {
				return true
			}
		}
	}
	t, _, _ := e.Header.ContentType()
	if t != "" && !strings.HasPrefix(t, "text/") && !strings.HasPrefix(t, "message/") {
		return false
	}
	b, _ := io.ReadAll(e.Body)
	return containsFold(b, pattern)
}

func containsFold(b []byte, pattern string) bool {
	return bytes.Contains(bytes.ToLower(b), []byte(strings.ToLower(pattern)))
}

func matchHeader(fields gomessage.HeaderFields, pattern string) bool {
	pattern = strings.ToLower(pattern)
	for fields.Next() {
		if pattern == "" {
			return true
		}
		v, err := fields.Text()
		if err != nil {
			v = fields.Value()
		}
		if strings.Contains(strings.ToLower(v), pattern) {
			return true
		}
	}
	return false
}

// matchDate compares dates only (RFC 9051: time and zone are ignored).
func matchDate(t, since, before time.Time) bool {
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if !since.IsZero() && d.Before(since) {
		return false
	}
	if !before.IsZero() && !d.Before(before) {
		return false
	}
	return true
}
