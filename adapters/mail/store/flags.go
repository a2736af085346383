package store

import (
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"
)

var systemFlags = map[string]imap.Flag{
	`\seen`:     imap.FlagSeen,
	`\answered`: imap.FlagAnswered,
	`\flagged`:  imap.FlagFlagged,
	`\deleted`:  imap.FlagDeleted,
	`\draft`:    imap.FlagDraft,
}

// CanonicalFlag gives system flags their standard spelling; keywords keep
// theirs (they compare case-insensitively).
func CanonicalFlag(f imap.Flag) imap.Flag {
	if c, ok := systemFlags[strings.ToLower(string(f))]; ok {
		return c
	}
	return f
}

// validFlag rejects flags that cannot be stored: \Recent and \* are not
// settable, and a space would break the stored list.
func validFlag(f imap.Flag) bool {
	s := string(f)
	if s == "" || strings.ContainsAny(s, " \t\r\n()") {
		return false
	}
	if strings.HasPrefix(s, `\`) {
		_, ok := systemFlags[strings.ToLower(s)]
		return ok
	}
	return true
}

// FlagSet is a set of flags keyed case-insensitively.
type FlagSet map[string]imap.Flag

// ParseFlags decodes the stored space-separated form.
func ParseFlags(s string) FlagSet {
	fs := make(FlagSet)
	for _, f := range strings.Fields(s) {
		fs.Add(imap.Flag(f))
	}
	return fs
}

// Add adds f.
func (fs FlagSet) Add(f imap.Flag) {
	if !validFlag(f) {
		return
	}
	k := strings.ToLower(string(f))
	if _, ok := fs[k]; !ok { // keep the first spelling of a keyword
		fs[k] = CanonicalFlag(f)
	}
}

// Del removes f.
func (fs FlagSet) Del(f imap.Flag) { delete(fs, strings.ToLower(string(f))) }

// Has reports whether f is set.
func (fs FlagSet) Has(f imap.Flag) bool {
	_, ok := fs[strings.ToLower(string(f))]
	return ok
}

// List returns the flags sorted.
func (fs FlagSet) List() []imap.Flag {
	out := make([]imap.Flag, 0, len(fs))
	for _, f := range fs {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// String encodes the set for storage.
func (fs FlagSet) String() string {
	l := fs.List()
	parts := make([]string, len(l))
	for i, f := range l {
		parts[i] = string(f)
	}
	return strings.Join(parts, " ")
}

// Apply performs a STORE operation and reports whether the set changed.
func (fs FlagSet) Apply(op imap.StoreFlagsOp, flags []imap.Flag) bool {
	before := fs.String()
	switch op {
	case imap.StoreFlagsSet:
		for k := range fs {
			delete(fs, k)
		}
		fallthrough
	case imap.StoreFlagsAdd:
		for _, f := range flags {
			fs.Add(f)
		}
	case imap.StoreFlagsDel:
		for _, f := range flags {
			fs.Del(f)
		}
	}
	return fs.String() != before
}
