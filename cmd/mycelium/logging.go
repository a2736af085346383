package main

import (
	"io"
	"log/slog"
	"os"
)

// newLogger builds the process logger from the global flags. compact,
// plain and logfmt print key=value lines; json prints one JSON object per
// line.
func (g *Globals) newLogger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	switch {
	case g.Debug:
		level = slog.LevelDebug
	case g.Silent:
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if g.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	if g.LogFormat == "compact" || g.LogFormat == "plain" {
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.String(slog.TimeKey, a.Value.Time().Format("15:04:05.000"))
			}
			return a
		}
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func stderrLogger(g *Globals) *slog.Logger { return g.newLogger(os.Stderr) }

// cliLogger is the logger of client commands: warnings and errors only,
// unless --debug asks for more.
func (g *Globals) cliLogger() *slog.Logger {
	if g.Debug {
		return g.newLogger(os.Stderr)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
