package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/mycelium-go/mycelium/plugins/sdk/sdktest"
)

// TestWhoamiInProcess is what an adapter's own tests look like: sdktest
// runs the plugin in-process and dials it as chosen peers.
func TestWhoamiInProcess(t *testing.T) {
	w := &whoami{log: slog.New(slog.DiscardHandler)}
	h := sdktest.Start(t, w, sdktest.Options{Settings: map[string]string{"prefix": "> "}})
	for _, tc := range []struct {
		name string
		dial func() (io.ReadCloser, error)
		want string
	}{
		{"overlay", func() (io.ReadCloser, error) { return h.Dial(context.Background(), "whoami", sdktest.Peer(3)) },
			fmt.Sprintf("> key=%s addr=[%s]:40003 origin=overlay\n", sdktest.Key(3), sdktest.Addr(3))},
		{"loopback", func() (io.ReadCloser, error) {
			return h.Dial(context.Background(), "whoami", sdktest.LoopbackPeer())
		}, "> key=none addr=127.0.0.1:50000 origin=loopback\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.dial()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got, err := io.ReadAll(c)
			if err != nil || string(got) != tc.want {
				t.Errorf("answer = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestWhoamiSettings(t *testing.T) {
	for in, ok := range map[string]bool{
		``: true, `{}`: true, `{"prefix":"x"}`: true,
		`{"prefx":"x"}`: false, `[1]`: false, `{"prefix":"` + string(make([]byte, 65)) + `"}`: false,
	} {
		if _, err := parseSettings([]byte(in)); (err == nil) != ok {
			t.Errorf("parseSettings(%q) = %v, want ok=%v", in, err, ok)
		}
	}
	_, err := sdktest.New(t, &whoami{log: slog.New(slog.DiscardHandler)}, sdktest.Options{Settings: map[string]int{"nope": 1}})
	if err == nil {
		t.Error("Configure with an unknown setting succeeded")
	}
}
