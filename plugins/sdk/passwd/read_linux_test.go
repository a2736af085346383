package passwd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// pty is a pseudo-terminal: ReadNew reads the terminal side, the test
// types on the controlling side and sees everything the terminal echoes.
type pty struct {
	t        *testing.T
	control  *os.File
	terminal *os.File
	echoed   *bufio.Reader
}

func openPTY(t *testing.T) *pty {
	t.Helper()
	control, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	fd := int(control.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	terminal, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { terminal.Close(); control.Close() })
	return &pty{t: t, control: control, terminal: terminal, echoed: bufio.NewReader(control)}
}

func (p *pty) echoOn() bool {
	tio, err := unix.IoctlGetTermios(int(p.terminal.Fd()), unix.TCGETS)
	if err != nil {
		p.t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0
}

// typeLine waits for prompt number n (from 1) and for the terminal to
// read without echo, then types line. Typing earlier would echo it: the
// line discipline echoes on input.
func (p *pty) typeLine(stderr *prompts, n int, line string) {
	p.t.Helper()
	waitFor(p.t, fmt.Sprintf("prompt %d", n), func() bool { return strings.Count(stderr.String(), ": ") == n })
	waitFor(p.t, "echo off", func() bool { return !p.echoOn() })
	if _, err := p.control.WriteString(line + "\n"); err != nil {
		p.t.Fatal(err)
	}
}

// echo returns what the terminal displayed so far: it writes a marker to
// the terminal side and reads the controlling side up to it.
func (p *pty) echo() string {
	p.t.Helper()
	const marker = "<end-of-echo>"
	if _, err := p.terminal.WriteString(marker + "\n"); err != nil {
		p.t.Fatal(err)
	}
	var b strings.Builder
	for !strings.Contains(b.String(), marker) {
		line, err := p.echoed.ReadString('\n')
		if err != nil {
			p.t.Fatalf("read echo: %v", err)
		}
		b.WriteString(line)
	}
	s, _, _ := strings.Cut(b.String(), marker)
	return s
}

// prompts is a concurrency-safe stderr.
type prompts struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *prompts) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *prompts) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

type readResult struct {
	pw  string
	err error
}

func startReadNew(ctx context.Context, p *pty, stderr *prompts) chan readResult {
	done := make(chan readResult, 1)
	go func() {
		pw, err := ReadNew(ctx, sdk.CommandEnv{Stdin: p.terminal, Stderr: stderr}, "alice")
		done <- readResult{pw, err}
	}()
	return done
}

func TestReadNewTerminal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		typed   []string
		want    string
		wantErr error
	}{
		{"twice the same", []string{"correct horse", "correct horse"}, "correct horse", nil},
		{"differ", []string{"correct horse", "correct house"}, "", ErrMismatch},
		{"too short", []string{"short"}, "", ErrTooShort},
		{"empty", []string{""}, "", ErrTooShort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := openPTY(t)
			var stderr prompts
			done := startReadNew(t.Context(), p, &stderr)
			for i, line := range tc.typed {
				p.typeLine(&stderr, i+1, line)
			}
			r := <-done
			if r.pw != tc.want || !errors.Is(r.err, tc.wantErr) {
				t.Errorf("ReadNew = %q, %v; want %q, %v", r.pw, r.err, tc.want, tc.wantErr)
			}
			if echo := p.echo(); strings.TrimSpace(echo) != "" {
				t.Errorf("the terminal displayed %q while reading passwords", echo)
			}
			wantPrompts := "New password for alice: \n"
			if len(tc.typed) == 2 {
				wantPrompts += "Repeat the password: \n"
			}
			if got := stderr.String(); got != wantPrompts {
				t.Errorf("prompts %q, want %q", got, wantPrompts)
			}
			if !p.echoOn() {
				t.Error("echo is still off after ReadNew")
			}
		})
	}
}

// TestReadNewTerminalCancel: Ctrl-C (the command's ctx ending) at the
// prompt returns at once and turns echo back on.
func TestReadNewTerminalCancel(t *testing.T) {
	p := openPTY(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := startReadNew(ctx, p, &prompts{})
	waitFor(t, "echo off", func() bool { return !p.echoOn() })
	cancel()
	select {
	case r := <-done:
		if !errors.Is(r.err, context.Canceled) {
			t.Errorf("ReadNew after cancel = %q, %v; want Canceled", r.pw, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadNew did not return after its context ended")
	}
	if !p.echoOn() {
		t.Error("echo is still off after a cancelled ReadNew")
	}
	// Closing the terminal in Cleanup ends the abandoned read.
}
