package mail

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mycelium-go/mycelium/adapters/mail/addr"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Settings is the plugin's [plugin.settings] table.
type Settings struct {
	// Hostname is the name mail clients use to reach this node over the
	// overlay (autoconfig, profiles). Default: the node's first name, else
	// its overlay address.
	Hostname string `json:"hostname"`
	// Aliases maps friendly mail domains to node public keys (64 hex
	// digits), e.g. {"bob.mesh": "ab12..."}. An alias of this node's own
	// key is a local domain.
	Aliases map[string]string `json:"aliases"`
	// MaxMessageSize is the largest message accepted by SMTP and APPEND,
	// in bytes. Default 50 MiB.
	MaxMessageSize int64 `json:"max_message_size"`
	// AllowPlainAuthLoopback lets loopback clients log in without TLS
	// (off by default: clients are told to use STARTTLS or TLS).
	AllowPlainAuthLoopback bool `json:"allow_plain_auth_loopback"`
	// PreAuth maps an overlay node key (64 hex digits) to a local account
	// (local part): IMAP connections from that node are logged in to the
	// account without a password.
	PreAuth map[string]string `json:"preauth"`
	// RetryInitial is the delay after the first failed delivery to another
	// node; it doubles up to RetryMax. Defaults 1m and 1h.
	RetryInitial Duration `json:"retry_initial"`
	RetryMax     Duration `json:"retry_max"`
	// QueueExpiry is how long undeliverable mail stays queued before it
	// bounces. Default 72h. Accepts Go durations and "Nd" days.
	QueueExpiry Duration `json:"queue_expiry"`
	// MXPort is the port of the mx service on other nodes. Default 25.
	MXPort uint16 `json:"mx_port"`
}

// settings is the validated form.
type settings struct {
	Settings
	aliases map[string]sdk.PublicKey
	preauth map[sdk.PublicKey]string
}

// Default returns the settings used for absent keys.
func Default() Settings {
	return Settings{
		MaxMessageSize: 50 << 20,
		RetryInitial:   Duration(time.Minute),
		RetryMax:       Duration(time.Hour),
		QueueExpiry:    Duration(72 * time.Hour),
		MXPort:         25,
	}
}

// ParseSettings decodes the plugin's JSON settings over the defaults,
// rejecting unknown keys, and validates them.
func ParseSettings(raw []byte) (settings, error) {
	s := settings{Settings: Default()}
	if len(bytes.TrimSpace(raw)) > 0 && string(bytes.TrimSpace(raw)) != "null" {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s.Settings); err != nil {
			return settings{}, fmt.Errorf("mail settings: %w", err)
		}
		if dec.More() {
			return settings{}, errors.New("mail settings: trailing data after the settings object")
		}
	}
	if err := s.validate(); err != nil {
		return settings{}, fmt.Errorf("mail settings: %w", err)
	}
	return s, nil
}

func (s *settings) validate() error {
	if s.MaxMessageSize < 1024 || s.MaxMessageSize > 1<<31 {
		return fmt.Errorf("max_message_size %d must be between 1 KiB and 2 GiB", s.MaxMessageSize)
	}
	if s.RetryInitial <= 0 || s.RetryMax < s.RetryInitial {
		return fmt.Errorf("retry_initial (%v) must be positive and at most retry_max (%v)", time.Duration(s.RetryInitial), time.Duration(s.RetryMax))
	}
	if s.QueueExpiry <= 0 {
		return errors.New("queue_expiry must be positive")
	}
	if s.MXPort == 0 {
		return errors.New("mx_port must not be 0")
	}
	if s.Hostname != "" {
		if _, err := addr.ParseDomain(strings.Trim(s.Hostname, "[]")); err != nil && !isIPLiteral(s.Hostname) {
			return fmt.Errorf("hostname %q: %w", s.Hostname, err)
		}
	}
	s.aliases = make(map[string]sdk.PublicKey, len(s.Aliases))
	for d, k := range s.Aliases {
		nd, err := addr.ParseDomain(d)
		if err != nil {
			return fmt.Errorf("aliases: %q: %w", d, err)
		}
		if _, canon := addr.ParseCanonicalDomain(nd); canon {
			return fmt.Errorf("aliases: %q is a canonical node domain, not an alias", d)
		}
		if _, dup := s.aliases[nd]; dup {
			return fmt.Errorf("aliases: %q given twice", d)
		}
		key, err := sdk.ParsePublicKey(strings.ToLower(k))
		if err != nil {
			return fmt.Errorf("aliases: %q: %w", d, err)
		}
		s.aliases[nd] = key
	}
	s.preauth = make(map[sdk.PublicKey]string, len(s.PreAuth))
	for k, local := range s.PreAuth {
		key, err := sdk.ParsePublicKey(strings.ToLower(k))
		if err != nil {
			return fmt.Errorf("preauth: %w", err)
		}
		l, err := addr.NormalizeLocal(local)
		if err != nil {
			return fmt.Errorf("preauth: account for key %s: %w", k, err)
		}
		s.preauth[key] = l
	}
	return nil
}

func isIPLiteral(h string) bool {
	h = strings.Trim(h, "[]")
	return strings.Count(h, ":") >= 2 || strings.Count(h, ".") == 3 && strings.Trim(h, "0123456789.") == ""
}

// Duration is a time.Duration written as a string ("90s", "1h", "3d") or
// a number of seconds.
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n float64
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("duration must be a string like \"90s\" or a number of seconds")
		}
		*d = Duration(n * float64(time.Second))
		return nil
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// ParseDuration parses Go durations plus a whole-day form "Nd".
func ParseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseUint(n, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("duration %q: bad day count", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: %w", s, err)
	}
	return v, nil
}
