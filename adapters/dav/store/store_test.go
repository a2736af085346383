package store

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func openTest(t *testing.T, path string, clock *fakeClock) *Store {
	t.Helper()
	opts := Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), TombstoneTTL: time.Hour}
	if clock != nil {
		opts.Now = clock.now
	}
	s, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func defaults() []NewCollection {
	return []NewCollection{
		{Kind: Calendar, Name: "personal", Components: []string{"VEVENT", "VTODO"},
			Props: []Prop{{Name: xml.Name{Space: "DAV:", Local: "displayname"}, XML: []byte(`<displayname xmlns="DAV:">Personal</displayname>`)}}},
		{Kind: AddressBook, Name: "contacts"},
	}
}

func TestPrincipalAndCollections(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "dav.sqlite"), nil)
	created, err := s.EnsurePrincipal(ctx, "alice", defaults())
	if err != nil || !created {
		t.Fatalf("EnsurePrincipal = %v, %v; want true, nil", created, err)
	}
	created, err = s.EnsurePrincipal(ctx, "alice", defaults())
	if err != nil || created {
		t.Fatalf("second EnsurePrincipal = %v, %v; want false, nil", created, err)
	}
	cals, err := s.Collections(ctx, "alice", Calendar)
	if err != nil || len(cals) != 1 {
		t.Fatalf("Collections = %v, %v", cals, err)
	}
	c := cals[0]
	if c.Name != "personal" || len(c.Components) != 2 || c.Prop(xml.Name{Space: "DAV:", Local: "displayname"}) == nil {
		t.Errorf("calendar = %+v", c)
	}
	if _, err := s.CreateCollection(ctx, NewCollection{Principal: "alice", Kind: Calendar, Name: "personal"}); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate CreateCollection err = %v, want ErrExists", err)
	}
	if _, err := s.CreateCollection(ctx, NewCollection{Principal: "bob", Kind: Calendar, Name: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("CreateCollection for unknown principal err = %v, want ErrNotFound", err)
	}
	before := c.Seq
	color := Prop{Name: xml.Name{Space: "http://apple.com/ns/ical/", Local: "calendar-color"}, XML: []byte(`<calendar-color xmlns="http://apple.com/ns/ical/">#FF0000</calendar-color>`)}
	if err := s.PatchProps(ctx, c.ID, []Prop{color}, []xml.Name{{Space: "DAV:", Local: "displayname"}}); err != nil {
		t.Fatal(err)
	}
	c2, err := s.Collection(ctx, "alice", Calendar, "personal")
	if err != nil {
		t.Fatal(err)
	}
	if c2.Seq <= before || c2.Prop(color.Name) == nil || c2.Prop(xml.Name{Space: "DAV:", Local: "displayname"}) != nil {
		t.Errorf("after PatchProps: %+v", c2)
	}
	if err := s.DeleteCollection(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Collection(ctx, "alice", Calendar, "personal"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted collection: err = %v", err)
	}
}

func TestObjectsConditionsAndUID(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "dav.sqlite"), nil)
	if _, err := s.EnsurePrincipal(ctx, "alice", defaults()); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Collection(ctx, "alice", Calendar, "personal")
	in := ObjectInput{Name: "a.ics", UID: "uid-a", Component: "VEVENT", Data: []byte("one")}
	res, err := s.PutObject(ctx, c.ID, in, nil)
	if err != nil || !res.Created || res.ETag != ETagOf([]byte("one")) {
		t.Fatalf("PutObject = %+v, %v", res, err)
	}
	errStale := errors.New("stale")
	_, err = s.PutObject(ctx, c.ID, ObjectInput{Name: "a.ics", UID: "uid-a", Data: []byte("two")}, func(cur *ObjectMeta) error {
		if cur == nil || cur.ETag != "nope" {
			return errStale
		}
		return nil
	})
	if !errors.Is(err, errStale) {
		t.Fatalf("check error not returned: %v", err)
	}
	res, err = s.PutObject(ctx, c.ID, ObjectInput{Name: "a.ics", UID: "uid-a", Data: []byte("two")}, nil)
	if err != nil || res.Created {
		t.Fatalf("update = %+v, %v", res, err)
	}
	_, err = s.PutObject(ctx, c.ID, ObjectInput{Name: "b.ics", UID: "uid-a", Data: []byte("dup")}, nil)
	var uc *UIDConflictError
	if !errors.As(err, &uc) || uc.Name != "a.ics" {
		t.Fatalf("UID conflict err = %v", err)
	}
	o, err := s.Object(ctx, c.ID, "a.ics")
	if err != nil || string(o.Data) != "two" || o.Size != 3 {
		t.Fatalf("Object = %+v, %v", o, err)
	}
	if err := s.DeleteObject(ctx, c.ID, "zzz.ics", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete missing: %v", err)
	}
}

func TestChangesAndTokens(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	s := openTest(t, filepath.Join(t.TempDir(), "dav.sqlite"), clock)
	if _, err := s.EnsurePrincipal(ctx, "alice", defaults()); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Collection(ctx, "alice", AddressBook, "contacts")
	put := func(name string) {
		t.Helper()
		if _, err := s.PutObject(ctx, c.ID, ObjectInput{Name: name, UID: name, Data: []byte(name)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	names := func(cs ChangeSet) []string {
		var out []string
		for _, ch := range cs.Changes {
			n := ch.Name
			if ch.Deleted {
				n = "-" + n
			}
			out = append(out, n)
		}
		return out
	}
	put("a")
	put("b")
	initial, err := s.Changes(ctx, c.ID, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, names(initial)); diff != "" {
		t.Fatalf("initial changes: %s", diff)
	}
	put("b")
	if err := s.DeleteObject(ctx, c.ID, "a", nil); err != nil {
		t.Fatal(err)
	}
	put("c")
	delta, err := s.Changes(ctx, c.ID, initial.Seq, -1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"b", "-a", "c"}, names(delta)); diff != "" {
		t.Errorf("delta: %s", diff)
	}
	part, err := s.Changes(ctx, c.ID, initial.Seq, 2)
	if err != nil || !part.Truncated || len(part.Changes) != 2 {
		t.Fatalf("limited = %+v, %v", part, err)
	}
	rest, err := s.Changes(ctx, c.ID, part.Seq, -1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"c"}, names(rest)); diff != "" {
		t.Errorf("rest after limit: %s", diff)
	}
	if _, err := s.Changes(ctx, c.ID, delta.Seq+5, -1); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("future token: err = %v", err)
	}
	// Age the tombstone of "a" past the TTL; a delete prunes it.
	clock.t = clock.t.Add(2 * time.Hour)
	put("d")
	if err := s.DeleteObject(ctx, c.ID, "d", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Changes(ctx, c.ID, initial.Seq, -1); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("token older than pruned tombstones: err = %v", err)
	}
	if _, err := s.Changes(ctx, c.ID, delta.Seq, -1); err != nil {
		t.Errorf("token newer than pruned tombstones: %v", err)
	}
}

func TestPersistence(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dav.sqlite")
	s := openTest(t, path, nil)
	if _, err := s.EnsurePrincipal(ctx, "alice", defaults()); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAccount(ctx, "alice", "h1"); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Collection(ctx, "alice", Calendar, "personal")
	if _, err := s.PutObject(ctx, c.ID, ObjectInput{Name: "x.ics", UID: "x", Data: []byte("data")}, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := openTest(t, path, nil)
	o, err := s2.Object(ctx, c.ID, "x.ics")
	if err != nil || string(o.Data) != "data" {
		t.Fatalf("after reopen: %+v, %v", o, err)
	}
	if h, err := s2.AccountHash(ctx, "alice"); err != nil || h != "h1" {
		t.Fatalf("AccountHash = %q, %v", h, err)
	}
}

func TestAccounts(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "dav.sqlite"), nil)
	if err := s.AddAccount(ctx, "bob", "h"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAccount(ctx, "bob", "h"); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate AddAccount: %v", err)
	}
	if err := s.SetAccountHash(ctx, "bob", "h2"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAccountHash(ctx, "nobody", "h2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetAccountHash unknown: %v", err)
	}
	accts, err := s.Accounts(ctx)
	if err != nil || len(accts) != 1 || accts[0].Hash != "h2" {
		t.Fatalf("Accounts = %+v, %v", accts, err)
	}
	if err := s.DeleteAccount(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AccountHash(ctx, "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted account: %v", err)
	}
}

func TestTimeRangePrefilter(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "dav.sqlite"), nil)
	if _, err := s.EnsurePrincipal(ctx, "alice", defaults()); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Collection(ctx, "alice", Calendar, "personal")
	objs := []ObjectInput{
		{Name: "early", Bounds: Bounds{Start: 0, End: 100, HasStart: true, HasEnd: true}},
		{Name: "late", Bounds: Bounds{Start: 1000, End: 1100, HasStart: true, HasEnd: true}},
		{Name: "open", Bounds: Bounds{Start: 50, HasStart: true}},
		{Name: "unknown"},
	}
	for i, o := range objs {
		o.UID, o.Data = strconv.Itoa(i), []byte(o.Name)
		if _, err := s.PutObject(ctx, c.ID, o, nil); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Objects(ctx, c.ID, &Bounds{Start: 200, End: 300, HasStart: true, HasEnd: true})
	if err != nil {
		t.Fatal(err)
	}
	var gotNames []string
	for _, o := range got {
		gotNames = append(gotNames, o.Name)
	}
	if diff := cmp.Diff([]string{"open", "unknown"}, gotNames); diff != "" {
		t.Errorf("prefilter: %s", diff)
	}
}

func TestParseToken(t *testing.T) {
	good := FormatToken("0123456789abcdef", 42)
	id, seq, err := ParseToken(good)
	if err != nil || id != "0123456789abcdef" || seq != 42 {
		t.Fatalf("ParseToken(%q) = %q, %d, %v", good, id, seq, err)
	}
	for _, bad := range []string{
		"", "http://example.com/", TokenPrefix, TokenPrefix + "0123456789abcdef",
		TokenPrefix + "0123456789abcdef/", TokenPrefix + "0123456789abcdef/-1",
		TokenPrefix + "0123456789abcdef/01", TokenPrefix + "0123456789ABCDEF/1",
		TokenPrefix + "0123456789abcde/1", TokenPrefix + "0123456789abcdef/1/2",
		TokenPrefix + "0123456789abcdef/99999999999999999999",
	} {
		if _, _, err := ParseToken(bad); err == nil {
			t.Errorf("ParseToken(%q) accepted", bad)
		}
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add(FormatToken("0123456789abcdef", 42))
	f.Add(TokenPrefix + "0123456789abcdef/01")
	f.Add("http://example.com/sync/1")
	f.Fuzz(func(t *testing.T, tok string) {
		id, seq, err := ParseToken(tok)
		if err != nil {
			return
		}
		if again := FormatToken(id, seq); again != tok {
			t.Fatalf("ParseToken(%q) accepted a non-canonical token (canonical %q)", tok, again)
		}
	})
}
