package passwd

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// fast keeps the tests quick; Default is exercised where it matters.
var fast = Params{Memory: 64, Time: 1, Threads: 1}

func TestHashVerify(t *testing.T) {
	for _, pw := range []string{
		"correct horse",
		"ünïcode pässwörd ✓",
		" spaces around ",
		"x",
		strings.Repeat("long", MaxLength/4),
	} {
		h, err := HashWith(fast, pw)
		if err != nil {
			t.Fatalf("HashWith(%q): %v", pw, err)
		}
		if ok, err := Verify(h, pw); !ok || err != nil {
			t.Errorf("Verify(own hash, %q) = %v, %v; want true", pw, ok, err)
		}
		for _, wrong := range []string{pw + "x", strings.ToUpper(pw), pw[:len(pw)-1], ""} {
			if ok, err := Verify(h, wrong); ok || err != nil {
				t.Errorf("Verify(hash of %q, %q) = %v, %v; want false", pw, wrong, ok, err)
			}
		}
	}
}

func TestHashDefault(t *testing.T) {
	h, err := Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("Hash = %q, want argon2id with the Default parameters", h)
	}
	p, err := parse(h)
	if err != nil || len(p.Salt) != saltLen || len(p.Key) != keyLen {
		t.Errorf("parse(Hash) = %+v, %v; want %d-byte salt and %d-byte key", p, err, saltLen, keyLen)
	}
	h2, _ := Hash("correct horse")
	if h == h2 {
		t.Error("two hashes of one password are equal: salt is not random")
	}
}

func TestHashWithRejects(t *testing.T) {
	for _, tc := range []struct {
		p  Params
		pw string
	}{
		{fast, ""},
		{Params{Memory: 64, Time: 0, Threads: 1}, "pw"},
		{Params{Memory: 64, Time: 1, Threads: 0}, "pw"},
		{Params{Memory: 15, Time: 1, Threads: 2}, "pw"},
		{Params{Memory: maxMemory + 1, Time: 1, Threads: 1}, "pw"},
		{Params{Memory: 64, Time: maxTime + 1, Threads: 1}, "pw"},
	} {
		if h, err := HashWith(tc.p, tc.pw); err == nil {
			t.Errorf("HashWith(%+v, %q) = %q, want an error", tc.p, tc.pw, h)
		}
	}
}

// TestVerifyStoredParams checks that Verify uses the parameters in the
// hash, not Default, so Default can change under existing accounts.
func TestVerifyStoredParams(t *testing.T) {
	for _, p := range []Params{{Memory: 32, Time: 1, Threads: 4}, {Memory: 128, Time: 3, Threads: 2}, {Memory: 8, Time: 1, Threads: 1}} {
		h, err := HashWith(p, "pw")
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("$m=%d,t=%d,p=%d$", p.Memory, p.Time, p.Threads)
		if !strings.Contains(h, want) {
			t.Errorf("HashWith(%+v) = %q, want %s in it", p, h, want)
		}
		if ok, err := Verify(h, "pw"); !ok || err != nil {
			t.Errorf("Verify(%q) = %v, %v", h, ok, err)
		}
	}
}

// Hashes written by the reference C implementation (Debian's argon2,
// `echo -n PW | argon2 SALT -id -t T -k M -p P -l L -e`). The first has
// the Default parameters, as stored by every adapter so far.
var referenceHashes = []struct{ hash, password string }{
	{"$argon2id$v=19$m=19456,t=2,p=1$bXljZWxpdW0tc2FsdC0xNg$MT2PUebim7sfbVpihGt/9jQTy/LJk3d255HFql8pq9s", "correct horse battery staple"},
	{"$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$uL2hQzJmxaz0Tfm2KK6uNjA0+UvbrHBEBwVmJYrNXCE", "correct horse"},
	{"$argon2id$v=19$m=256,t=3,p=4$c2FsdHNhbHQ$wVl3UVe2IfGvTTpqpW9HyQ", "ünïcode pässword"},
}

func TestVerifyReference(t *testing.T) {
	for _, r := range referenceHashes {
		if ok, err := Verify(r.hash, r.password); !ok || err != nil {
			t.Errorf("Verify(%q, %q) = %v, %v; want true", r.hash, r.password, ok, err)
		}
		if ok, err := Verify(r.hash, r.password+" "); ok || err != nil {
			t.Errorf("Verify(%q, wrong) = %v, %v; want false", r.hash, ok, err)
		}
	}
}

// TestVerifyArgon2CLI cross-checks fresh random cases against the
// reference implementation, both ways.
func TestVerifyArgon2CLI(t *testing.T) {
	bin, err := exec.LookPath("argon2")
	if err != nil {
		t.Skip("argon2 not installed (apt-get install argon2)")
	}
	for _, p := range []Params{{Memory: 64, Time: 1, Threads: 1}, {Memory: 512, Time: 2, Threads: 2}, {Memory: 1024, Time: 1, Threads: 8}} {
		pw, salt := randomHex(12), randomHex(8)
		cmd := exec.Command(bin, salt, "-id", "-t", fmt.Sprint(p.Time), "-k", fmt.Sprint(p.Memory), "-p", fmt.Sprint(p.Threads), "-l", "32", "-e")
		cmd.Stdin = strings.NewReader(pw)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		ref := string(bytes.TrimSpace(out))
		if ok, err := Verify(ref, pw); !ok || err != nil {
			t.Errorf("Verify(argon2 CLI hash %q) = %v, %v", ref, ok, err)
		}
		ours := phc{Params: p, Salt: []byte(salt)}
		ours.Key = ours.derive(pw, 32)
		if ours.String() != ref {
			t.Errorf("our encoding %q != reference %q", ours.String(), ref)
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// malformed lists hashes Verify must reject without running argon2.
var malformed = []string{
	"",
	"plain text",
	"$2a$10$abcdefghijklmnopqrstuuOTlHyn6RrMlT0rt1xXz/uCiSvZkVZ7W", // bcrypt
	"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng",
	"$argon2d$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng",
	"$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng",
	"$argon2id$m=64,t=1,p=1$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng", // no version
	"argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng",
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng$",
	"$argon2id$v=19$t=1,m=64,p=1$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng", // order
	"$argon2id$v=19$m=64,t=1$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng",
	"$argon2id$v=19$m=64,t=1,p=1,k=2$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng",
	"$argon2id$v=19$m=64,t=1,p=1,$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng",
	"$argon2id$v=19$m=064,t=1,p=1$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng",
	"$argon2id$v=19$m=+64,t=1,p=1$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng",
	"$argon2id$v=19$m=,t=1,p=1$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng",
	"$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng",
	"$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng",
	"$argon2id$v=19$m=64,t=1,p=256$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng",
	"$argon2id$v=19$m=15,t=1,p=2$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng",         // < 8 KiB per lane
	"$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng", // 4 TiB
	"$argon2id$v=19$m=4294967296,t=1,p=1$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng", // overflows uint32
	"$argon2id$v=19$m=64,t=33,p=1$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng",
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$MTIzNDU2Nzg5MDEyMzQ1Ng",                               // 4-byte salt
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ=$MTIzNDU2Nzg5MDEyMzQ1Ng",                         // padded
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHR$MTIzNDU2Nzg5MDEyMzQ1Ng",                          // non-canonical
	"$argon2id$v=19$m=64,t=1,p=1$c2Fs!HNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng",                          // alphabet
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNh\nbHQ$MTIzNDU2Nzg5MDEyMzQ1Ng",                        // base64 would skip \n
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEy\r\nMzQ1Ng",                      // and \r
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$MTIzNDU2Nzg5MDEy",                                // 12-byte key
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$",                                                // no key
	"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$" + strings.Repeat("QUFB", 22),                   // 66-byte key
	"$argon2id$v=19$m=64,t=1,p=1$" + strings.Repeat("QUFB", 22) + "$QUFBQUFBQUFBQUFBQUFBQUFB", // 66-byte salt
}

func TestVerifyMalformed(t *testing.T) {
	for _, h := range malformed {
		ok, err := Verify(h, "pw")
		if ok || !errors.Is(err, ErrMalformed) {
			t.Errorf("Verify(%q) = %v, %v; want ErrMalformed", h, ok, err)
		}
	}
}

// FuzzVerify fuzzes the PHC parser behind Verify: no input may crash it,
// whatever it accepts is within the limits and re-encodes to itself, and
// Verify on a cheap accepted hash runs without error.
func FuzzVerify(f *testing.F) {
	for _, r := range referenceHashes {
		f.Add(r.hash, r.password)
	}
	for _, h := range malformed {
		f.Add(h, "pw")
	}
	good, _ := HashWith(fast, "pw")
	f.Add(good, "pw")
	f.Fuzz(func(t *testing.T, s, pw string) {
		h, err := parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("parse(%q) error %v does not wrap ErrMalformed", s, err)
			}
			return
		}
		if err := h.check(); err != nil {
			t.Fatalf("parse(%q) accepted %+v: %v", s, h.Params, err)
		}
		if n, m := len(h.Salt), len(h.Key); n < minSaltLen || n > maxSaltLen || m < minKeyLen || m > maxKeyLen {
			t.Fatalf("parse(%q) accepted a %d-byte salt and %d-byte key", s, n, m)
		}
		if h.String() != s {
			t.Fatalf("parse(%q) re-encodes as %q", s, h.String())
		}
		if uint64(h.Memory)*uint64(h.Time) <= 4096 {
			if _, err := Verify(s, pw); err != nil {
				t.Fatalf("Verify(%q) = %v after parse accepted it", s, err)
			}
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	h, err := Hash("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := Verify(h, "correct horse battery staple"); !ok {
			b.Fatal("Verify = false")
		}
	}
}
