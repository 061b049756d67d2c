// Package layout holds checks of the tree's shape; no runtime code.
//
// Its tests read the packages as `go list` sees them and assert that
// CONTRIBUTING.md's layout section lists each package once, and none that
// does not exist (contributing_test.go); and that each package imports only from the
// floors below its own, as CONTRIBUTING.md tells them (floors_test.go).
package layout

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// module is this repository's Go module.
const module = "github.com/wxmedia/wxmedia"

// pending are packages CONTRIBUTING.md's layout and the floors already name but
// that other branches are still adding (pkg/routes: the routes' names and
// paths; pkg/reply: WeChat's answers and the status of each failure). A
// name here may be missing from the tree; once it exists, the tests ask
// for it to be taken off this list.
var pending = []string{}

// goPackage is what go list -json says of a package, its import paths
// relative to the module ("pkg/ledger") where they are the module's.
type goPackage struct {
	ImportPath                         string
	Imports, TestImports, XTestImports []string
}

// packages are the module's packages, as `go list ./...` lists them, by
// path relative to the module.
func packages(t *testing.T) map[string]goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list ./...: %v", err)
	}
	pkgs := map[string]goPackage{}
	for dec := json.NewDecoder(bytes.NewReader(out)); dec.More(); {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		p.ImportPath = relative(p.ImportPath)
		for _, list := range [][]string{p.Imports, p.TestImports, p.XTestImports} {
			for i, imp := range list {
				list[i] = relative(imp)
			}
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

// relative is path relative to the module ("pkg/ledger"), or path itself
// when it is not the module's.
func relative(path string) string {
	if rel, ok := strings.CutPrefix(path, module+"/"); ok {
		return rel
	}
	return path
}

// ours reports whether path (relative) is one of the module's packages,
// or one that is pending.
func ours(path string) bool {
	for _, top := range []string{"pkg/", "internal/", "cmd/", "functions/"} {
		if strings.HasPrefix(path, top) {
			return true
		}
	}
	return false
}

// A pending package that exists by now is taken off the list.
func TestPendingArePending(t *testing.T) {
	pkgs := packages(t)
	for _, p := range pending {
		if _, ok := pkgs[p]; ok {
			t.Errorf("%s exists now: take it off pending in internal/layout/layout_test.go", p)
		}
	}
}
