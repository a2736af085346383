package webdav

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/mycelium-go/mycelium/adapters/webdav/internal/accounts"
)

// Settings is the plugin's configuration, the [plugin.settings] table of
// the node's TOML file. Unknown keys are rejected.
type Settings struct {
	// Realm is the HTTP Basic authentication realm clients show
	// (default "mycelium webdav").
	Realm string `json:"realm"`
	// SharedDir is the name of the collection under which every identity
	// sees its shared folders (default "shared"). An entry of that name
	// in a home tree is hidden.
	SharedDir string `json:"shared_dir"`
	// DefaultQuota limits each home tree without an entry in Quotas
	// ("0" or absent: no limit but the disk). A number of bytes or a
	// string like "10GiB" or "500MB".
	DefaultQuota ByteSize `json:"default_quota"`
	// Quotas maps an account name or a public key (64 hex digits) to the
	// quota of its home tree. A key linked to an account uses the
	// account's entry.
	Quotas map[string]ByteSize `json:"quotas"`
	// Links maps a public key (64 hex digits) to a local account name:
	// that overlay node then works in the account's tree, so one
	// person's laptop (loopback, password) and node (overlay, key) share
	// their files.
	Links map[string]string `json:"links"`
	// Shared lists the shared folders.
	Shared []SharedFolder `json:"shared"`
	// LockTimeout is the timeout of a lock whose client asks for none
	// (default "1h").
	LockTimeout Duration `json:"lock_timeout"`
	// MaxLockTimeout caps the timeout a client may ask for, "Infinite"
	// included (default "24h"). Locks survive restarts.
	MaxLockTimeout Duration `json:"max_lock_timeout"`
	// PropfindInfinity allows PROPFIND with Depth: infinity, which walks
	// a whole tree in one request (default false: 403, as Apache does).
	PropfindInfinity bool `json:"propfind_depth_infinity"`
	// ReportQuota answers the RFC 4331 quota properties (default true).
	// Finder shows free space from them; some macOS releases stall for
	// 90 s at mount when they are present, and false works around that.
	ReportQuota bool `json:"report_quota"`
}

// SharedFolder is a tree shared by several identities. Each member sees
// it at /<shared_dir>/<name>/.
type SharedFolder struct {
	// Name of the folder: letters, digits, '.', '_' and '-', not
	// starting with a dot.
	Name string `json:"name"`
	// Members may read and write: account names or public keys.
	Members []string `json:"members"`
	// Readers may only read: account names or public keys.
	Readers []string `json:"readers"`
	// Quota limits the folder's size (0 or absent: no limit).
	Quota ByteSize `json:"quota"`
}

// DefaultSettings returns the settings used for absent keys.
func DefaultSettings() Settings {
	return Settings{
		Realm:          "mycelium webdav",
		SharedDir:      "shared",
		LockTimeout:    Duration(time.Hour),
		MaxLockTimeout: Duration(24 * time.Hour),
		ReportQuota:    true,
	}
}

// ParseSettings decodes raw JSON settings over the defaults and
// validates them. Empty input gives the defaults.
func ParseSettings(raw []byte) (Settings, error) {
	s := DefaultSettings()
	if len(bytes.TrimSpace(raw)) > 0 && string(bytes.TrimSpace(raw)) != "null" {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		if err := d.Decode(&s); err != nil {
			return Settings{}, fmt.Errorf("webdav: settings: %w", err)
		}
		if d.More() {
			return Settings{}, errors.New("webdav: settings: trailing data")
		}
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// Validate checks the settings.
func (s *Settings) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("webdav: settings: "+format, args...))
	}
	if s.Realm == "" || strings.ContainsAny(s.Realm, "\"\\\r\n") {
		add("realm must be non-empty and free of quotes, backslashes and line breaks")
	}
	if !validFolderName(s.SharedDir) {
		add("shared_dir %q: use letters, digits, '.', '_' and '-', not starting with a dot", s.SharedDir)
	}
	if s.DefaultQuota < 0 {
		add("default_quota must not be negative")
	}
	for who, q := range s.Quotas {
		if !validMember(who) {
			add("quotas: %q is neither an account name nor a 64-hex-digit key", who)
		}
		if q < 0 {
			add("quotas: %q must not be negative", who)
		}
	}
	for key, acct := range s.Links {
		if !isKey(key) {
			add("links: %q is not a 64-hex-digit key", key)
		}
		if !accounts.ValidName(acct) {
			add("links: %q is not a valid account name", acct)
		}
	}
	if s.LockTimeout <= 0 || s.MaxLockTimeout < s.LockTimeout {
		add("need 0 < lock_timeout <= max_lock_timeout")
	}
	errs = append(errs, validateShared(s.Shared)...)
	return errors.Join(errs...)
}

// validateShared checks the shared folders.
func validateShared(folders []SharedFolder) []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("webdav: settings: "+format, args...))
	}
	seen := map[string]bool{}
	for i, f := range folders {
		if !validFolderName(f.Name) {
			add("shared[%d]: name %q: use letters, digits, '.', '_' and '-', not starting with a dot", i, f.Name)
		}
		if seen[f.Name] {
			add("shared[%d]: duplicate name %q", i, f.Name)
		}
		seen[f.Name] = true
		if len(f.Members)+len(f.Readers) == 0 {
			add("shared[%d] %q: no members or readers", i, f.Name)
		}
		if f.Quota < 0 {
			add("shared[%d] %q: quota must not be negative", i, f.Name)
		}
		inMembers := map[string]bool{}
		for _, m := range f.Members {
			inMembers[normMember(m)] = true
		}
		for _, m := range append(append([]string{}, f.Members...), f.Readers...) {
			if !validMember(m) {
				add("shared[%d] %q: %q is neither an account name nor a 64-hex-digit key", i, f.Name, m)
			}
		}
		for _, m := range f.Readers {
			if inMembers[normMember(m)] {
				add("shared[%d] %q: %q is both member and reader", i, f.Name, m)
			}
		}
	}
	return errs
}

func validFolderName(n string) bool {
	if n == "" || n[0] == '.' || len(n) > 64 {
		return false
	}
	for _, c := range n {
		if !(c < unicode.MaxASCII && (unicode.IsLetter(c) || unicode.IsDigit(c) || c == '.' || c == '_' || c == '-')) {
			return false
		}
	}
	return true
}

func isKey(s string) bool {
	_, err := hex.DecodeString(s)
	return len(s) == 64 && err == nil
}

func validMember(m string) bool { return isKey(m) || accounts.ValidName(m) }

// normMember lower-cases keys so that hex case does not matter.
func normMember(m string) string {
	if isKey(m) {
		return strings.ToLower(m)
	}
	return m
}

// ByteSize is a number of bytes, written in settings as a number or as a
// string with an optional unit: B, KB, MB, GB, TB (powers of 1000) or
// KiB, MiB, GiB, TiB (powers of 1024).
type ByteSize int64

// UnmarshalJSON accepts a number or a string.
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	var n int64
	if err := json.Unmarshal(data, &n); err == nil {
		*b = ByteSize(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("size must be a number or a string like \"10GiB\": %s", data)
	}
	v, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = ByteSize(v)
	return nil
}

func parseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("size %q: not a non-negative number", s)
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
	}[strings.ToLower(unit)]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q", s, unit)
	}
	if f*mult > 1<<62 {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return int64(f * mult), nil
}

// Duration is a time.Duration written in settings as a string such as
// "90s", "30m" or "24h".
type Duration time.Duration

// UnmarshalJSON accepts a duration string.
func (d *Duration) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"30m\": %s", data)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string ("1h0m0s").
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}
