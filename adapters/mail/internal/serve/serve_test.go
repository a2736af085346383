package serve

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
)

func TestChanListener(t *testing.T) {
	l := NewChanListener(&net.TCPAddr{Port: 143})
	a, b := net.Pipe()
	defer b.Close()
	go l.Push(a)
	c, err := l.Accept()
	if err != nil || c != a {
		t.Fatalf("Accept = %v, %v; want the pushed conn", c, err)
	}
	if l.Addr().String() != ":143" {
		t.Errorf("Addr = %v", l.Addr())
	}
	l.Close()
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
	// Push after Close closes the connection instead of blocking.
	x, y := net.Pipe()
	l.Push(x)
	if _, err := y.Read(make([]byte, 1)); err == nil {
		t.Error("conn pushed after Close is still open")
	}
}

func TestLibraryLogLevels(t *testing.T) {
	var buf bytes.Buffer
	l := LibraryLog{Log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), What: "imap server"}
	l.Printf("read: %v", "connection reset by peer")
	l.Println("handler panicked:", 42)
	out := buf.String()
	if !strings.Contains(out, `level=DEBUG msg="imap server" detail="read: connection reset by peer"`) {
		t.Errorf("teardown noise not at debug level:\n%s", out)
	}
	if !strings.Contains(out, `level=WARN msg="imap server" detail="handler panicked:42"`) {
		t.Errorf("library error not a warning:\n%s", out)
	}
}
