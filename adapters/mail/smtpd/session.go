package smtpd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/mycelium-go/mycelium/adapters/mail/addr"
	"github.com/mycelium-go/mycelium/adapters/mail/store"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// session is one SMTP connection (both roles).
type session struct {
	srv  *Server
	ctx  context.Context
	conn *smtp.Conn
	peer sdk.Peer
	user *store.User // submission: the authenticated account

	from   string
	local  map[int64]string    // user id -> first recipient address naming it
	remote map[string][]string // domain -> recipients
}

func smtpErr(code int, enh smtp.EnhancedCode, format string, args ...any) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: fmt.Sprintf(format, args...)}
}

func (s *Server) newSession(ctx context.Context, c *smtp.Conn) (smtp.Session, error) {
	p, _ := sdk.PeerOf(c.Conn())
	if s.role == RoleMX && !p.FromOverlay() {
		return nil, smtpErr(554, smtp.EnhancedCode{5, 7, 1},
			"this is the mesh mail exchanger: it only accepts connections from overlay nodes")
	}
	sess := &session{srv: s, ctx: ctx, conn: c, peer: p}
	sess.Reset()
	return sess, nil
}

func (s *session) Reset() {
	s.from = ""
	s.local = map[int64]string{}
	s.remote = map[string][]string{}
}

func (s *session) Logout() error { return nil }

// canAuth reports whether AUTH may be offered on this connection.
func (s *session) canAuth() bool {
	if s.srv.role != RoleSubmission {
		return false
	}
	if _, isTLS := s.conn.TLSConnectionState(); isTLS {
		return true
	}
	return s.srv.cfg.AllowPlainLoopback && s.peer.Origin == sdk.OriginLoopback
}

func (s *session) AuthMechanisms() []string {
	if !s.canAuth() {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	if !s.canAuth() {
		return nil, smtpErr(523, smtp.EnhancedCode{5, 7, 10}, "TLS is required to authenticate (use STARTTLS on 587 or TLS on 465)")
	}
	login := func(username, password string) error {
		u, err := s.srv.cfg.Auth.Login(s.ctx, username, password)
		if err != nil {
			s.srv.cfg.Log.Info("smtp auth failed", "user", username, "origin", s.peer.Origin.String(), "err", err)
			time.Sleep(200 * time.Millisecond)
			return smtp.ErrAuthFailed
		}
		s.user = &u
		return nil
	}
	switch strings.ToUpper(mech) {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && !strings.EqualFold(identity, username) {
				return smtpErr(535, smtp.EnhancedCode{5, 7, 8}, "authorization identity must equal the login")
			}
			return login(username, password)
		}), nil
	case sasl.Login:
		return &loginServer{auth: login}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	switch s.srv.role {
	case RoleSubmission:
		return s.mailSubmission(from)
	default:
		return s.mailMX(from)
	}
}

func (s *session) mailSubmission(from string) error {
	if s.user == nil {
		return smtpErr(530, smtp.EnhancedCode{5, 7, 0}, "authentication required")
	}
	a, err := addr.Parse(from)
	if err != nil {
		return smtpErr(553, smtp.EnhancedCode{5, 1, 7}, "bad sender address: %v", err)
	}
	if !s.ownsAddress(a) {
		return smtpErr(553, smtp.EnhancedCode{5, 7, 1},
			"sender <%s> is not an address of the authenticated user %s@%s", from, s.user.Local, s.srv.cfg.Resolver.Canonical())
	}
	s.from = a.String()
	return nil
}

func (s *session) ownsAddress(a addr.Address) bool {
	return a.Local == s.user.Local && s.srv.cfg.Resolver.Classify(a.Domain) == addr.KindLocal
}

func (s *session) mailMX(from string) error {
	if from == "" {
		return smtpErr(550, smtp.EnhancedCode{5, 7, 1}, "a null reverse-path is not accepted on the mesh: the sender domain must identify the sending node")
	}
	a, err := addr.Parse(from)
	if err != nil {
		return smtpErr(553, smtp.EnhancedCode{5, 1, 7}, "bad sender address: %v", err)
	}
	if err := s.srv.cfg.Resolver.CheckSender(a.Domain, s.peer); err != nil {
		s.srv.cfg.Log.Warn("mx sender rejected", "peer", s.peer.Key.String(), "addr", s.peer.Addr.String(), "from", from, "err", err)
		return smtpErr(550, smtp.EnhancedCode{5, 7, 1}, "%v", err)
	}
	s.from = a.String()
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.srv.role == RoleSubmission && s.user == nil {
		return smtpErr(530, smtp.EnhancedCode{5, 7, 0}, "authentication required")
	}
	a, err := addr.Parse(to)
	if err != nil {
		return smtpErr(553, smtp.EnhancedCode{5, 1, 3}, "bad recipient address: %v", err)
	}
	switch s.srv.cfg.Resolver.Classify(a.Domain) {
	case addr.KindLocal:
		u, err := s.srv.cfg.Store.UserByLocal(s.ctx, a.Local)
		if errors.Is(err, store.ErrNoSuchUser) {
			return smtpErr(550, smtp.EnhancedCode{5, 1, 1}, "no mailbox %s here", a)
		} else if err != nil {
			return smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "temporary lookup failure")
		}
		if _, dup := s.local[u.ID]; !dup {
			s.local[u.ID] = a.String()
		}
		return nil
	case addr.KindRemote:
		if s.srv.role != RoleSubmission {
			return smtpErr(550, smtp.EnhancedCode{5, 7, 1}, "relaying denied: %s is not a domain of this node", a.Domain)
		}
		for _, r := range s.remote[a.Domain] {
			if r == a.String() {
				return nil
			}
		}
		s.remote[a.Domain] = append(s.remote[a.Domain], a.String())
		return nil
	default:
		return smtpErr(550, smtp.EnhancedCode{5, 7, 1},
			"relaying denied: %s is not a mesh mail domain (use <32 hex digits of the node address>%s or a configured alias; this node does not relay to the Internet)",
			a.Domain, addr.Suffix)
	}
}

func (s *session) Data(r io.Reader) error {
	st := s.srv.cfg.Store
	now := time.Now()
	hdr := s.receivedHeader(now)
	b, err := st.WriteBlob(io.MultiReader(strings.NewReader(hdr), r), s.srv.cfg.MaxMessageBytes+int64(len(hdr)))
	if err != nil {
		if errors.Is(err, store.ErrTooBig) {
			return smtpErr(552, smtp.EnhancedCode{5, 3, 4}, "message exceeds the size limit of %d bytes", s.srv.cfg.MaxMessageBytes)
		}
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return se
		}
		if errors.Is(err, smtp.ErrTooLongLine) {
			return smtpErr(500, smtp.EnhancedCode{5, 4, 0}, "line longer than the SMTP limit (RFC 5321 allows 1000 bytes)")
		}
		s.srv.cfg.Log.Error("store message body", "err", err)
		return smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "could not store the message, try again later")
	}
	if s.srv.role == RoleSubmission {
		if err := s.checkFromHeader(b); err != nil {
			b.Discard()
			return err
		}
	}
	meta, err := store.ParseMeta(b)
	if err != nil {
		b.Discard()
		return smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "could not index the message, try again later")
	}
	d := store.Delivery{Blob: b, Meta: meta, Date: now}
	for id := range s.local {
		d.Users = append(d.Users, id)
	}
	sort.Slice(d.Users, func(i, j int) bool { return d.Users[i] < d.Users[j] })
	for dom, rcpts := range s.remote {
		d.Queue = append(d.Queue, store.QueueItem{Sender: s.from, Rcpts: rcpts, Domain: dom})
	}
	if err := st.Deliver(s.ctx, d); err != nil {
		s.srv.cfg.Log.Error("commit message", "err", err)
		return smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "could not store the message, try again later")
	}
	if len(d.Queue) > 0 && s.srv.cfg.Queued != nil {
		s.srv.cfg.Queued()
	}
	return nil
}

// checkFromHeader makes sure every From: address is the user's own.
func (s *session) checkFromHeader(b *store.Blob) error {
	f, err := b.Open()
	if err != nil {
		return smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "could not read the message back")
	}
	defer f.Close()
	msg, err := mail.ReadMessage(bufio.NewReader(f))
	if err != nil {
		return smtpErr(554, smtp.EnhancedCode{5, 6, 0}, "message header is malformed: %v", err)
	}
	list, err := msg.Header.AddressList("From")
	if err != nil || len(list) == 0 {
		return smtpErr(554, smtp.EnhancedCode{5, 6, 0}, "message needs a From: header with the sender's address")
	}
	for _, ma := range list {
		a, err := addr.Parse(ma.Address)
		if err != nil || !s.ownsAddress(a) {
			return smtpErr(550, smtp.EnhancedCode{5, 7, 1},
				"From: header address <%s> is not an address of the authenticated user %s@%s", ma.Address, s.user.Local, s.srv.cfg.Resolver.Canonical())
		}
	}
	return nil
}

func (s *session) receivedHeader(now time.Time) string {
	helo := sanitize(s.conn.Hostname())
	var from, with string
	if s.srv.role == RoleSubmission {
		from = fmt.Sprintf("%s ([%s])", helo, s.peer.Addr.Addr())
		with = "ESMTPA"
		if _, isTLS := s.conn.TLSConnectionState(); isTLS {
			with = "ESMTPSA"
		}
	} else {
		from = fmt.Sprintf("%s (node %s [%s])", helo, s.peer.Key, s.peer.Addr.Addr())
		with = "ESMTP over mycelium"
	}
	return fmt.Sprintf("Received: from %s\r\n\tby %s with %s;\r\n\t%s\r\n", from, s.srv.cfg.Hostname, with, now.Format(time.RFC1123Z))
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r > ' ' && r < 0x7f && r != '(' && r != ')' {
			b.WriteRune(r)
		}
		if b.Len() >= 255 {
			break
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}

// loginServer is the server side of SASL LOGIN (draft-murchison-sasl-login).
type loginServer struct {
	step int
	user string
	auth func(username, password string) error
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		if len(resp) > 0 {
			l.user, l.step = string(resp), 2
			return []byte("Password:"), false, nil
		}
		l.step = 1
		return []byte("Username:"), false, nil
	case 1:
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.auth(l.user, string(resp))
	}
	return nil, false, errors.New("unexpected SASL LOGIN response")
}

var (
	_ smtp.AuthSession = (*session)(nil)
	_ sasl.Server      = (*loginServer)(nil)
)
