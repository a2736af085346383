package mail

import (
	"errors"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

func TestIMAPEdgeCases(t *testing.T) {
	n := startNode(t, nodeOpts{})
	alice := n.addUser("alice", "alice password")
	c := login(t, n, alice, "alice password", nil)

	// Empty mailbox: FETCH/SEARCH/STORE on nothing succeed with no data.
	if _, err := c.Select("Trash", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var all imap.UIDSet
	all.AddRange(1, 0)
	if msgs, err := c.Fetch(all, &imap.FetchOptions{Flags: true}).Collect(); err != nil || len(msgs) != 0 {
		t.Errorf("UID FETCH 1:* on empty mailbox = %v %v", msgs, err)
	}
	if d, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait(); err != nil || len(d.AllUIDs()) != 0 {
		t.Errorf("search on empty mailbox = %v %v", d, err)
	}

	// CREATE with special use, SUBSCRIBE, LSUB-style listing.
	if err := c.Create("Receipts", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrArchive}}).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Receipts", nil).Wait(); !isIMAPCode(err, imap.ResponseCodeAlreadyExists) {
		t.Errorf("CREATE twice = %v, want ALREADYEXISTS", err)
	}
	if err := c.Unsubscribe("Receipts").Wait(); err != nil {
		t.Fatal(err)
	}
	subs, err := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		if s.Mailbox == "Receipts" {
			t.Error("unsubscribed mailbox listed as subscribed")
		}
	}
	special, _ := c.List("", "Rec*", &imap.ListOptions{ReturnSpecialUse: true}).Collect()
	if len(special) != 1 || len(special[0].Attrs) < 2 || special[0].Attrs[1] != imap.MailboxAttrArchive {
		t.Errorf("LIST Receipts = %+v", special)
	}

	// APPEND with flags and an internal date; STATUS; EXAMINE is read-only.
	date := time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC)
	msg := message(alice, alice, "old", "from the archive")
	ac := c.Append("Receipts", int64(len(msg)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen, "$Label1"}, Time: date})
	ac.Write([]byte(msg))
	ac.Close()
	ad, err := ac.Wait()
	if err != nil || ad.UID != 1 || ad.UIDValidity == 0 {
		t.Fatalf("APPEND = %+v %v", ad, err)
	}
	st, err := c.Status("Receipts", &imap.StatusOptions{NumMessages: true, NumUnseen: true, UIDNext: true, Size: true}).Wait()
	if err != nil || *st.NumMessages != 1 || *st.NumUnseen != 0 || st.UIDNext != 2 || *st.Size != int64(len(msg)) {
		t.Errorf("STATUS = %+v %v", st, err)
	}
	if _, err := c.Select("Receipts", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	fm, err := c.Fetch(imap.UIDSetNum(1), &imap.FetchOptions{InternalDate: true, Flags: true,
		BodySection: []*imap.FetchItemBodySection{{}}}).Collect()
	if err != nil || len(fm) != 1 || !fm[0].InternalDate.Equal(date) {
		t.Fatalf("FETCH in EXAMINE = %+v %v", fm, err)
	}
	if err := c.Store(imap.UIDSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err == nil {
		t.Error("STORE in a read-only mailbox succeeded")
	}
	// COPY to a missing mailbox asks the client to create it.
	if _, err := c.Copy(imap.UIDSetNum(1), "Nowhere").Wait(); !isIMAPCode(err, imap.ResponseCodeTryCreate) {
		t.Errorf("COPY to a missing mailbox = %v, want TRYCREATE", err)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("Receipts").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("Receipts", nil).Wait(); !isIMAPCode(err, imap.ResponseCodeNonExistent) {
		t.Errorf("SELECT deleted = %v, want NONEXISTENT", err)
	}
}

func isIMAPCode(err error, code imap.ResponseCode) bool {
	var ie *imap.Error
	return errors.As(err, &ie) && ie.Code == code
}
