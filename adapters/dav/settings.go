package dav

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mycelium-go/mycelium/adapters/dav/server"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Settings is the [plugin.settings] table of the dav plugin.
type Settings struct {
	// Links maps overlay public keys (64 hex digits) to local account
	// names: a peer with a linked key uses that account's calendars and
	// address books instead of its own key principal. Default: none.
	Links map[string]string `json:"links"`
	// DefaultCalendar is the URL segment of the calendar every new
	// principal gets. Default "personal"; "default" is refused because
	// iOS hides a calendar of that name.
	DefaultCalendar string `json:"default_calendar"`
	// DefaultCalendarName is its display name. Default "Personal".
	DefaultCalendarName string `json:"default_calendar_name"`
	// DefaultCalendarColor is its color (#RRGGBB or #RRGGBBAA, Apple
	// calendar-color). Default "#3A87ADFF"; "" for none.
	DefaultCalendarColor *string `json:"default_calendar_color"`
	// DefaultAddressBook is the URL segment of the address book every new
	// principal gets. Default "contacts".
	DefaultAddressBook string `json:"default_addressbook"`
	// DefaultAddressBookName is its display name. Default "Contacts".
	DefaultAddressBookName string `json:"default_addressbook_name"`
	// MaxResourceSize bounds one event or vCard in bytes. Default 10 MiB.
	MaxResourceSize int64 `json:"max_resource_size"`
	// TombstoneDays is how long deleted members are remembered for
	// sync-collection; older sync tokens get 403 valid-sync-token and
	// clients resynchronize. Default 400.
	TombstoneDays int `json:"tombstone_days"`
	// Realm is the HTTP Basic realm shown to loopback clients. Default
	// "Mycelium DAV".
	Realm string `json:"realm"`
}

// DefaultSettings returns the settings used for keys not given.
func DefaultSettings() Settings {
	color := "#3A87ADFF"
	return Settings{
		DefaultCalendar:        "personal",
		DefaultCalendarName:    "Personal",
		DefaultCalendarColor:   &color,
		DefaultAddressBook:     "contacts",
		DefaultAddressBookName: "Contacts",
		MaxResourceSize:        10 << 20,
		TombstoneDays:          400,
		Realm:                  "Mycelium DAV",
	}
}

// ParseSettings decodes the plugin's JSON settings over the defaults,
// rejecting unknown keys, and validates them.
func ParseSettings(raw json.RawMessage) (Settings, error) {
	s := DefaultSettings()
	if len(bytes.TrimSpace(raw)) > 0 && string(bytes.TrimSpace(raw)) != "null" {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return Settings{}, fmt.Errorf("dav: settings: %w", err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return Settings{}, errors.New("dav: settings: trailing data after the JSON object")
		}
	}
	if err := s.Validate(); err != nil {
		return Settings{}, err
	}
	return s, nil
}

// Validate checks the settings.
func (s Settings) Validate() error {
	if _, err := s.links(); err != nil {
		return err
	}
	for _, n := range []struct{ key, v string }{{"default_calendar", s.DefaultCalendar}, {"default_addressbook", s.DefaultAddressBook}} {
		if n.v == "" || strings.ContainsAny(n.v, "/\\") || strings.HasPrefix(n.v, ".") || len(n.v) > 128 {
			return fmt.Errorf("dav: settings: %s %q is not a valid collection name", n.key, n.v)
		}
	}
	if strings.EqualFold(s.DefaultCalendar, "default") {
		return errors.New(`dav: settings: default_calendar must not be "default": iOS hides calendars with that name`)
	}
	if c := s.color(); c != "" && !validColor(c) {
		return fmt.Errorf("dav: settings: default_calendar_color %q must be #RRGGBB or #RRGGBBAA", c)
	}
	if s.MaxResourceSize < 1024 || s.MaxResourceSize > 1<<30 {
		return fmt.Errorf("dav: settings: max_resource_size %d must be between 1 KiB and 1 GiB", s.MaxResourceSize)
	}
	if s.TombstoneDays < 1 {
		return fmt.Errorf("dav: settings: tombstone_days %d must be at least 1", s.TombstoneDays)
	}
	return nil
}

func (s Settings) color() string {
	if s.DefaultCalendarColor == nil {
		return ""
	}
	return *s.DefaultCalendarColor
}

func validColor(c string) bool {
	if len(c) != 7 && len(c) != 9 || c[0] != '#' {
		return false
	}
	for _, r := range c[1:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// links parses Links into keys.
func (s Settings) links() (map[sdk.PublicKey]string, error) {
	out := make(map[sdk.PublicKey]string, len(s.Links))
	for k, name := range s.Links {
		key, err := sdk.ParsePublicKey(strings.ToLower(k))
		if err != nil {
			return nil, fmt.Errorf("dav: settings: links: %w", err)
		}
		if !server.ValidAccountName(name) {
			return nil, fmt.Errorf("dav: settings: links: %q is not a valid account name", name)
		}
		out[key] = name
	}
	return out, nil
}
