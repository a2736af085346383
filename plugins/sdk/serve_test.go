package sdk

import (
	"os"
	"testing"
	"time"
)

func TestWatchLifeline(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	gone := make(chan struct{})
	go watchLifeline(r, func() { close(gone) })
	if _, err := w.Write([]byte("ignored")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gone:
		t.Fatal("lifeline reported the host gone while it holds the write end")
	case <-time.After(50 * time.Millisecond):
	}
	_ = w.Close() // what the kernel does when the host dies
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("lifeline did not notice the closed write end")
	}
}
