package client

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// handler, checker and stream must end when its test does.
func TestMain(m *testing.M) {
	// net/http lingers up to 500ms on a connection it closes after an
	// error reply (closeWriteAndWait); that goroutine ends by itself.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("net/http.(*conn).closeWriteAndWait"))
}
