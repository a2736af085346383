package imapd

import (
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/mycelium-go/mycelium/adapters/mail/store"
)

// selected is the state of the selected mailbox of a session.
type selected struct {
	mb        store.Mailbox
	live      *store.Live
	st        *imapserver.SessionTracker
	readOnly  bool
	searchRes []imap.UID // SEARCHRES "$"
}

// ref is one message as the client sees it.
type ref struct {
	seq uint32 // client-view sequence number
	uid imap.UID
}

func (s *session) unselect() {
	if s.sel != nil {
		s.sel.st.Close()
		s.sel = nil
	}
}

func (s *session) Unselect() error {
	s.unselect()
	return nil
}

func (s *session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	s.unselect()
	st := s.srv.cfg.Store
	m, err := st.GetMailbox(s.ctx, s.user.ID, name)
	if err != nil {
		return nil, imapErr(err)
	}
	live, err := st.OpenLive(s.ctx, m.ID)
	if err != nil {
		return nil, imapErr(err)
	}
	kw, err := st.MailboxKeywords(s.ctx, m.ID)
	if err != nil {
		return nil, imapErr(err)
	}
	tracker, n := live.NewSession()
	sel := &selected{mb: m, live: live, st: tracker, readOnly: options != nil && options.ReadOnly}
	uidNext := imap.UID(m.UIDNext)
	var firstUnseenUID imap.UID
	live.View(func(uids []imap.UID) {
		if n > 0 && n <= uint32(len(uids)) && uids[n-1] >= uidNext {
			uidNext = uids[n-1] + 1
		}
	})
	msgs, err := st.Messages(s.ctx, m.ID, 1, uidNext-1, false)
	if err != nil {
		tracker.Close()
		return nil, imapErr(err)
	}
	for _, msg := range msgs {
		if !msg.Flags.Has(imap.FlagSeen) {
			firstUnseenUID = msg.UID
			break
		}
	}
	var firstUnseen uint32
	if firstUnseenUID != 0 {
		for _, r := range sel.resolve(imap.UIDSet{{Start: firstUnseenUID, Stop: firstUnseenUID}}) {
			firstUnseen = r.seq
		}
	}
	flags := []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft}
	flags = append(flags, kw...)
	perm := append(append([]imap.Flag{}, flags...), imap.FlagWildcard)
	if sel.readOnly {
		perm = nil
	}
	s.sel = sel
	return &imap.SelectData{
		Flags:             flags,
		PermanentFlags:    perm,
		NumMessages:       n,
		FirstUnseenSeqNum: firstUnseen,
		UIDNext:           uidNext,
		UIDValidity:       m.UIDValidity,
		HighestModSeq:     m.HighestModSeq,
	}, nil
}

// resolve turns a sequence or UID set into the messages the client can
// see, in mailbox order.
func (sel *selected) resolve(numSet imap.NumSet) []ref {
	var out []ref
	sel.live.View(func(uids []imap.UID) {
		// Client view: every server message the session has been told
		// about (EncodeSeqNum != 0).
		type pair struct {
			seq uint32
			uid imap.UID
		}
		view := make([]pair, 0, len(uids))
		var maxSeq uint32
		for i, u := range uids {
			c := sel.st.EncodeSeqNum(uint32(i + 1))
			if c == 0 {
				continue
			}
			view = append(view, pair{c, u})
			maxSeq = max(maxSeq, c)
		}
		var maxUID imap.UID
		if len(view) > 0 {
			maxUID = view[len(view)-1].uid
		}
		set := sel.static(numSet, maxSeq, maxUID)
		for _, p := range view {
			var in bool
			switch set := set.(type) {
			case imap.SeqSet:
				in = set.Contains(p.seq)
			case imap.UIDSet:
				in = set.Contains(p.uid)
			}
			if in {
				out = append(out, ref{seq: p.seq, uid: p.uid})
			}
		}
	})
	return out
}

// static replaces "*" by the highest sequence number or UID, and "$" by
// the saved search result.
func (sel *selected) static(numSet imap.NumSet, maxSeq uint32, maxUID imap.UID) imap.NumSet {
	if imap.IsSearchRes(numSet) {
		var set imap.UIDSet
		for _, u := range sel.searchRes {
			set.AddNum(u)
		}
		return set
	}
	switch set := numSet.(type) {
	case imap.SeqSet:
		out := make(imap.SeqSet, len(set))
		copy(out, set)
		for i := range out {
			staticRange(&out[i].Start, &out[i].Stop, maxSeq)
		}
		return out
	case imap.UIDSet:
		out := make(imap.UIDSet, len(set))
		copy(out, set)
		for i := range out {
			staticRange((*uint32)(&out[i].Start), (*uint32)(&out[i].Stop), uint32(maxUID))
		}
		return out
	}
	return numSet
}

func staticRange(start, stop *uint32, max uint32) {
	if *start == 0 {
		*start = max
	}
	if *stop == 0 {
		*stop = max
	}
	if *start > *stop {
		*start, *stop = *stop, *start
	}
}

func uidsOf(refs []ref) []imap.UID {
	out := make([]imap.UID, len(refs))
	for i, r := range refs {
		out[i] = r.uid
	}
	return out
}

func (s *session) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	sel := s.sel
	if sel.readOnly {
		return readOnlyErr
	}
	refs := sel.resolve(imap.SeqSet{{Start: 1, Stop: 0}})
	var cand []imap.UID
	for _, r := range refs {
		if uids == nil || uids.Contains(r.uid) {
			cand = append(cand, r.uid)
		}
	}
	// The EXPUNGE responses reach this session through its tracker, in
	// the poll that follows the command.
	_, err := s.srv.cfg.Store.Expunge(s.ctx, sel.mb.ID, cand)
	return imapErr(err)
}

var readOnlyErr = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Mailbox is read-only (EXAMINE)"}

func (s *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	sel := s.sel
	if sel.readOnly {
		return readOnlyErr
	}
	refs := sel.resolve(numSet)
	ups, err := s.srv.cfg.Store.StoreFlags(s.ctx, sel.mb.ID, uidsOf(refs), flags.Op, flags.Flags, sel.st)
	if err != nil {
		return imapErr(err)
	}
	if flags.Silent {
		return nil
	}
	_, isUID := numSet.(imap.UIDSet)
	seqOf := make(map[imap.UID]uint32, len(refs))
	for _, r := range refs {
		seqOf[r.uid] = r.seq
	}
	for _, u := range ups {
		rw := w.CreateMessage(seqOf[u.UID])
		if isUID {
			rw.WriteUID(u.UID)
		}
		rw.WriteFlags(u.Flags)
		if err := rw.Close(); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	res, err := s.copyOrMove(numSet, dest, false)
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (s *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	if s.sel.readOnly {
		return readOnlyErr
	}
	res, err := s.copyOrMove(numSet, dest, true)
	if err != nil || res == nil {
		return err
	}
	// The EXPUNGE responses follow through the tracker before the tagged OK.
	return w.WriteCopyData(res)
}

func (s *session) copyOrMove(numSet imap.NumSet, dest string, move bool) (*imap.CopyData, error) {
	st := s.srv.cfg.Store
	dm, err := st.GetMailbox(s.ctx, s.user.ID, dest)
	if err != nil {
		return nil, tryCreate(err)
	}
	refs := s.sel.resolve(numSet)
	if len(refs) == 0 {
		return nil, nil
	}
	res, err := st.Copy(s.ctx, s.sel.mb.ID, dm.ID, uidsOf(refs), move)
	if err != nil {
		return nil, imapErr(err)
	}
	var src, dst imap.UIDSet
	for i := range res.Source {
		src.AddNum(res.Source[i])
		dst.AddNum(res.Dest[i])
	}
	return &imap.CopyData{UIDValidity: res.UIDValidity, SourceUIDs: src, DestUIDs: dst}, nil
}
