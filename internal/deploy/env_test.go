package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// `sam local invoke` and `start-api` pass a function only the environment
// variables its template declares: every one the code reads must be there.

// module is this repository's Go module.
const module = "github.com/wxmedia/wxmedia"

// goPackage is what go list -json says of a package.
type goPackage struct {
	ImportPath, Dir string
	GoFiles         []string
	Imports         []string
	Module          *struct{ Path string }
}

// functionPackages are the packages built into the functions, as make
// builds them (linux/arm64, -tags lambda.norpc): the module's own, and
// everything they import.
func functionPackages(t *testing.T) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json", "-tags", "lambda.norpc", "./functions/...")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list the functions' packages: %v", err)
	}
	var pkgs []goPackage
	for dec := json.NewDecoder(bytes.NewReader(out)); dec.More(); {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// stringConsts are a package's string constants by name.
func stringConsts(files []*ast.File) map[string]string {
	out := map[string]string{}
	for _, f := range files {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							out[name.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			}
		}
	}
	return out
}

func parsePackage(t *testing.T, p goPackage) []*ast.File {
	t.Helper()
	var files []*ast.File
	fset := token.NewFileSet()
	for _, name := range p.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// codeEnvironment is every environment variable the functions' code reads:
// the Env* string constants of the module's packages built into them (the
// names FromEnv and its kin are given), the names os.Getenv and
// os.LookupEnv are called with (a literal or a constant), and, for each AWS
// service client the code builds, the SDK's AWS_ENDPOINT_URL_<service>.
func codeEnvironment(t *testing.T) map[string]string {
	t.Helper()
	vars := map[string]string{} // variable -> where the code reads it
	pkgs := functionPackages(t)
	consts := map[string]map[string]string{} // import path -> constants
	parsed := map[string][]*ast.File{}
	for _, p := range pkgs {
		if p.Module != nil && p.Module.Path == module {
			parsed[p.ImportPath] = parsePackage(t, p)
			consts[p.ImportPath] = stringConsts(parsed[p.ImportPath])
		}
	}
	for path, files := range parsed {
		for name, v := range consts[path] {
			if strings.HasPrefix(name, "Env") {
				vars[v] = path + "." + name
			}
		}
		for _, f := range files {
			imports := map[string]string{} // local name -> import path
			for _, im := range f.Imports {
				p, _ := strconv.Unquote(im.Path.Value)
				local := p[strings.LastIndex(p, "/")+1:]
				if im.Name != nil {
					local = im.Name.Name
				}
				imports[local] = p
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if x, _ := sel.X.(*ast.Ident); x == nil || imports[x.Name] != "os" || (sel.Sel.Name != "Getenv" && sel.Sel.Name != "LookupEnv") {
					return true
				}
				var name string
				switch a := call.Args[0].(type) {
				case *ast.BasicLit:
					name, _ = strconv.Unquote(a.Value)
				case *ast.Ident:
					name = consts[path][a.Name]
				case *ast.SelectorExpr:
					if x, ok := a.X.(*ast.Ident); ok {
						name = consts[imports[x.Name]][a.Sel.Name]
					}
				}
				if name == "" {
					t.Errorf("%s: os.%s with a name this test cannot read: make it a constant", path, sel.Sel.Name)
					return true
				}
				vars[name] = path + " os." + sel.Sel.Name
				return true
			})
		}
	}
	// The AWS SDK reads AWS_ENDPOINT_URL_<service id, upper case, spaces
	// as _> for each client (config.EnvConfig.GetServiceBaseEndpoint).
	dirs := map[string]string{}
	for _, p := range pkgs {
		dirs[p.ImportPath] = p.Dir
	}
	for _, p := range pkgs {
		if p.Module == nil || p.Module.Path != module {
			continue
		}
		for _, im := range p.Imports {
			if !strings.HasPrefix(im, "github.com/aws/aws-sdk-go-v2/service/") || strings.Count(im, "/") != 4 {
				continue
			}
			id := stringConsts(parsePackage(t, goPackage{Dir: dirs[im], GoFiles: goFiles(t, dirs[im])}))["ServiceID"]
			if id == "" {
				t.Fatalf("%s: no ServiceID", im)
			}
			vars["AWS_ENDPOINT_URL_"+strings.ReplaceAll(strings.ToUpper(id), " ", "_")] = p.ImportPath + " imports " + im
		}
	}
	for v := range vars {
		if lambdaProvides(v) {
			delete(vars, v)
		}
	}
	return vars
}

// goFiles are the non-test Go files of a directory.
func goFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			out = append(out, n)
		}
	}
	return out
}

// lambdaProvides reports whether Lambda (and sam local's emulator) sets the
// variable itself: the runtime's defined variables. AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_<service> are not among them.
func lambdaProvides(name string) bool {
	switch name {
	case "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
		"AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "AWS_XRAY_DAEMON_ADDRESS", "AWS_XRAY_CONTEXT_MISSING",
		"TZ", "LANG", "PATH", "LD_LIBRARY_PATH":
		return true
	}
	return strings.HasPrefix(name, "AWS_LAMBDA_")
}

// TestEnvironmentDeclared: every variable the code reads is declared for
// every function (Globals or its own), and every declared one is read.
func TestEnvironmentDeclared(t *testing.T) {
	code := codeEnvironment(t)
	for _, must := range []string{"MEDIA_BUCKET", "WECHAT_SECRET_ID", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SECRETS_MANAGER"} {
		if _, ok := code[must]; !ok {
			t.Errorf("the code's variables %v lack %s: the test reads the code wrong", code, must)
		}
	}
	tpl := loadTemplate(t)
	s := newStack(t, tpl, nil)
	globals, _ := s.eval(path(tpl, "Globals", "Function", "Environment", "Variables")).(map[string]any)
	for id, fn := range functionsOf(s.resources()) {
		env := map[string]any{}
		for k, v := range globals {
			env[k] = v
		}
		if own, ok := path(fn, "Properties", "Environment", "Variables").(map[string]any); ok {
			for k, v := range own {
				env[k] = v
			}
		}
		for v, where := range code {
			if _, ok := env[v]; !ok {
				t.Errorf("%s: %s (read by %s) is not declared: sam local would not pass it", id, v, where)
			}
		}
		for v := range env {
			if _, ok := code[v]; !ok {
				t.Errorf("%s: %s is declared but the code reads no such variable", id, v)
			}
		}
		// Deployed, the endpoints are AWS's own: declared empty, which the SDK takes as unset.
		for v := range code {
			if strings.HasPrefix(v, "AWS_ENDPOINT_URL") && env[v] != "" {
				t.Errorf("%s: %s = %v, want empty (AWS's own endpoint)", id, v, env[v])
			}
		}
	}
	// events/env.json names only declared variables: SAM drops the others silently.
	b, err := os.ReadFile("../../events/env.json")
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]map[string]string
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("events/env.json: %v", err)
	}
	for scope, vars := range f {
		if _, ok := functionsOf(s.resources())[scope]; scope != "Parameters" && !ok {
			t.Errorf("events/env.json: %s is neither Parameters nor a function", scope)
		}
		for v := range vars {
			if _, ok := globals[v]; !ok {
				t.Errorf("events/env.json: %s is not declared in template.yaml: SAM would ignore it", v)
			}
		}
	}
}

// TestEmptyEndpointVariablesAreUnset: the template declares the endpoint
// variables empty; the AWS SDK for Go v2 then uses AWS's own endpoints, as
// if they were not set at all (and a value does move a client).
func TestEmptyEndpointVariablesAreUnset(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_REGION", "ap-east-1")
	for _, tc := range []struct{ value, want string }{{"", ""}, {"http://host.docker.internal:9000", "http://host.docker.internal:9000"}} {
		for _, v := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SECRETS_MANAGER"} {
			t.Setenv(v, tc.value)
		}
		cfg, err := awsconfig.LoadDefaultConfig(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		endpoint := func(p *string) string {
			if p == nil {
				return ""
			}
			return *p
		}
		got := []string{endpoint(cfg.BaseEndpoint), endpoint(s3.NewFromConfig(cfg).Options().BaseEndpoint), endpoint(secretsmanager.NewFromConfig(cfg).Options().BaseEndpoint)}
		if want := []string{tc.want, tc.want, tc.want}; !slices.Equal(got, want) {
			t.Errorf("endpoint variables %q: base endpoints (any, S3, Secrets Manager) %q, want %q", tc.value, got, want)
		}
	}
}
