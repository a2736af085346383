package queue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mycelium-go/mycelium/adapters/mail/addr"
	"github.com/mycelium-go/mycelium/adapters/mail/store"
)

// failure is a recipient that will not be delivered.
type failure struct {
	rcpt   string
	status string // RFC 3463 status, e.g. "5.1.1"
	diag   string // the remote reply or our reason
	remote bool   // diag came from the remote server
}

// result is the outcome of one delivery attempt.
type result struct {
	failed  []failure
	pending []string // retry later
	tempErr string
}

func tempAll(e store.QueueEntry, err error) result {
	return result{pending: e.Rcpts, tempErr: err.Error()}
}

// send makes one SMTP transaction with the recipient node.
func (q *Queue) send(ctx context.Context, e store.QueueEntry) result {
	ip, err := q.cfg.Resolver.Route(ctx, e.Domain)
	if errors.Is(err, addr.ErrNotMesh) {
		// The alias was removed from the configuration since queueing.
		var res result
		for _, r := range e.Rcpts {
			res.failed = append(res.failed, failure{rcpt: r, status: "5.1.2", diag: err.Error()})
		}
		return res
	}
	if err != nil {
		return tempAll(e, fmt.Errorf("resolve %s: %w", e.Domain, err))
	}
	dctx, cancel := context.WithTimeout(ctx, q.cfg.DialTimeout)
	conn, err := q.cfg.Dialer.Dial(dctx, "tcp", net.JoinHostPort(ip.String(), strconv.Itoa(int(q.cfg.MXPort))))
	cancel()
	if err != nil {
		return tempAll(e, fmt.Errorf("dial %s: %w", netip.AddrPortFrom(ip, q.cfg.MXPort), err))
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	conn.SetDeadline(time.Now().Add(10 * time.Minute))

	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello(q.cfg.Resolver.Canonical()); err != nil {
		return q.whole(e, "EHLO", err)
	}
	// Aliases are this node's names for other nodes: on the wire both
	// envelope addresses use canonical domains, which the receiving node
	// can check against the connection without knowing our aliases.
	if err := c.Mail(q.canonicalize(ctx, e.Sender), &smtp.MailOptions{Size: e.Size}); err != nil {
		return q.whole(e, "MAIL FROM", err)
	}
	var res result
	var accepted []string
	for _, r := range e.Rcpts {
		err := c.Rcpt(q.canonicalize(ctx, r), nil)
		switch {
		case err == nil:
			accepted = append(accepted, r)
		case isPermanent(err):
			res.failed = append(res.failed, permFailure(r, err))
		default:
			res.pending = append(res.pending, r)
			res.tempErr = fmt.Sprintf("RCPT TO <%s>: %v", r, err)
		}
	}
	if len(accepted) == 0 {
		c.Reset()
		c.Quit()
		return res
	}
	if err := q.data(c, e); err != nil {
		if isPermanent(err) {
			for _, r := range accepted {
				res.failed = append(res.failed, permFailure(r, err))
			}
		} else {
			res.pending = append(res.pending, accepted...)
			res.tempErr = fmt.Sprintf("DATA: %v", err)
		}
		return res
	}
	c.Quit()
	return res
}

// canonicalize rewrites an address under an alias to the canonical
// domain of the node the alias names.
func (q *Queue) canonicalize(ctx context.Context, address string) string {
	a, err := addr.Parse(address)
	if err != nil {
		return address
	}
	if _, ok := addr.ParseCanonicalDomain(a.Domain); ok {
		return address
	}
	if q.cfg.Resolver.Classify(a.Domain) == addr.KindLocal {
		return a.Local + "@" + q.cfg.Resolver.Canonical()
	}
	ip, err := q.cfg.Resolver.Route(ctx, a.Domain)
	if err != nil {
		return address
	}
	return a.Local + "@" + addr.CanonicalDomain(ip)
}

func (q *Queue) data(c *smtp.Client, e store.QueueEntry) error {
	f, err := q.cfg.Store.OpenQueueBody(e)
	if err != nil {
		return fmt.Errorf("open queued message: %w", err)
	}
	defer f.Close()
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := f.WriteTo(w); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// whole classifies an error that concerns every recipient.
func (q *Queue) whole(e store.QueueEntry, stage string, err error) result {
	if isPermanent(err) {
		var res result
		for _, r := range e.Rcpts {
			res.failed = append(res.failed, permFailure(r, err))
		}
		return res
	}
	return tempAll(e, fmt.Errorf("%s: %w", stage, err))
}

func isPermanent(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se) && se.Code >= 500 && se.Code < 600
}

func permFailure(rcpt string, err error) failure {
	f := failure{rcpt: rcpt, status: "5.0.0", diag: err.Error()}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		f.remote = true
		f.diag = fmt.Sprintf("%d %s", se.Code, se.Message)
		if se.EnhancedCode != smtp.NoEnhancedCode && se.EnhancedCode != (smtp.EnhancedCode{}) {
			ec := se.EnhancedCode
			f.status = fmt.Sprintf("%d.%d.%d", ec[0], ec[1], ec[2])
			f.diag = fmt.Sprintf("%d %s %s", se.Code, f.status, se.Message)
		}
	}
	return f
}
