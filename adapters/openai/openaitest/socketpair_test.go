package openaitest

import (
	"io"
	"net"
	"testing"
)

func TestSocketPairs(t *testing.T) {
	for _, tc := range []struct {
		name string
		pair func() (net.Conn, net.Conn, error)
	}{
		{"socketPair", socketPair},
		{"loopbackPair", loopbackPair},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, err := tc.pair()
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			checkFlow(t, a, b, "ping")
			checkFlow(t, b, a, "pong")
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			if n, err := b.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Errorf("read after peer close = %d, %v; want 0, EOF", n, err)
			}
		})
	}
}

// checkFlow writes msg on from and reads it back on to.
func checkFlow(t *testing.T, from, to net.Conn, msg string) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := io.WriteString(from, msg)
		errc <- err
	}()
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(to, buf); err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if string(buf) != msg {
		t.Errorf("got %q, want %q", buf, msg)
	}
}
