package passwd

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		pw   string
		want error
	}{
		{"", ErrTooShort},
		{"1234567", ErrTooShort},
		{"12345678", nil},
		{"äöüßäöü", ErrTooShort}, // 7 characters, 14 bytes
		{"äöüßäöüß", nil},
		{strings.Repeat("a", MaxLength), nil},
		{strings.Repeat("a", MaxLength+1), ErrTooLong},
	} {
		if err := Check(tc.pw); !errors.Is(err, tc.want) {
			t.Errorf("Check(%q) = %v, want %v", tc.pw, err, tc.want)
		}
	}
}

func TestReadNewPiped(t *testing.T) {
	long := strings.Repeat("p", MaxLength)
	for _, tc := range []struct {
		in      string
		want    string
		wantErr error // nil: any error when want is ""
	}{
		{"correct horse\n", "correct horse", nil},
		{"correct horse", "correct horse", nil},
		{"correct horse\r\n", "correct horse", nil},
		{" spaces kept \n", " spaces kept ", nil},
		{"first line\nsecond line\n", "first line", nil},
		{long + "\r\n", long, nil},
		{long + "x\n", "", ErrTooLong},
		{long + long, "", ErrTooLong},
		{"short\n", "", ErrTooShort},
		{"\n", "", ErrTooShort},
		{"", "", nil},
	} {
		var stderr strings.Builder
		env := sdk.CommandEnv{Stdin: strings.NewReader(tc.in), Stdout: io.Discard, Stderr: &stderr}
		got, err := ReadNew(t.Context(), env, "alice")
		switch {
		case tc.want != "" && (got != tc.want || err != nil):
			t.Errorf("ReadNew(%.20q) = %.20q, %v; want %.20q", tc.in, got, err, tc.want)
		case tc.want == "" && (err == nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr)):
			t.Errorf("ReadNew(%.20q) = %.20q, %v; want error %v", tc.in, got, err, tc.wantErr)
		}
		if stderr.Len() != 0 {
			t.Errorf("ReadNew(%.20q) prompted %q with piped input", tc.in, stderr.String())
		}
	}
}

func TestReadNewNoStdin(t *testing.T) {
	if pw, err := ReadNew(t.Context(), sdk.CommandEnv{}, "alice"); err == nil {
		t.Errorf("ReadNew without stdin = %q", pw)
	}
}

// TestReadNewPipeFile reads from an *os.File that is not a terminal, and
// gives up on a silent pipe when ctx ends.
func TestReadNewPipeFile(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w.WriteString("from a pipe\n")
	if pw, err := ReadNew(t.Context(), sdk.CommandEnv{Stdin: r}, "alice"); pw != "from a pipe" || err != nil {
		t.Errorf("ReadNew(pipe) = %q, %v", pw, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if pw, err := ReadNew(ctx, sdk.CommandEnv{Stdin: r}, "alice"); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadNew(silent pipe, cancelled) = %q, %v; want Canceled", pw, err)
	}
	w.Close() // ends the abandoned read
}
