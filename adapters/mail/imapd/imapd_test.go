package imapd

import (
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

func TestStatic(t *testing.T) {
	sel := &selected{searchRes: []imap.UID{3, 5}}
	seq := sel.static(imap.SeqSet{{Start: 2, Stop: 0}}, 7, 40).(imap.SeqSet)
	if seq.String() != "2:7" {
		t.Errorf("2:* = %s", seq)
	}
	uid := sel.static(imap.UIDSet{{Start: 0, Stop: 0}}, 7, 40).(imap.UIDSet)
	if uid.String() != "40" {
		t.Errorf("UID * = %s", uid)
	}
	// "*:3" with fewer messages than 3 is a valid range.
	seq = sel.static(imap.SeqSet{{Start: 0, Stop: 3}}, 2, 40).(imap.SeqSet)
	if seq.String() != "2:3" {
		t.Errorf("*:3 = %s", seq)
	}
	res := sel.static(imap.SearchRes(), 7, 40).(imap.UIDSet)
	if res.String() != "3,5" {
		t.Errorf("$ = %s", res)
	}
}

func TestMatchDate(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }
	msg := time.Date(2026, 11, 20, 23, 30, 0, 0, time.FixedZone("x", -3*3600))
	tests := []struct {
		since, before time.Time
		want          bool
	}{
		{day(20), time.Time{}, true},
		{day(21), time.Time{}, false},
		{time.Time{}, day(20), false},
		{time.Time{}, day(21), true},
	}
	for _, tt := range tests {
		if got := matchDate(msg, tt.since, tt.before); got != tt.want {
			t.Errorf("matchDate(since %v, before %v) = %v", tt.since, tt.before, got)
		}
	}
}
