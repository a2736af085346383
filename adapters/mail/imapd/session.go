package imapd

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/mycelium-go/mycelium/adapters/mail/store"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// session is one IMAP connection.
type session struct {
	srv  *Server
	ctx  context.Context
	peer sdk.Peer
	user *store.User
	sel  *selected // nil unless a mailbox is selected
}

func (s *Server) newSession(ctx context.Context, c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	p, _ := sdk.PeerOf(c.NetConn())
	sess := &session{srv: s, ctx: ctx, peer: p}
	if s.cfg.PreAuth != nil && p.FromOverlay() {
		if u, ok := s.cfg.PreAuth(ctx, p); ok {
			sess.user = &u
			s.cfg.Log.Info("imap pre-authenticated", "peer", p.Key.String(), "user", u.Local)
			return sess, &imapserver.GreetingData{PreAuth: true}, nil
		}
	}
	return sess, nil, nil
}

func (s *session) Close() error {
	s.unselect()
	return nil
}

func (s *session) Login(username, password string) error {
	u, err := s.srv.cfg.Auth.Login(s.ctx, username, password)
	if err != nil {
		s.srv.cfg.Log.Info("imap login failed", "user", username, "origin", s.peer.Origin.String(), "err", err)
		// A short pause slows down password guessing.
		time.Sleep(200 * time.Millisecond)
		return imapserver.ErrAuthFailed
	}
	s.user = &u
	return nil
}

func (s *session) AppendLimit() uint32 { return uint32(s.srv.cfg.AppendLimit) }

func (s *session) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Prefix: "", Delim: store.Delim}}}, nil
}

func (s *session) Create(name string, options *imap.CreateOptions) error {
	special := ""
	if options != nil {
		for _, a := range options.SpecialUse {
			if !knownSpecialUse(a) {
				return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCode("USEATTR"),
					Text: "Unsupported special-use attribute " + string(a)}
			}
			special = string(a)
		}
	}
	return imapErr(s.srv.cfg.Store.CreateMailbox(s.ctx, s.user.ID, name, special))
}

func knownSpecialUse(a imap.MailboxAttr) bool {
	switch a {
	case imap.MailboxAttrArchive, imap.MailboxAttrDrafts, imap.MailboxAttrJunk,
		imap.MailboxAttrSent, imap.MailboxAttrTrash, imap.MailboxAttrFlagged, imap.MailboxAttrImportant:
		return true
	}
	return false
}

func (s *session) Delete(name string) error {
	return imapErr(s.srv.cfg.Store.DeleteMailbox(s.ctx, s.user.ID, name))
}

func (s *session) Rename(oldName, newName string, _ *imap.RenameOptions) error {
	return imapErr(s.srv.cfg.Store.RenameMailbox(s.ctx, s.user.ID, oldName, newName))
}

func (s *session) Subscribe(name string) error {
	return imapErr(s.srv.cfg.Store.SetSubscribed(s.ctx, s.user.ID, name, true))
}

func (s *session) Unsubscribe(name string) error {
	return imapErr(s.srv.cfg.Store.SetSubscribed(s.ctx, s.user.ID, name, false))
}

func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if len(patterns) == 0 {
		// LIST "" "": report the hierarchy delimiter.
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: store.Delim})
	}
	mbs, err := s.srv.cfg.Store.ListMailboxes(s.ctx, s.user.ID)
	if err != nil {
		return imapErr(err)
	}
	hasKids := map[string]bool{}
	for _, m := range mbs {
		if i := strings.LastIndexByte(m.Name, store.Delim); i > 0 {
			hasKids[m.Name[:i]] = true
		}
	}
	for _, m := range mbs {
		if !matchAny(m.Name, ref, patterns) {
			continue
		}
		if options.SelectSubscribed && !m.Subscribed {
			continue
		}
		if options.SelectSpecialUse && m.SpecialUse == "" {
			continue
		}
		d := &imap.ListData{Mailbox: m.Name, Delim: store.Delim}
		if hasKids[m.Name] {
			d.Attrs = append(d.Attrs, imap.MailboxAttrHasChildren)
		} else {
			d.Attrs = append(d.Attrs, imap.MailboxAttrHasNoChildren)
		}
		if m.Subscribed && (options.SelectSubscribed || options.ReturnSubscribed) {
			d.Attrs = append(d.Attrs, imap.MailboxAttrSubscribed)
		}
		if m.SpecialUse != "" {
			d.Attrs = append(d.Attrs, imap.MailboxAttr(m.SpecialUse))
		}
		if options.ReturnStatus != nil {
			st, err := s.status(m, options.ReturnStatus)
			if err != nil {
				return err
			}
			d.Status = st
		}
		if err := w.WriteList(d); err != nil {
			return err
		}
	}
	return nil
}

func matchAny(name, ref string, patterns []string) bool {
	for _, p := range patterns {
		if imapserver.MatchList(name, store.Delim, ref, p) {
			return true
		}
		// INBOX matches case-insensitively.
		if name == "INBOX" && imapserver.MatchList(name, store.Delim, ref, strings.ToUpper(p)) {
			return true
		}
	}
	return false
}

func (s *session) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	m, err := s.srv.cfg.Store.GetMailbox(s.ctx, s.user.ID, name)
	if err != nil {
		return nil, imapErr(err)
	}
	return s.status(m, options)
}

func (s *session) status(m store.Mailbox, options *imap.StatusOptions) (*imap.StatusData, error) {
	st, err := s.srv.cfg.Store.MailboxStatus(s.ctx, m.ID)
	if err != nil {
		return nil, imapErr(err)
	}
	zero := uint32(0)
	limit := uint32(s.srv.cfg.AppendLimit)
	return &imap.StatusData{
		Mailbox:       m.Name,
		NumMessages:   &st.Messages,
		UIDNext:       imap.UID(m.UIDNext),
		UIDValidity:   m.UIDValidity,
		NumUnseen:     &st.Unseen,
		NumDeleted:    &st.Deleted,
		Size:          &st.Size,
		AppendLimit:   &limit,
		NumRecent:     &zero,
		HighestModSeq: m.HighestModSeq,
	}, nil
}

func (s *session) Append(mailbox string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	st := s.srv.cfg.Store
	m, err := st.GetMailbox(s.ctx, s.user.ID, mailbox)
	if err != nil {
		io.Copy(io.Discard, r)
		return nil, tryCreate(err)
	}
	b, err := st.WriteBlob(r, s.srv.cfg.AppendLimit)
	if err != nil {
		return nil, imapErr(err)
	}
	meta, err := store.ParseMeta(b)
	if err != nil {
		b.Discard()
		return nil, imapErr(err)
	}
	date := options.Time
	if date.IsZero() {
		date = time.Now()
	}
	v, uid, err := st.Append(s.ctx, m.ID, b, meta, options.Flags, date)
	if err != nil {
		return nil, imapErr(err)
	}
	return &imap.AppendData{UIDValidity: v, UID: uid}, nil
}

func (s *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if s.sel == nil {
		return nil
	}
	return s.sel.st.Poll(w, allowExpunge)
}

func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	if s.sel == nil {
		<-stop
		return nil
	}
	return s.sel.st.Idle(w, stop)
}

// imapErr maps store errors to IMAP responses with response codes.
func imapErr(err error) error {
	if err == nil {
		return nil
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		return err
	}
	no := func(code imap.ResponseCode, text string) error {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: code, Text: text}
	}
	switch {
	case errors.Is(err, store.ErrNoSuchMailbox):
		return no(imap.ResponseCodeNonExistent, "No such mailbox")
	case errors.Is(err, store.ErrMailboxExists):
		return no(imap.ResponseCodeAlreadyExists, "Mailbox already exists")
	case errors.Is(err, store.ErrInbox):
		return no(imap.ResponseCodeCannot, "INBOX cannot be deleted or renamed")
	case errors.Is(err, store.ErrHasChildren):
		return no(imap.ResponseCodeHasChildren, "Mailbox has children; delete them first")
	case errors.Is(err, store.ErrTooBig):
		return no(imap.ResponseCodeTooBig, "Message too big")
	}
	return no(imap.ResponseCodeServerBug, "Server error: "+err.Error())
}

func tryCreate(err error) error {
	if errors.Is(err, store.ErrNoSuchMailbox) {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "No such mailbox"}
	}
	return imapErr(err)
}

var (
	_ imapserver.SessionIMAP4rev2   = (*session)(nil)
	_ imapserver.SessionAppendLimit = (*session)(nil)
)
