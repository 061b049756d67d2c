package layout

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// floor is a floor of the tree: its packages import only from the floors
// below, and from each other only where Apart is false.
type floor struct {
	Name string
	// Packages are paths relative to the module; "functions/..." is every
	// package under functions/.
	Packages []string
	// Apart: none of the floor's packages imports another of them.
	Apart bool
}

// floors are the floors of what the functions link, from the top, as
// CONTRIBUTING.md says them in words. internal/ and cmd/ stand outside:
// they may import any of pkg/, and nothing of pkg/ imports them.
var floors = []floor{
	{Name: "functions", Packages: []string{"functions/..."}},
	{Name: "the composition root", Packages: []string{"pkg/bootstrap"}},
	{Name: "event kinds", Packages: []string{"pkg/invocation"}},
	{Name: "edges", Packages: []string{"pkg/apigw", "pkg/httpapi", "pkg/s3event", "pkg/cloudcall"}, Apart: true},
	{Name: "the service", Packages: []string{"pkg/transfer"}},
	// completion announces what the ledger records, in the ledger's types.
	{Name: "completion events", Packages: []string{"pkg/completion"}},
	{Name: "exactly-once", Packages: []string{"pkg/ledger"}},
	{Name: "adapters", Packages: []string{"pkg/bucket", "pkg/wechat", "pkg/token", "pkg/apps", "pkg/tokentable", "pkg/recordtable",
		"pkg/platform", "pkg/metrics", "pkg/tracing", "pkg/logging", "pkg/quota", "pkg/wxcrypt"}},
	{Name: "media rules", Packages: []string{"pkg/media"}},
	{Name: "routes and replies", Packages: []string{"pkg/routes", "pkg/reply"}, Apart: true},
	{Name: "failure kinds", Packages: []string{"pkg/failure"}},
}

// crossings are the imports today's code makes that the floors forbid,
// each with why it is still made. Take them off as they go.
var crossings = map[[2]string]string{}

// floorOf is the index in fs of pkg's floor, -1 if it is on none.
func floorOf(fs []floor, pkg string) int {
	for i, f := range fs {
		for _, p := range f.Packages {
			if p == pkg || (strings.HasSuffix(p, "/...") && strings.HasPrefix(pkg, strings.TrimSuffix(p, "..."))) {
				return i
			}
		}
	}
	return -1
}

// wrongImports are what is wrong with pkg importing imports (its non-test
// imports, relative to the module), by the floors fs: what the functions
// link (pkg/, functions/) imports only pkg/, never internal/ (tests may);
// on the floors, an import points down, or to a neighbour on a floor that
// is not Apart.
func wrongImports(fs []floor, pkg string, imports []string) []string {
	var wrong []string
	from := floorOf(fs, pkg)
	for _, imp := range imports {
		if !ours(imp) || crossings[[2]string{pkg, imp}] != "" {
			continue
		}
		if (strings.HasPrefix(pkg, "pkg/") || strings.HasPrefix(pkg, "functions/")) && !strings.HasPrefix(imp, "pkg/") {
			wrong = append(wrong, fmt.Sprintf("%s imports %s: what the functions link imports only pkg/ (tests may import internal/)", pkg, imp))
			continue
		}
		if from < 0 {
			continue // internal/ and cmd/: anything of pkg/ and internal/
		}
		to := floorOf(fs, imp)
		switch {
		case to < 0:
			wrong = append(wrong, fmt.Sprintf("%s imports %s, which is on no floor", pkg, imp))
		case to < from:
			wrong = append(wrong, fmt.Sprintf("%s imports %s: up from %s (floor %d) to %s (floor %d)", pkg, imp, fs[from].Name, from+1, fs[to].Name, to+1))
		case to == from && fs[from].Apart:
			wrong = append(wrong, fmt.Sprintf("%s imports %s: across %s (floor %d), whose packages never import each other", pkg, imp, fs[from].Name, from+1))
		}
	}
	return wrong
}

// Every package of pkg/ is on a floor, and each imports only from the
// floors below its own. So nothing of internal/ (mediatest, the simulator)
// is ever linked into a function.
func TestFloors(t *testing.T) {
	pkgs := packages(t)
	for _, path := range slices.Sorted(maps.Keys(pkgs)) {
		if strings.HasPrefix(path, "pkg/") && floorOf(floors, path) < 0 {
			t.Errorf("%s is on no floor: add it to floors in internal/layout/floors_test.go, and to CONTRIBUTING.md", path)
		}
		for _, w := range wrongImports(floors, path, pkgs[path].Imports) {
			t.Error(w)
		}
	}
	for _, f := range floors {
		for _, p := range f.Packages {
			if _, ok := pkgs[p]; !ok && !strings.HasSuffix(p, "/...") && !slices.Contains(pending, p) {
				t.Errorf("floor %q names %s, which is no package of go list ./...", f.Name, p)
			}
		}
	}
	for pair, why := range crossings {
		if !slices.Contains(pkgs[pair[0]].Imports, pair[1]) {
			t.Errorf("%s no longer imports %s (%s): take it off crossings", pair[0], pair[1], why)
		}
	}
}

// The checker refuses an import up a floor, across the edges or the
// routes and replies, and what the functions link importing internal/; it
// lets the rest through.
func TestWrongImportsAreCaught(t *testing.T) {
	tests := []struct {
		name, pkg, imp string
		want           string // in the message; "" for none
	}{
		{"LedgerImportsTheService", "pkg/ledger", "pkg/transfer", "up from exactly-once (floor 7) to the service (floor 5)"},
		{"EdgeImportsEdge", "pkg/httpapi", "pkg/s3event", "across edges (floor 4)"},
		{"MediaImportsAnAdapter", "pkg/media", "pkg/wechat", "up from media rules"},
		{"FailureImportsMedia", "pkg/failure", "pkg/media", "up from failure kinds"},
		{"RoutesImportReply", "pkg/routes", "pkg/reply", "across routes and replies"},
		{"PkgImportsInternal", "pkg/transfer", "internal/mediatest", "imports only pkg/"},
		{"FunctionImportsInternal", "functions/get", "internal/wechatsim", "imports only pkg/"},
		{"UnknownPackage", "pkg/transfer", "pkg/newthing", "on no floor"},
		{"EdgeImportsAnAdapter", "pkg/httpapi", "pkg/wechat", ""},
		{"EdgeImportsTheService", "pkg/s3event", "pkg/transfer", ""},
		{"AdapterImportsAnAdapter", "pkg/token", "pkg/wechat", ""},
		{"FunctionImportsTheRoot", "functions/upload", "pkg/bootstrap", ""},
		{"InternalImportsAnything", "internal/stacktest", "pkg/bootstrap", ""},
		{"NotOurs", "pkg/ledger", "github.com/aws/aws-sdk-go-v2/service/s3", ""},
		{"EdgeImportsTheEventsEdge", "pkg/httpapi", "pkg/apigw", "across edges (floor 4)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strings.Join(wrongImports(floors, tt.pkg, []string{tt.imp}), "; ")
			switch {
			case tt.want == "" && got != "":
				t.Errorf("%s importing %s: got %q, want no complaint", tt.pkg, tt.imp, got)
			case tt.want != "" && !strings.Contains(got, tt.want):
				t.Errorf("%s importing %s: got %q, want a complaint with %q", tt.pkg, tt.imp, got, tt.want)
			}
		})
	}
}
