package layout

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// Bare make prints the help: every target a person runs, with one line
// saying what it does.
func TestMakePrintsTheHelp(t *testing.T) {
	out, err := exec.Command("make", "-s", "-C", "../..").CombinedOutput()
	if err != nil {
		t.Fatalf("make: %v\n%s", err, out)
	}
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	targets := regexp.MustCompile(`(?m)^([a-z][a-z-]*):`).FindAllSubmatch(mk, -1)
	if len(targets) < 10 {
		t.Fatalf("found %d targets in the Makefile", len(targets))
	}
	for _, m := range targets {
		line := regexp.MustCompile(`(?m)^  make ` + string(m[1]) + ` +\S.*$`).Find(out)
		if line == nil {
			t.Errorf("make's help has no line for make %s:\n%s", m[1], out)
		}
	}
	if !strings.Contains(string(out), "make local") || !strings.Contains(string(out), "make test") {
		t.Errorf("make's help lacks the two commands:\n%s", out)
	}
}
