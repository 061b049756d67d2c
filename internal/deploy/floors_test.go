package deploy

import (
	"slices"
	"strings"
	"testing"
)

// The floors of pkg/ (DESIGN.md, "one room per idea"): data enters at an
// edge, and no edge imports another; only the entry that tells event
// kinds apart imports the edges, and only the composition root imports
// it; the names everyone shares (failure's kinds and errcodes, the
// routes, WeChat's answers) sit at the bottom.
var (
	edges = []string{"pkg/apigw", "pkg/httpapi", "pkg/s3event", "pkg/cloudcall"}
	// only lists, for a package, all the module's packages it may import.
	only = map[string][]string{
		"pkg/failure": nil,
		"pkg/routes":  nil,
		"pkg/reply":   {"pkg/failure"},
	}
	// never lists, for a package, module packages it must not import.
	never = map[string][]string{
		// The HTTP edge reaches S3, WeChat and the tokens through the
		// service and the apps; their errors through failure.
		"pkg/httpapi": {"pkg/bucket", "pkg/wechat", "pkg/token"},
	}
	// importers lists, for a package, the only ones that may import it.
	importers = map[string][]string{
		"pkg/invocation": {"pkg/bootstrap"},
		"pkg/bootstrap":  {"functions/get", "functions/upload", "functions/uploadimg", "functions/component"},
	}
)

func TestFloors(t *testing.T) {
	pkgs := functionPackages(t)
	for _, p := range pkgs {
		from, ok := strings.CutPrefix(p.ImportPath, module+"/")
		if !ok {
			continue
		}
		for _, imp := range p.Imports {
			to, ok := strings.CutPrefix(imp, module+"/")
			if !ok {
				continue
			}
			if allowed, ok := only[from]; ok && !slices.Contains(allowed, to) {
				t.Errorf("%s imports %s: it may import only %v of the module", from, to, allowed)
			}
			if slices.Contains(never[from], to) {
				t.Errorf("%s imports %s", from, to)
			}
			if slices.Contains(edges, from) && slices.Contains(edges, to) {
				t.Errorf("%s imports %s: no edge imports another", from, to)
			}
			if by, ok := importers[to]; ok && !slices.Contains(by, from) {
				t.Errorf("%s imports %s: only %v may", from, to, by)
			}
		}
	}
	for _, p := range append(edges, "pkg/failure", "pkg/routes", "pkg/reply", "pkg/invocation") {
		if !slices.ContainsFunc(pkgs, func(g goPackage) bool { return g.ImportPath == module+"/"+p }) {
			t.Errorf("%s is not built into the functions: the floors name a package that is gone", p)
		}
	}
}
