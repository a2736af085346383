package queue

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
)

func TestBackoff(t *testing.T) {
	q := &Queue{cfg: Config{RetryInitial: time.Minute, RetryMax: time.Hour}}
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
	for i, w := range want {
		if got := q.backoff(i); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i, got, w)
		}
	}
}

func TestBuildDSN(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	msg := BuildDSN(DSN{
		ReportingMTA: "0400000000000000000000000000000a.mycelium.internal",
		Sender:       "alice@0400000000000000000000000000000a.mycelium.internal",
		RemoteMTA:    "bob.mesh", Arrival: now.Add(-time.Hour), Now: now,
		Failures: []failure{{rcpt: "bob@bob.mesh", status: "5.1.1", diag: "550 5.1.1 no mailbox\r\nhere", remote: true},
			{rcpt: "carol@bob.mesh", status: "4.4.7", diag: "expired"}},
		Headers: []byte("Subject: original\r\nFrom: alice@x\r\n"),
	})
	e, err := message.Read(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	typ, params, _ := e.Header.ContentType()
	if typ != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("content type = %s %v", typ, params)
	}
	var parts []string
	var status string
	mr := e.MultipartReader()
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		pt, _, _ := p.Header.ContentType()
		parts = append(parts, pt)
		b, _ := io.ReadAll(p.Body)
		if pt == "message/delivery-status" {
			status = string(b)
		}
	}
	if strings.Join(parts, ",") != "text/plain,message/delivery-status,text/rfc822-headers" {
		t.Fatalf("parts = %v", parts)
	}
	for _, want := range []string{"Reporting-MTA: dns; 0400000000000000000000000000000a.mycelium.internal",
		"Final-Recipient: rfc822; bob@bob.mesh", "Status: 5.1.1", "Diagnostic-Code: smtp; 550 5.1.1 no mailbox here",
		"Final-Recipient: rfc822; carol@bob.mesh", "Status: 4.4.7", "Action: failed"} {
		if !strings.Contains(status, want) {
			t.Errorf("delivery-status lacks %q:\n%s", want, status)
		}
	}
}
