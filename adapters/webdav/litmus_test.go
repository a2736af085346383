package webdav

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// litmusTotal is the number of tests in litmus 0.13's five suites
// (basic 16, copymove 13, props 30, locks 41, http 4).
const litmusTotal = 104

var (
	litmusSuite   = regexp.MustCompile("-> running `([a-z]+)'")
	litmusResult  = regexp.MustCompile(`\b([0-9]+)\. ([A-Za-z0-9_]+)\.* (pass|FAIL|SKIPPED)\b(.*)`)
	litmusSummary = regexp.MustCompile("summary for `[a-z]+': of ([0-9]+) tests run: ([0-9]+) passed, ([0-9]+) failed")
)

// litmusReport is what a litmus run said.
type litmusReport struct {
	passed, failed, run int
	bad                 []string // "suite/test: FAIL (...)", skips and warnings
}

func parseLitmus(out string) litmusReport {
	var r litmusReport
	suite := ""
	for _, line := range strings.Split(strings.ReplaceAll(out, "\r", "\n"), "\n") {
		if m := litmusSuite.FindStringSubmatch(line); m != nil {
			suite = m[1]
		}
		if m := litmusResult.FindStringSubmatch(line); m != nil && m[3] != "pass" {
			r.bad = append(r.bad, suite+"/"+m[2]+": "+m[3]+m[4])
		}
		if strings.Contains(line, "WARNING") {
			r.bad = append(r.bad, suite+": "+strings.TrimSpace(line))
		}
		if m := litmusSummary.FindStringSubmatch(line); m != nil {
			run, _ := strconv.Atoi(m[1])
			p, _ := strconv.Atoi(m[2])
			f, _ := strconv.Atoi(m[3])
			r.run, r.passed, r.failed = r.run+run, r.passed+p, r.failed+f
		}
	}
	return r
}

// TestLitmus runs all five litmus suites against the plain-HTTP service
// with a loopback identity and Basic auth, and requires every test to
// pass without warnings.
func TestLitmus(t *testing.T) {
	bin, err := exec.LookPath("litmus")
	if err != nil {
		t.Skip("litmus not installed (apt-get install litmus)")
	}
	if testing.Short() {
		t.Skip("litmus suite skipped in -short mode")
	}
	ta := newTestAdapter(t, "", "", nil)
	ta.addUser("litmus", "litmus-password")
	url := ta.serve(ServiceHTTP, sdk.OriginLoopback, sdk.PublicKey{})
	cmd := exec.Command(bin, "-k", url+"/", "litmus", "litmus-password")
	cmd.Dir = t.TempDir() // litmus writes debug.log here
	cmd.Env = append(cmd.Environ(), "TESTS=basic copymove props locks http")
	outb, err := cmd.CombinedOutput()
	out := string(outb)
	r := parseLitmus(out)
	if err != nil || r.failed > 0 || len(r.bad) > 0 || r.passed != litmusTotal {
		t.Errorf("litmus: %d of %d passed, %d failed (exit: %v); not clean:\n  %s",
			r.passed, litmusTotal, r.failed, err, strings.Join(r.bad, "\n  "))
	}
	if testing.Verbose() {
		t.Log(out)
	}
}

func TestParseLitmus(t *testing.T) {
	out := "-> running `props':\n" +
		" 2. propfind_invalid......  2. propfind_invalid...... pass\n" +
		" 3. propfind_invalid2.....  3. propfind_invalid2..... FAIL (got 207)\n" +
		" 7. propget...............  7. propget............... SKIPPED\n" +
		"18. cond_put_corrupt_token WARNING: PUT failed with 412 not 423\n" +
		"<- summary for `props': of 14 tests run: 10 passed, 4 failed. 71.4%\n"
	r := parseLitmus(out)
	if r.passed != 10 || r.failed != 4 || r.run != 14 || len(r.bad) != 3 {
		t.Errorf("parseLitmus = %+v", r)
	}
}
