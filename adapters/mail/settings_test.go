package mail

import (
	"strings"
	"testing"
	"time"
)

func TestParseSettings(t *testing.T) {
	key := strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		in      string
		wantErr string
		check   func(t *testing.T, s settings)
	}{
		{name: "empty gives defaults", in: ``, check: func(t *testing.T, s settings) {
			if s.MaxMessageSize != 50<<20 || time.Duration(s.QueueExpiry) != 72*time.Hour || s.MXPort != 25 {
				t.Errorf("defaults = %+v", s.Settings)
			}
		}},
		{name: "null", in: `null`},
		{name: "full", in: `{"hostname":"mail.mesh","aliases":{"Bob.Mesh":"` + key + `"},"max_message_size":1048576,
			"allow_plain_auth_loopback":true,"preauth":{"` + key + `":"Alice"},"retry_initial":"30s","retry_max":"2h",
			"queue_expiry":"3d","mx_port":2525}`,
			check: func(t *testing.T, s settings) {
				if len(s.aliases) != 1 || s.aliases["bob.mesh"].String() != key {
					t.Errorf("aliases = %v", s.aliases)
				}
				for _, v := range s.preauth {
					if v != "alice" {
						t.Errorf("preauth account = %q, want alice", v)
					}
				}
				if time.Duration(s.QueueExpiry) != 72*time.Hour || time.Duration(s.RetryInitial) != 30*time.Second {
					t.Errorf("durations = %v %v", s.QueueExpiry, s.RetryInitial)
				}
			}},
		{name: "seconds as number", in: `{"retry_initial": 5}`, check: func(t *testing.T, s settings) {
			if time.Duration(s.RetryInitial) != 5*time.Second {
				t.Errorf("retry_initial = %v", time.Duration(s.RetryInitial))
			}
		}},
		{name: "unknown key", in: `{"max_size": 1}`, wantErr: "unknown field"},
		{name: "bad key", in: `{"aliases":{"bob.mesh":"xyz"}}`, wantErr: "64 hex"},
		{name: "bad alias domain", in: `{"aliases":{"bob mesh":"` + key + `"}}`, wantErr: "bob mesh"},
		{name: "canonical as alias", in: `{"aliases":{"05a6f0c6f365177d66be4a2bd9fdb59e.mycelium.internal":"` + key + `"}}`, wantErr: "canonical"},
		{name: "duplicate alias by case", in: `{"aliases":{"a.mesh":"` + key + `","A.mesh":"` + key + `"}}`, wantErr: "twice"},
		{name: "tiny size", in: `{"max_message_size": 10}`, wantErr: "max_message_size"},
		{name: "retry order", in: `{"retry_initial":"2h","retry_max":"1h"}`, wantErr: "retry_initial"},
		{name: "bad duration", in: `{"queue_expiry":"soon"}`, wantErr: "soon"},
		{name: "trailing data", in: `{} {}`, wantErr: "trailing"},
		{name: "bad preauth account", in: `{"preauth":{"` + key + `":"a b"}}`, wantErr: "preauth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSettings([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSettings(%s) err = %v, want containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSettings(%s) = %v", tt.in, err)
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

func FuzzParseSettings(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"aliases":{"bob.mesh":"` + strings.Repeat("ab", 32) + `"}}`,
		`{"queue_expiry":"3d","retry_initial":5}`, `{"max_size":1}`, `{"hostname":"[400::1]"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSettings(b)
		if err != nil {
			return
		}
		if s.MaxMessageSize <= 0 || s.RetryInitial <= 0 || s.RetryMax < s.RetryInitial || s.QueueExpiry <= 0 {
			t.Fatalf("accepted invalid settings %+v", s.Settings)
		}
	})
}
