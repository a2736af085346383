package queue

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mycelium-go/mycelium/adapters/mail/addr"
	"github.com/mycelium-go/mycelium/adapters/mail/store"
)

// bounce puts a delivery status notification for the failed recipients in
// the sender's INBOX. With done set, the queue entry is removed in the same
// transaction.
func (q *Queue) bounce(ctx context.Context, e store.QueueEntry, failed []failure, done bool) error {
	sender, err := addr.Parse(e.Sender)
	if err != nil || q.cfg.Resolver.Classify(sender.Domain) != addr.KindLocal {
		q.cfg.Log.Warn("dropping bounce for a non-local sender", "sender", e.Sender)
		if done {
			return q.cfg.Store.QueueDone(ctx, e.ID)
		}
		return nil
	}
	u, err := q.cfg.Store.UserByLocal(ctx, sender.Local)
	if err != nil {
		q.cfg.Log.Warn("dropping bounce: sender account is gone", "sender", e.Sender, "err", err)
		if done {
			return q.cfg.Store.QueueDone(ctx, e.ID)
		}
		return nil
	}
	var headers []byte
	if f, err := q.cfg.Store.OpenQueueBody(e); err == nil {
		headers = readHeaderBlock(f)
		f.Close()
	}
	msg := BuildDSN(DSN{
		ReportingMTA: q.cfg.Resolver.Canonical(),
		Sender:       e.Sender,
		RemoteMTA:    e.Domain,
		Arrival:      e.Created,
		Now:          time.Now(),
		Failures:     failed,
		Headers:      headers,
	})
	b, err := q.cfg.Store.WriteBlob(bytes.NewReader(msg), 0)
	if err != nil {
		return fmt.Errorf("write bounce: %w", err)
	}
	meta, err := store.ParseMeta(b)
	if err != nil {
		b.Discard()
		return fmt.Errorf("index bounce: %w", err)
	}
	d := store.Delivery{Blob: b, Meta: meta, Date: time.Now(), Users: []int64{u.ID}}
	if done {
		d.DoneQueue = []int64{e.ID}
	}
	return q.cfg.Store.Deliver(ctx, d)
}

// readHeaderBlock returns the header of a message (up to 64 KiB).
func readHeaderBlock(r io.Reader) []byte {
	br := bufio.NewReader(io.LimitReader(r, 64<<10))
	var out bytes.Buffer
	for {
		line, err := br.ReadString('\n')
		if strings.TrimRight(line, "\r\n") == "" {
			break
		}
		out.WriteString(strings.TrimRight(line, "\r\n") + "\r\n")
		if err != nil {
			break
		}
	}
	return out.Bytes()
}

// DSN describes a delivery status notification.
type DSN struct {
	ReportingMTA string // our canonical domain
	Sender       string
	RemoteMTA    string // the recipient domain
	Arrival      time.Time
	Now          time.Time
	Failures     []failure
	Headers      []byte // header of the original message
}

// BuildDSN renders a multipart/report; report-type=delivery-status message
// (RFC 3464) with a human-readable part, the machine-readable status and
// the original headers.
func BuildDSN(d DSN) []byte {
	var rnd [12]byte
	rand.Read(rnd[:])
	boundary := "dsn-" + hex.EncodeToString(rnd[:])
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	w("From: Mail Delivery System <MAILER-DAEMON@%s>", d.ReportingMTA)
	w("To: <%s>", d.Sender)
	w("Subject: Undelivered Mail Returned to Sender")
	w("Date: %s", d.Now.Format(time.RFC1123Z))
	w("Message-ID: <%s@%s>", hex.EncodeToString(rnd[:]), d.ReportingMTA)
	w("Auto-Submitted: auto-replied")
	w("MIME-Version: 1.0")
	w("Content-Type: multipart/report; report-type=delivery-status; boundary=\"%s\"", boundary)
	w("")
	w("--%s", boundary)
	w("Content-Type: text/plain; charset=utf-8")
	w("")
	w("Your message could not be delivered to the following recipients:")
	w("")
	for _, f := range d.Failures {
		w("  <%s>: %s", f.rcpt, oneLine(f.diag))
	}
	w("")
	w("--%s", boundary)
	w("Content-Type: message/delivery-status")
	w("")
	w("Reporting-MTA: dns; %s", d.ReportingMTA)
	w("Arrival-Date: %s", d.Arrival.Format(time.RFC1123Z))
	for _, f := range d.Failures {
		w("")
		w("Final-Recipient: rfc822; %s", f.rcpt)
		w("Action: failed")
		w("Status: %s", f.status)
		w("Remote-MTA: dns; %s", d.RemoteMTA)
		if f.remote {
			w("Diagnostic-Code: smtp; %s", oneLine(f.diag))
		} else {
			w("Diagnostic-Code: x-mycelium; %s", oneLine(f.diag))
		}
		w("Last-Attempt-Date: %s", d.Now.Format(time.RFC1123Z))
	}
	w("")
	w("--%s", boundary)
	w("Content-Type: text/rfc822-headers")
	w("")
	b.Write(d.Headers)
	w("")
	w("--%s--", boundary)
	return b.Bytes()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
