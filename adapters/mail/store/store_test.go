package store

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/google/go-cmp/cmp"
)

func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

const sample = "From: a@x\r\nTo: b@y\r\nSubject: hi\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nhello\r\n--B--\r\n"

func addMessage(t testing.TB, s *Store, mbox int64, body string, flags ...imap.Flag) imap.UID {
	t.Helper()
	b, err := s.WriteBlob(strings.NewReader(body), 0)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := ParseMeta(b)
	if err != nil {
		t.Fatal(err)
	}
	_, uid, err := s.Append(context.Background(), mbox, b, meta, flags, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return uid
}

func TestUsersAndMailboxes(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if err := s.AddUser(ctx, "alice", "pw12345678"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser(ctx, "alice", "pw12345678"); !errors.Is(err, ErrUserExists) {
		t.Fatalf("AddUser twice = %v", err)
	}
	u, err := s.Authenticate(ctx, "alice", "pw12345678")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "alice", "nope"); !errors.Is(err, ErrBadPassword) {
		t.Fatalf("wrong password = %v", err)
	}
	if _, err := s.Authenticate(ctx, "bob", "nope"); !errors.Is(err, ErrNoSuchUser) {
		t.Fatalf("unknown user = %v", err)
	}
	mbs, _ := s.ListMailboxes(ctx, u.ID)
	var names []string
	for _, m := range mbs {
		names = append(names, m.Name+m.SpecialUse)
	}
	want := []string{`Archive\Archive`, `Drafts\Drafts`, "INBOX", `Junk\Junk`, `Sent\Sent`, `Trash\Trash`}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("default mailboxes (-want +got):\n%s", diff)
	}
	if _, err := s.GetMailbox(ctx, u.ID, "inbox"); err != nil {
		t.Errorf("inbox is case-insensitive: %v", err)
	}
	if err := s.CreateMailbox(ctx, u.ID, "a/b/c", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetMailbox(ctx, u.ID, "a/b"); err != nil {
		t.Errorf("parent not created: %v", err)
	}
	if err := s.DeleteMailbox(ctx, u.ID, "a"); !errors.Is(err, ErrHasChildren) {
		t.Errorf("delete with children = %v", err)
	}
	if err := s.RenameMailbox(ctx, u.ID, "a", "z/y"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetMailbox(ctx, u.ID, "z/y/b/c"); err != nil {
		t.Errorf("child not renamed: %v", err)
	}
	if err := s.RenameMailbox(ctx, u.ID, "INBOX", "x"); !errors.Is(err, ErrInbox) {
		t.Errorf("rename INBOX = %v", err)
	}
	if err := s.RenameMailbox(ctx, u.ID, "z", "z/q"); err == nil {
		t.Error("rename into itself accepted")
	}
	if err := s.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if mbs, _ := s.ListMailboxes(ctx, u.ID); len(mbs) != 0 {
		t.Errorf("mailboxes left after DeleteUser: %v", mbs)
	}
}

func TestMessagesLiveUpdates(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	s.AddUser(ctx, "alice", "pw12345678")
	u, _ := s.UserByLocal(ctx, "alice")
	inbox, _ := s.GetMailbox(ctx, u.ID, "INBOX")
	archive, _ := s.GetMailbox(ctx, u.ID, "Archive")
	live, err := s.OpenLive(ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	st, n := live.NewSession()
	defer st.Close()
	if n != 0 {
		t.Fatalf("empty inbox has %d messages", n)
	}
	u1 := addMessage(t, s, inbox.ID, sample)
	u2 := addMessage(t, s, inbox.ID, sample, imap.FlagSeen, "Work")
	if u1 != 1 || u2 != 2 {
		t.Fatalf("UIDs = %d %d", u1, u2)
	}
	msgs, _ := s.Messages(ctx, inbox.ID, 1, 10, true)
	if len(msgs) != 2 || !msgs[1].Flags.Has("work") || msgs[0].Size != int64(len(sample)) {
		t.Fatalf("messages = %+v", msgs)
	}
	bs, err := DecodeBodyStructure(msgs[0].BodyStructure)
	if err != nil || bs.MediaType() != "multipart/mixed" {
		t.Fatalf("body structure = %v %v", bs, err)
	}
	env, _ := DecodeEnvelope(msgs[0].Envelope)
	if env.Subject != "hi" || len(env.To) != 1 || env.To[0].Host != "y" {
		t.Errorf("envelope = %+v", env)
	}
	ups, err := s.StoreFlags(ctx, inbox.ID, []imap.UID{1, 2}, imap.StoreFlagsAdd, []imap.Flag{"\\deleted"}, nil)
	if err != nil || len(ups) != 2 || ups[0].ModSeq <= msgs[0].ModSeq {
		t.Fatalf("StoreFlags = %+v %v", ups, err)
	}
	res, err := s.Copy(ctx, inbox.ID, archive.ID, []imap.UID{1}, false)
	if err != nil || len(res.Dest) != 1 || res.UIDValidity != archive.UIDValidity {
		t.Fatalf("Copy = %+v %v", res, err)
	}
	if _, err := s.Copy(ctx, inbox.ID, archive.ID, []imap.UID{2}, true); err != nil {
		t.Fatal(err)
	}
	gone, err := s.Expunge(ctx, inbox.ID, []imap.UID{1, 2})
	if err != nil || len(gone) != 1 || gone[0] != 1 {
		t.Fatalf("Expunge = %v %v", gone, err)
	}
	var uids []imap.UID
	live.View(func(l []imap.UID) { uids = append(uids, l...) })
	if len(uids) != 0 {
		t.Errorf("live uids after move+expunge = %v", uids)
	}
	st2, _ := s.OpenLive(ctx, archive.ID)
	_ = st2
	am, _ := s.Messages(ctx, archive.ID, 1, 10, false)
	if len(am) != 2 {
		t.Fatalf("archive has %d messages", len(am))
	}
	for i := range am {
		f, err := s.OpenBody(&am[i])
		if err != nil {
			t.Fatalf("copied body missing: %v", err)
		}
		f.Close()
	}
	// The source bodies are gone, the copies' hard links survive.
	ents, _ := filepath.Glob(filepath.Join(s.Dir(), "blobs", "??", "*"))
	if len(ents) != 2 {
		t.Errorf("%d blob files, want 2", len(ents))
	}
	status, _ := s.MailboxStatus(ctx, archive.ID)
	if status.Messages != 2 || status.Deleted != 2 || status.Unseen != 1 {
		t.Errorf("status = %+v", status)
	}
}

func TestBlobLimitAndTmpCleanup(t *testing.T) {
	s := openTest(t)
	if _, err := s.WriteBlob(strings.NewReader(strings.Repeat("x", 100)), 99); !errors.Is(err, ErrTooBig) {
		t.Fatalf("WriteBlob over limit = %v", err)
	}
	tmp, _ := os.ReadDir(filepath.Join(s.Dir(), "blobs", "tmp"))
	if len(tmp) != 0 {
		t.Errorf("temp files left: %d", len(tmp))
	}
}

func TestUIDValidityUnique(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	s.AddUser(ctx, "a", "pw12345678")
	u, _ := s.UserByLocal(ctx, "a")
	seen := map[uint32]bool{}
	mbs, _ := s.ListMailboxes(ctx, u.ID)
	for _, m := range mbs {
		if seen[m.UIDValidity] {
			t.Fatalf("UIDVALIDITY %d repeated", m.UIDValidity)
		}
		seen[m.UIDValidity] = true
	}
	s.DeleteMailbox(ctx, u.ID, "Junk")
	s.CreateMailbox(ctx, u.ID, "Junk", `\Junk`)
	m, _ := s.GetMailbox(ctx, u.ID, "Junk")
	if seen[m.UIDValidity] {
		t.Fatal("recreated mailbox reuses UIDVALIDITY")
	}
}

func TestFlagSet(t *testing.T) {
	fs := ParseFlags(`\seen Work \Bogus`)
	if !fs.Has(imap.FlagSeen) || !fs.Has("work") || fs.Has(`\Bogus`) {
		t.Fatalf("ParseFlags = %v", fs.List())
	}
	if changed := fs.Apply(imap.StoreFlagsAdd, []imap.Flag{"WORK"}); changed {
		t.Error("adding an existing keyword in another case changed the set")
	}
	fs.Apply(imap.StoreFlagsSet, []imap.Flag{imap.FlagDraft, "has space", `\*`})
	if got := fs.String(); got != `\Draft` {
		t.Errorf("after set = %q", got)
	}
}

func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{"INBOX", "inbox/Sub", "a//b", "a/", "*", "Sent", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeName(s)
		if err != nil {
			return
		}
		if n2, err := NormalizeName(n); err != nil || n2 != n {
			t.Fatalf("NormalizeName not idempotent: %q -> %q -> %q %v", s, n, n2, err)
		}
	})
}

func FuzzParseMeta(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x--\r\n"))
	f.Add([]byte("Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody"))
	f.Add([]byte("garbage"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, msg []byte) {
		d, _ := openBlobDir(filepath.Join(dir, "blobs"))
		b, err := d.write(strings.NewReader(string(msg)), 1<<20)
		if err != nil {
			return
		}
		defer os.Remove(b.Path())
		meta, err := ParseMeta(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeEnvelope(meta.Envelope); err != nil {
			t.Fatal(err)
		}
		bs, err := DecodeBodyStructure(meta.BodyStructure)
		if err != nil || bs == nil {
			t.Fatalf("body structure: %v", err)
		}
		// Every multipart has children (the IMAP writer panics otherwise).
		bs.Walk(func(_ []int, part imap.BodyStructure) bool {
			if mp, ok := part.(*imap.BodyStructureMultiPart); ok && len(mp.Children) == 0 {
				t.Fatal("multipart without children")
			}
			return true
		})
	})
}

func TestSweep(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	s.AddUser(ctx, "a", "pw12345678")
	u, _ := s.UserByLocal(ctx, "a")
	inbox, _ := s.GetMailbox(ctx, u.ID, "INBOX")
	addMessage(t, s, inbox.ID, sample)
	orphanOld, _ := s.WriteBlob(strings.NewReader("old orphan"), 0)
	orphanNew, _ := s.WriteBlob(strings.NewReader("fresh, maybe in flight"), 0)
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(orphanOld.Path(), old, old)
	n, err := s.Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(orphanOld.Path()); err == nil {
		t.Error("old orphan kept")
	}
	if _, err := os.Stat(orphanNew.Path()); err != nil {
		t.Error("fresh orphan removed")
	}
	msgs, _ := s.Messages(ctx, inbox.ID, 1, 10, false)
	if f, err := s.OpenBody(&msgs[0]); err != nil {
		t.Error("referenced body removed")
	} else {
		f.Close()
	}
}
