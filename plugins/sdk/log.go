package sdk

import (
	"context"
	"io"
	"log"
	"log/slog"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// stderr is the process's real standard error, saved before go-plugin's
// Serve replaces os.Stderr with a pipe whose output the host drops.
var stderr = os.Stderr

// LevelTrace is the slog level of hclog's TRACE.
const LevelTrace = slog.LevelDebug - 4

// hclogTimeFormat is the only @timestamp format go-plugin's host parses.
const hclogTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// NewLogHandler returns a slog JSON handler whose lines go-plugin's host
// understands: the level, message and time keys are "@level" (one of
// trace, debug, info, warn, error), "@message" and "@timestamp" in the one
// format the host parses. The host re-emits each line at its level with
// the other keys as attributes. opts may be nil.
func NewLogHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	var o slog.HandlerOptions
	if opts != nil {
		o = *opts
	}
	user := o.ReplaceAttr
	o.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 {
			switch a.Key {
			case slog.TimeKey:
				if a.Value.Kind() == slog.KindTime {
					return slog.String("@timestamp", a.Value.Time().Format(hclogTimeFormat))
				}
			case slog.LevelKey:
				if l, ok := a.Value.Any().(slog.Level); ok {
					return slog.String("@level", hclogLevelName(l))
				}
			case slog.MessageKey:
				return slog.Attr{Key: "@message", Value: a.Value}
			}
		}
		if user != nil {
			return user(groups, a)
		}
		return a
	}
	return slog.NewJSONHandler(w, &o)
}

func hclogLevelName(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	default:
		return "error"
	}
}

// NewLogger returns the logger a plugin should use. Under go-plugin it
// writes NewLogHandler lines to the real standard error, at the level the
// host put in EnvLogLevel (default info); when the binary runs as a
// subcommand it writes plain text to standard error. Never log to
// standard output: it carries go-plugin's handshake.
func NewLogger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: levelFromEnv()}
	if startedByHost() {
		return slog.New(NewLogHandler(stderr, opts))
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}

func levelFromEnv() slog.Level {
	s := strings.TrimSpace(os.Getenv(EnvLogLevel))
	if strings.EqualFold(s, "trace") {
		return LevelTrace
	}
	var l slog.Level
	if s == "" || l.UnmarshalText([]byte(s)) != nil {
		return slog.LevelInfo
	}
	return l
}

// startedByHost reports whether go-plugin started this process.
func startedByHost() bool { return os.Getenv(Handshake.MagicCookieKey) != "" }

// NewHCLogger adapts l to go-hclog's Logger, which go-plugin takes on both
// sides: hclog levels map to slog levels (trace is LevelTrace), a logger's
// name goes into a "logger" attribute. SetLevel has no effect: l's handler
// decides.
func NewHCLogger(l *slog.Logger) hclog.Logger {
	return &hclogAdapter{l: l}
}

type hclogAdapter struct {
	l       *slog.Logger
	name    string
	implied []any
}

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return LevelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off {
		return
	}
	lvl := slogLevel(level)
	ctx := context.Background()
	if !a.l.Enabled(ctx, lvl) {
		return
	}
	all := make([]any, 0, len(a.implied)+len(args)+2)
	all = append(all, a.implied...)
	all = append(all, args...)
	if a.name != "" {
		all = append(all, "logger", a.name)
	}
	a.l.Log(ctx, lvl, msg, all...)
}

func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *hclogAdapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *hclogAdapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

func (a *hclogAdapter) enabled(l hclog.Level) bool {
	return a.l.Enabled(context.Background(), slogLevel(l))
}

func (a *hclogAdapter) IsTrace() bool { return a.enabled(hclog.Trace) }
func (a *hclogAdapter) IsDebug() bool { return a.enabled(hclog.Debug) }
func (a *hclogAdapter) IsInfo() bool  { return a.enabled(hclog.Info) }
func (a *hclogAdapter) IsWarn() bool  { return a.enabled(hclog.Warn) }
func (a *hclogAdapter) IsError() bool { return a.enabled(hclog.Error) }

func (a *hclogAdapter) ImpliedArgs() []any { return a.implied }

func (a *hclogAdapter) With(args ...any) hclog.Logger {
	c := *a
	c.implied = append(append([]any(nil), a.implied...), args...)
	return &c
}

func (a *hclogAdapter) Name() string { return a.name }

func (a *hclogAdapter) Named(name string) hclog.Logger {
	c := *a
	if c.name != "" {
		c.name += "." + name
	} else {
		c.name = name
	}
	return &c
}

func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	c := *a
	c.name = name
	return &c
}

func (a *hclogAdapter) SetLevel(hclog.Level) {}

func (a *hclogAdapter) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if a.enabled(l) {
			return l
		}
	}
	return hclog.Off
}

func (a *hclogAdapter) StandardLogger(*hclog.StandardLoggerOptions) *log.Logger {
	return slog.NewLogLogger(a.l.Handler(), slog.LevelInfo)
}

func (a *hclogAdapter) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	return a.StandardLogger(opts).Writer()
}

var _ hclog.Logger = (*hclogAdapter)(nil)
