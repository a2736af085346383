package passwd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// Length limits for a new password. Argon2 takes any length; the upper
// bound only keeps a stray file piped to stdin from becoming a password.
const (
	MinLength = 8    // characters
	MaxLength = 1024 // bytes
)

// Errors from Check and ReadNew.
var (
	ErrTooShort = fmt.Errorf("password must have at least %d characters", MinLength)
	ErrTooLong  = fmt.Errorf("password must have at most %d bytes", MaxLength)
	ErrMismatch = errors.New("the two passwords differ")
)

// Check reports whether password is acceptable as a new password.
func Check(password string) error {
	switch {
	case utf8.RuneCountInString(password) < MinLength:
		return ErrTooShort
	case len(password) > MaxLength:
		return ErrTooLong
	}
	return nil
}

// ReadNew reads a new password for account from env.Stdin, never from the
// command line. On a terminal it prompts on env.Stderr, reads without echo
// and asks twice; otherwise it reads one line (scripts pipe the password
// in), with or without the final newline. The password must pass Check.
//
// When ctx ends first, ReadNew restores the terminal and returns ctx's
// error; the read it abandons ends when the process exits, which a
// subcommand does next.
func ReadNew(ctx context.Context, env sdk.CommandEnv, account string) (string, error) {
	if env.Stdin == nil {
		return "", errors.New("read password: no standard input")
	}
	var (
		pw  string
		err error
	)
	if f, ok := env.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		pw, err = readTerminal(ctx, int(f.Fd()), stderrOf(env), account)
	} else {
		pw, err = await(ctx, func() (string, error) { return readLine(env.Stdin) })
	}
	if err != nil {
		return "", err
	}
	if err := Check(pw); err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	return pw, nil
}

func stderrOf(env sdk.CommandEnv) io.Writer {
	if env.Stderr == nil {
		return io.Discard
	}
	return env.Stderr
}

// readTerminal prompts twice and reads without echo.
func readTerminal(ctx context.Context, fd int, prompts io.Writer, account string) (string, error) {
	state, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	ask := func(prompt string) (string, error) {
		fmt.Fprint(prompts, prompt)
		pw, err := await(ctx, func() (string, error) {
			b, err := term.ReadPassword(fd)
			return string(b), err
		})
		fmt.Fprintln(prompts)
		if err != nil {
			term.Restore(fd, state) // ReadPassword was abandoned with echo off
			return "", fmt.Errorf("read password: %w", err)
		}
		return pw, nil
	}
	who := ""
	if account != "" {
		who = " for " + account
	}
	p1, err := ask("New password" + who + ": ")
	if err != nil {
		return "", err
	}
	if err := Check(p1); err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	p2, err := ask("Repeat the password: ")
	if err != nil {
		return "", err
	}
	if p1 != p2 {
		return "", fmt.Errorf("read password: %w", ErrMismatch)
	}
	return p1, nil
}

// readLine reads the first line of r, at most MaxLength bytes and a
// line ending, without the line ending.
func readLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, MaxLength+3)).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", errors.New("read password: standard input is empty (pipe the password in as one line)")
		}
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimSuffix(line, "\n")
	return strings.TrimSuffix(line, "\r"), nil
}

// await runs read, which may block, until it returns or ctx ends.
func await(ctx context.Context, read func() (string, error)) (string, error) {
	type result struct {
		s   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := read()
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		return r.s, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
