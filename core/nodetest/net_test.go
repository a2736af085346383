package nodetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLineOfFive(t *testing.T) {
	nt := New(t, 5, Options{})
	nt.Line()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := nt.WaitLinks(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]int{{0, 4}, {4, 0}, {1, 3}, {3, 1}, {2, 0}} {
		start := time.Now()
		if err := nt.Exchange(ctx, pair[0], pair[1], fmt.Sprintf("hello %d->%d", pair[0], pair[1])); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d -> %d delivered after %v", pair[0], pair[1], time.Since(start))
	}
}
