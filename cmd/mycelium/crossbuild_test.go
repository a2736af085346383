package main

import (
	"os"
	"os/exec"
	"testing"
)

// TestCrossBuild checks that every package of the module compiles for
// the other platforms people run the node on: macOS (Intel and Apple
// silicon) and Windows.
//
// On macOS the node and its plugins run, and developers run the tests:
// `go vet` type-checks package and test code there. On Windows plugins
// cannot be launched and some tests need Linux or unix, so only package
// code is compiled: `go list -export` compiles every package, main
// packages included, without linking. Both are cached, so with a warm
// build cache this takes about a second.
func TestCrossBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the module for darwin and windows")
	}
	for _, tc := range []struct {
		goos, goarch string
		args         []string
	}{
		{"darwin", "amd64", []string{"vet", "github.com/mycelium-go/mycelium/..."}},
		{"darwin", "arm64", []string{"vet", "github.com/mycelium-go/mycelium/..."}},
		{"windows", "amd64", []string{"list", "-export", "-f", "{{.ImportPath}}", "github.com/mycelium-go/mycelium/..."}},
	} {
		t.Run(tc.goos+"_"+tc.goarch, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command("go", tc.args...)
			cmd.Env = append(os.Environ(), "GOOS="+tc.goos, "GOARCH="+tc.goarch, "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("GOOS=%s GOARCH=%s go %v: %v\n%s", tc.goos, tc.goarch, tc.args[0], err, out)
			}
		})
	}
}
