package passwd

import (
	"errors"
	"strings"
	"testing"
)

// fast keeps the tests quick; Default is exercised once.
var fast = Params{Memory: 64, Time: 1, Threads: 1}

func TestHashVerify(t *testing.T) {
	for _, p := range []Params{fast, Default} {
		h, err := Hash("correct horse ünïcode", p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(h, "$argon2id$v=19$") {
			t.Errorf("Hash = %q, want PHC argon2id", h)
		}
		ok, err := Verify(h, "correct horse ünïcode")
		if err != nil || !ok {
			t.Errorf("Verify(right) = %v, %v", ok, err)
		}
		ok, err = Verify(h, "wrong")
		if err != nil || ok {
			t.Errorf("Verify(wrong) = %v, %v", ok, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	good, err := Hash("x", fast)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"",
		"$2a$10$abcdefghijklmnopqrstuv",
		strings.Replace(good, "argon2id", "argon2i", 1),
		strings.Replace(good, "v=19", "v=16", 1),
		strings.Replace(good, "m=64", "m=99999999", 1),
		strings.Replace(good, "t=1", "t=100", 1),
		strings.Replace(good, "p=1", "p=0", 1),
		strings.Replace(good, ",p=1", "", 1),
		good + "$",
		good[:len(good)-30],
	} {
		if _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	good, _ := Hash("x", fast)
	f.Add(good)
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5")
	f.Add("$argon2id$v=19$m=0,t=0,p=0$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		if p.Params.Memory > maxMemory || p.Params.Time > maxTime || p.Params.Threads == 0 || len(p.Key) < 16 {
			t.Fatalf("Parse(%q) accepted out-of-range parameters %+v", s, p.Params)
		}
	})
}
