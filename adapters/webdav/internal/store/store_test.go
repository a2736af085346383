package store

import (
	"context"
	"database/sql"
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/webdav"
	_ "modernc.org/sqlite"
)

func openDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "t.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newTrees returns trees under a fresh directory, and that directory.
func newTrees(t *testing.T) (*Trees, string) {
	t.Helper()
	dir := t.TempDir()
	props, err := NewProps(context.Background(), openDB(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	trees, err := NewTrees(filepath.Join(dir, "trees"), props)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { trees.Close() })
	return trees, dir
}

func newVolume(t *testing.T, id string) (*Volume, string) {
	t.Helper()
	trees, dir := newTrees(t)
	v, err := trees.Volume(id)
	if err != nil {
		t.Fatal(err)
	}
	return v, filepath.Join(dir, "trees", filepath.FromSlash(id))
}

func putFile(t *testing.T, v *Volume, p, content string) *Info {
	t.Helper()
	w, err := v.Create(context.Background(), p)
	if err != nil {
		t.Fatalf("Create(%s): %v", p, err)
	}
	if _, err := io.Copy(w, strings.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	info, err := w.Commit(context.Background())
	if err != nil {
		t.Fatalf("Commit(%s): %v", p, err)
	}
	return info
}

func getFile(t *testing.T, v *Volume, p string) string {
	t.Helper()
	f, _, err := v.Open(context.Background(), p)
	if err != nil {
		t.Fatalf("Open(%s): %v", p, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestValidID(t *testing.T) {
	good := []string{"users/alice", "keys/" + strings.Repeat("ab", 32), "shared/Family-Photos_2.0"}
	bad := []string{"", "users", "users/", "/alice", "users/../x", "users/a/b", "users/.hidden", "users/a b", "us ers/a", "users/ä"}
	for _, id := range good {
		if !ValidID(id) {
			t.Errorf("ValidID(%q) = false, want true", id)
		}
	}
	for _, id := range bad {
		if ValidID(id) {
			t.Errorf("ValidID(%q) = true, want false", id)
		}
	}
}

func TestConfinement(t *testing.T) {
	trees, dir := newTrees(t)
	ctx := context.Background()
	alice, _ := trees.Volume("users/alice")
	bob, _ := trees.Volume("users/bob")
	putFile(t, bob, "/secret.txt", "bob's secret")
	aliceDir := filepath.Join(dir, "trees", "users", "alice")
	os.WriteFile(filepath.Join(dir, "outside.txt"), []byte("outside"), 0o644)

	links := map[string]string{
		"up":       "../bob/secret.txt",
		"abs":      filepath.Join(dir, "trees", "users", "bob", "secret.txt"),
		"etc":      "/etc/passwd",
		"deep":     "../../../outside.txt",
		"dirup":    "..",
		"loop":     "loop",
		"dangling": "nothere",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(aliceDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	for name := range links {
		p := "/" + name
		if _, err := alice.Stat(ctx, p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(%s) = %v, want not exist", p, err)
		}
		if f, _, err := alice.Open(ctx, p); !errors.Is(err, fs.ErrNotExist) {
			if f != nil {
				f.Close()
			}
			t.Errorf("Open(%s) = %v, want not exist", p, err)
		}
	}
	for _, p := range []string{"/dirup/bob/secret.txt", "/dirup/../../outside.txt"} {
		if _, err := alice.Stat(ctx, p); err == nil {
			t.Errorf("Stat(%s) succeeded", p)
		}
	}
	for _, p := range []string{"../bob/secret.txt", "/../bob/secret.txt", "/a/../../bob", "a", "", "/x/", "/" + TempPrefix + "1"} {
		if _, err := alice.Stat(ctx, p); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidPath", p, err)
		}
		if _, err := alice.Create(ctx, p); err == nil {
			t.Errorf("Create(%q) succeeded", p)
		}
	}
	// A link inside the tree works.
	putFile(t, alice, "/real.txt", "real")
	os.Symlink("real.txt", filepath.Join(aliceDir, "inside"))
	if got := getFile(t, alice, "/inside"); got != "real" {
		t.Errorf("read through inside link = %q", got)
	}
	list, err := alice.ReadDir(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range list {
		names = append(names, i.Name())
	}
	if diff := cmp.Diff([]string{"inside", "real.txt"}, names); diff != "" {
		t.Errorf("ReadDir shows escaping links (-want +got):\n%s", diff)
	}
	// Writing through an escaping directory link fails.
	if _, err := alice.Create(ctx, "/dirup/bob/evil.txt"); err == nil {
		t.Error("Create through an escaping directory link succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "trees", "users", "bob", "evil.txt")); err == nil {
		t.Error("a file appeared in bob's tree")
	}
}

func TestAtomicWrite(t *testing.T) {
	v, dir := newVolume(t, "users/alice")
	ctx := context.Background()
	putFile(t, v, "/f", "old")

	w, err := v.Create(ctx, "/f")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "new content")
	if got := getFile(t, v, "/f"); got != "old" {
		t.Errorf("content before commit = %q, want old", got)
	}
	list, _ := v.ReadDir(ctx, "/")
	if len(list) != 1 {
		t.Errorf("temporary file visible in listing: %v", list)
	}
	w.Abort()
	if got := getFile(t, v, "/f"); got != "old" {
		t.Errorf("content after abort = %q, want old", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("abort left files behind: %v", entries)
	}

	before, _ := v.Stat(ctx, "/f")
	after := putFile(t, v, "/f", "new")
	if before.ETagValue() == after.ETagValue() {
		t.Error("ETag unchanged after rewriting with same size")
	}
	if got, _ := v.Stat(ctx, "/f"); got.ETagValue() != after.ETagValue() {
		t.Errorf("Stat ETag %s differs from Commit ETag %s", got.ETagValue(), after.ETagValue())
	}
	if _, err := v.Create(ctx, "/missing/f"); !errors.Is(err, ErrNoParent) {
		t.Errorf("Create under missing parent = %v, want ErrNoParent", err)
	}
	if _, err := v.Create(ctx, "/f/child"); !errors.Is(err, ErrNoParent) {
		t.Errorf("Create under a file = %v, want ErrNoParent", err)
	}
}

func TestWriteLimit(t *testing.T) {
	v, _ := newVolume(t, "users/alice")
	w, err := v.Create(context.Background(), "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	w.SetLimit(10)
	if _, err := io.Copy(w, strings.NewReader(strings.Repeat("x", 11))); !errors.Is(err, ErrQuota) {
		t.Errorf("write past limit = %v, want ErrQuota", err)
	}
}

func prop(ns, name, value string) webdav.Property {
	return webdav.Property{XMLName: xml.Name{Space: ns, Local: name}, InnerXML: []byte(value)}
}

func setProps(t *testing.T, v *Volume, p string, props ...webdav.Property) {
	t.Helper()
	if err := v.props.Patch(context.Background(), v.id, p, []webdav.Proppatch{{Props: props}}); err != nil {
		t.Fatal(err)
	}
}

func propValues(t *testing.T, v *Volume, p string) map[string]string {
	t.Helper()
	props, err := v.props.Get(context.Background(), v.id, p)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, pr := range props {
		out[pr.XMLName.Local+"@"+pr.XMLName.Space] = string(pr.InnerXML)
	}
	return out
}

func TestPropsFollowResources(t *testing.T) {
	trees, _ := newTrees(t)
	ctx := context.Background()
	v, _ := trees.Volume("users/alice")
	other, _ := trees.Volume("shared/team")
	for _, d := range []string{"/dir", "/dir/sub", "/dirx"} {
		if err := v.Mkdir(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	putFile(t, v, "/dir/sub/ü.txt", "x")
	putFile(t, v, "/dirx/f", "x")
	setProps(t, v, "/dir", prop("urn:a", "top", "1"))
	setProps(t, v, "/dir/sub/ü.txt", prop("urn:a", "deep", "2"), prop("urn:b", "deep", "<x xmlns=\"urn:c\"></x>"))
	setProps(t, v, "/dirx/f", prop("urn:a", "keep", "3"))

	children, err := v.props.Children(ctx, v.id, "/dir/sub")
	if err != nil || len(children["/dir/sub/ü.txt"]) != 2 {
		t.Fatalf("Children = %v, %v", children, err)
	}

	if _, err := Copy(ctx, v, "/dir", other, "/copy", true, -1); err != nil {
		t.Fatal(err)
	}
	if got := propValues(t, other, "/copy/sub/ü.txt"); got["deep@urn:a"] == "" {
		t.Errorf("copied props = %v", got)
	}
	if got := getFile(t, other, "/copy/sub/ü.txt"); got != "x" {
		t.Errorf("copied content = %q", got)
	}
	if err := v.Rename(ctx, "/dir", "/moved"); err != nil {
		t.Fatal(err)
	}
	if got := propValues(t, v, "/moved/sub/ü.txt"); len(got) != 2 {
		t.Errorf("props after move = %v", got)
	}
	if got := propValues(t, v, "/dir/sub/ü.txt"); len(got) != 0 {
		t.Errorf("props left at old path = %v", got)
	}
	if got := propValues(t, v, "/moved"); got["top@urn:a"] != "1" {
		t.Errorf("collection props after move = %v", got)
	}
	if err := v.RemoveAll(ctx, "/moved"); err != nil {
		t.Fatal(err)
	}
	if got := propValues(t, v, "/moved/sub/ü.txt"); len(got) != 0 {
		t.Errorf("props survive delete: %v", got)
	}
	if got := propValues(t, v, "/dirx/f"); got["keep@urn:a"] != "3" {
		t.Errorf("sibling with common prefix lost props: %v", got)
	}
	// Shallow copy takes only the collection's own properties.
	if _, err := Copy(ctx, other, "/copy", other, "/shallow", false, -1); err != nil {
		t.Fatal(err)
	}
	if list, _ := other.ReadDir(ctx, "/shallow"); len(list) != 0 {
		t.Errorf("shallow copy has members %v", list)
	}
	if got := propValues(t, other, "/shallow"); got["top@urn:a"] != "1" {
		t.Errorf("shallow copy props = %v", got)
	}
}

func TestPropsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	open := func() (*Volume, func()) {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "t.db")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
		if err != nil {
			t.Fatal(err)
		}
		props, err := NewProps(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		trees, err := NewTrees(filepath.Join(dir, "trees"), props)
		if err != nil {
			t.Fatal(err)
		}
		v, err := trees.Volume("users/alice")
		if err != nil {
			t.Fatal(err)
		}
		return v, func() { trees.Close(); db.Close() }
	}
	v, closeFn := open()
	putFile(t, v, "/f", "x")
	setProps(t, v, "/f", webdav.Property{XMLName: xml.Name{Space: "urn:a", Local: "p"}, Lang: "de", InnerXML: []byte("Wert")})
	closeFn()
	v, closeFn = open()
	defer closeFn()
	props, err := v.props.Get(ctx, v.id, "/f")
	if err != nil {
		t.Fatal(err)
	}
	want := []webdav.Property{{XMLName: xml.Name{Space: "urn:a", Local: "p"}, Lang: "de", InnerXML: []byte("Wert")}}
	if diff := cmp.Diff(want, props); diff != "" {
		t.Errorf("props after reopen (-want +got):\n%s", diff)
	}
}

func TestUsage(t *testing.T) {
	v, dir := newVolume(t, "users/alice")
	ctx := context.Background()
	os.WriteFile(filepath.Join(dir, "pre"), make([]byte, 100), 0o644)
	stale := filepath.Join(dir, TempPrefix+"old")
	os.WriteFile(stale, make([]byte, 50), 0o644)
	old := time.Now().Add(-2 * staleTemp)
	os.Chtimes(stale, old, old)

	n, err := v.Usage(ctx)
	if err != nil || n != 100 {
		t.Fatalf("Usage = %d, %v; want 100", n, err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("stale temporary file not removed by the scan")
	}
	putFile(t, v, "/a", strings.Repeat("x", 10))
	putFile(t, v, "/a", strings.Repeat("x", 30))
	v.Mkdir(ctx, "/d")
	putFile(t, v, "/d/b", strings.Repeat("x", 5))
	if _, err := Copy(ctx, v, "/d", v, "/e", true, -1); err != nil {
		t.Fatal(err)
	}
	if n, _ := v.Usage(ctx); n != 140 {
		t.Errorf("Usage after writes = %d, want 140", n)
	}
	v.RemoveAll(ctx, "/d")
	v.RemoveAll(ctx, "/pre")
	if n, _ := v.Usage(ctx); n != 35 {
		t.Errorf("Usage after deletes = %d, want 35", n)
	}
	if _, err := Copy(ctx, v, "/e", v, "/f", true, 4); !errors.Is(err, ErrQuota) {
		t.Errorf("Copy over limit = %v, want ErrQuota", err)
	}
	if free, err := v.Free(); err != nil || free <= 0 {
		t.Errorf("Free = %d, %v", free, err)
	}
}
