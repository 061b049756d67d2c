package layout

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
)

// layoutSection is the packages CONTRIBUTING.md's layout section names,
// each with what it says of it: the lines of the code block under
// "## Layout" that start with a package of the module (lines that start
// with a space go on the line above).
func layoutSection(t *testing.T) (names []string, says map[string]string) {
	t.Helper()
	data, err := os.ReadFile("../../CONTRIBUTING.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## Layout\n")
	_, block, ok2 := strings.Cut(section, "```\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("CONTRIBUTING.md has no code block under ## Layout")
	}
	says = map[string]string{}
	for _, line := range strings.Split(block, "\n") {
		name, rest, _ := strings.Cut(line, " ")
		if !ours(name) {
			continue
		}
		if _, dup := says[name]; dup {
			t.Errorf("CONTRIBUTING.md's layout lists %s twice", name)
		}
		names = append(names, name)
		says[name] = strings.TrimSpace(rest)
	}
	return names, says
}

// CONTRIBUTING.md's layout lists every package of `go list ./...`, each once with
// what it provides, and no package that does not exist.
func TestLayoutListsEveryPackage(t *testing.T) {
	pkgs := packages(t)
	names, says := layoutSection(t)
	for _, p := range slices.Sorted(maps.Keys(pkgs)) {
		if _, ok := says[p]; !ok {
			t.Errorf("CONTRIBUTING.md's layout does not list %s: add a line saying what it provides", p)
		}
	}
	for _, name := range names {
		if _, ok := pkgs[name]; !ok && !slices.Contains(pending, name) {
			t.Errorf("CONTRIBUTING.md's layout lists %s, which is no package of go list ./...", name)
		}
		if says[name] == "" {
			t.Errorf("CONTRIBUTING.md's layout lists %s without saying what it provides", name)
		}
	}
}
