package smtpd

import (
	"errors"
	"testing"
)

func TestLoginServer(t *testing.T) {
	var gotUser, gotPass string
	auth := func(u, p string) error {
		gotUser, gotPass = u, p
		if p != "pw" {
			return errors.New("bad")
		}
		return nil
	}
	// Without an initial response.
	l := &loginServer{auth: auth}
	if c, done, err := l.Next(nil); string(c) != "Username:" || done || err != nil {
		t.Fatalf("step 0 = %q %v %v", c, done, err)
	}
	if c, done, err := l.Next([]byte("alice@x")); string(c) != "Password:" || done || err != nil {
		t.Fatalf("step 1 = %q %v %v", c, done, err)
	}
	if _, done, err := l.Next([]byte("pw")); !done || err != nil || gotUser != "alice@x" || gotPass != "pw" {
		t.Fatalf("step 2 = %v %v (%q %q)", done, err, gotUser, gotPass)
	}
	if _, _, err := l.Next(nil); err == nil {
		t.Error("extra step accepted")
	}
	// With the username as initial response, and a wrong password.
	l = &loginServer{auth: auth}
	if c, _, _ := l.Next([]byte("bob")); string(c) != "Password:" {
		t.Fatalf("initial response step = %q", c)
	}
	if _, done, err := l.Next([]byte("nope")); !done || err == nil {
		t.Fatalf("wrong password = %v %v", done, err)
	}
}

func FuzzLoginServer(f *testing.F) {
	f.Add([]byte("alice"), []byte("pw"), []byte{})
	f.Fuzz(func(t *testing.T, a, b, c []byte) {
		l := &loginServer{auth: func(string, string) error { return nil }}
		for _, r := range [][]byte{a, b, c, nil} {
			if _, done, err := l.Next(r); done || err != nil {
				return
			}
		}
	})
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{"": "unknown", "host.example": "host.example", "a (b)\r\nc": "abc"} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}
