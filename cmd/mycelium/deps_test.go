package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules enforces the dependency direction of
// docs/architecture.md with `go list -deps`:
//
//   - core never imports gateway, adapters or plugins;
//   - plugins/sdk imports nothing else of ours;
//   - adapters import only plugins/sdk of ours, and no other adapter;
//   - gateway never imports adapters;
//   - plugins/<name> imports plugins/sdk and adapters/<name> only;
//   - cmd never imports adapters.
func TestImportRules(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the whole module")
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "github.com/mycelium-go/mycelium/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/mycelium-go/mycelium/"
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, ok := strings.CutPrefix(fields[0], mod)
		if !ok {
			continue
		}
		checked++
		for _, d := range fields[1:] {
			dep, ok := strings.CutPrefix(d, mod)
			if !ok {
				continue
			}
			if msg := violation(pkg, dep); msg != "" {
				t.Errorf("%s imports %s: %s", pkg, dep, msg)
			}
		}
	}
	if checked == 0 {
		t.Fatal("go list reported no packages of this module")
	}
}

// violation returns why pkg may not depend on dep, or "".
func violation(pkg, dep string) string {
	top := func(p string) string { s, _, _ := strings.Cut(p, "/"); return s }
	under := func(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
	switch {
	case under(pkg, "core"):
		if top(dep) != "core" {
			return "core may import only core"
		}
	case under(pkg, "plugins/sdk"):
		if !under(dep, "plugins/sdk") {
			return "plugins/sdk imports nothing else of ours"
		}
	case under(pkg, "adapters"):
		name := strings.Split(pkg, "/")[1]
		if !under(dep, "plugins/sdk") && !under(dep, "adapters/"+name) {
			return "adapters import only plugins/sdk and their own packages"
		}
	case under(pkg, "plugins"):
		name := strings.Split(pkg, "/")[1]
		if !under(dep, "plugins/sdk") && !under(dep, "adapters/"+name) && !under(dep, "plugins/"+name) {
			return "plugins/<name> imports only plugins/sdk and adapters/<name>"
		}
	case under(pkg, "gateway"):
		if top(dep) == "adapters" || (top(dep) == "plugins" && !under(dep, "plugins/sdk")) {
			return "gateway reaches adapters only across the process boundary"
		}
	case under(pkg, "cmd"):
		if top(dep) == "adapters" || (top(dep) == "plugins" && !under(dep, "plugins/sdk")) {
			return "cmd never imports adapters"
		}
	}
	return ""
}

func TestViolation(t *testing.T) {
	tests := []struct {
		pkg, dep string
		bad      bool
	}{
		{"core/node", "core/router", false},
		{"core/node", "gateway", true},
		{"core/api", "plugins/sdk", true},
		{"plugins/sdk", "core/identity", true},
		{"plugins/sdk/sdktest", "plugins/sdk", false},
		{"adapters/mail", "plugins/sdk", false},
		{"adapters/mail/imap", "adapters/mail/store", false},
		{"adapters/mail", "adapters/webdav", true},
		{"adapters/mail", "core/identity", true},
		{"plugins/mail", "adapters/mail", false},
		{"plugins/mail", "adapters/dav", true},
		{"gateway", "core/node", false},
		{"gateway/acl", "adapters/mail", true},
		{"gateway", "plugins/sdk", false},
		{"cmd/mycelium", "gateway", false},
		{"cmd/mycelium", "adapters/openai", true},
	}
	for _, tt := range tests {
		if got := violation(tt.pkg, tt.dep) != ""; got != tt.bad {
			t.Errorf("violation(%q, %q) = %v, want %v", tt.pkg, tt.dep, got, tt.bad)
		}
	}
}
