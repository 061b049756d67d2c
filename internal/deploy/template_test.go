// Package deploy holds checks of the SAM template's promises; no runtime code.
//
// Its tests read ../../template.yaml and assert what the design promises about
// the deployment: the functions and how they are built, which S3 prefixes
// trigger them (directly, through SQS or through EventBridge), that every HTTP
// route is authorized unless AuthMode=NONE (the
// platform's push route is public, with its own throttle and function), that each function is granted
// exactly what its code calls (bootstrap.Permissions) and that every variable
// the code reads is declared; and the token table, alarms, dashboard, logs,
// tracing and concurrency. They also run cfn-lint, and fail when it is missing.
package deploy

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wxmedia/wxmedia/pkg/bootstrap"
	"github.com/wxmedia/wxmedia/pkg/routes"
	"github.com/wxmedia/wxmedia/pkg/tokentable"
)

var functions = []string{"ComponentFunction", "GetFunction", "ResultFunction", "UploadFunction", "UploadImgFunction"}

// functionsOf returns the template's AWS::Serverless::Function resources.
func functionsOf(res map[string]map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range res {
		if r["Type"] == "AWS::Serverless::Function" {
			out[id] = r
		}
	}
	return out
}

// events returns a function's events of one type, by event name.
func events(fn map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	evs, _ := path(fn, "Properties", "Events").(map[string]any)
	for name, ev := range evs {
		if ev, _ := ev.(map[string]any); ev["Type"] == typ {
			out[name] = ev
		}
	}
	return out
}

func TestFunctions(t *testing.T) {
	tpl := loadTemplate(t)
	s := newStack(t, tpl, nil)
	globals, _ := s.eval(path(tpl, "Globals", "Function")).(map[string]any)
	fns := functionsOf(s.resources())
	if got := slices.Sorted(maps.Keys(fns)); !reflect.DeepEqual(got, functions) {
		t.Fatalf("functions: got %v, want %v", got, functions)
	}
	for id, fn := range fns {
		t.Run(id, func(t *testing.T) {
			props, _ := fn["Properties"].(map[string]any)
			if got := path(fn, "Metadata", "BuildMethod"); got != "makefile" {
				t.Errorf("Metadata.BuildMethod: got %v, want makefile", got)
			}
			prop := func(name string) any {
				if v, ok := props[name]; ok {
					return v
				}
				return globals[name]
			}
			for name, want := range map[string]any{
				"CodeUri": ".", "Runtime": "provided.al2023", "Handler": "bootstrap",
				"Architectures": []any{"arm64"},
			} {
				if got := prop(name); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: got %v, want %v", name, got, want)
				}
			}
			for _, name := range []string{"Role", "FunctionUrlConfig", "AutoPublishAlias"} {
				if prop(name) != nil {
					t.Errorf("%s set: roles come from Policies, HTTP only through MediaApi", name)
				}
			}
			env := map[string]any{}
			maps.Copy(env, path(globals, "Environment", "Variables").(map[string]any))
			if own, ok := path(props, "Environment", "Variables").(map[string]any); ok {
				maps.Copy(env, own)
			}
			for _, name := range []string{"MEDIA_BUCKET", "WECHAT_SECRET_ID", "WECHAT_API_BASE", "ALLOWED_PREFIXES", "MEDIA_LIMITS"} {
				if _, ok := env[name]; !ok {
					t.Errorf("environment: no %s", name)
				}
			}
			if got := env["WECHAT_SECRET_ID"]; got != "ref:WeChatSecret" {
				t.Errorf("WECHAT_SECRET_ID: got %v, want !Ref WeChatSecret", got)
			}
			if got := env["WECHAT_API_BASE"]; got != "https://api.weixin.qq.com" {
				t.Errorf("WECHAT_API_BASE default: got %v, want https://api.weixin.qq.com", got)
			}
			// A function that only answers HTTP must not outlive API Gateway's 30 s.
			timeout, _ := prop("Timeout").(int)
			_, triggered := triggerPrefix[id]
			httpOnly := !triggered && len(events(fn, "HttpApi")) == len(path(props, "Events").(map[string]any))
			if timeout <= 0 || timeout > 900 || (httpOnly && timeout > 30) {
				t.Errorf("Timeout: got %v (HTTP only: %v), want 1..900, at most 30 for HTTP only", prop("Timeout"), httpOnly)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	tpl := loadTemplate(t)
	mode, _ := path(tpl, "Parameters", "AuthMode").(map[string]any)
	if mode["Default"] != "IAM" || !reflect.DeepEqual(mode["AllowedValues"], []any{"IAM", "JWT", "NONE"}) {
		t.Errorf("AuthMode: got default %v values %v, want IAM of [IAM JWT NONE]", mode["Default"], mode["AllowedValues"])
	}
	tests := []struct {
		name      string
		overrides map[string]string
		scheme    func(t *testing.T, name string, scheme map[string]any)
	}{
		{"IAM", nil, func(t *testing.T, name string, scheme map[string]any) {
			if got := scheme["x-amazon-apigateway-authtype"]; got != "awsSigv4" {
				t.Errorf("scheme %s: authtype %v, want awsSigv4", name, got)
			}
		}},
		{"JWT", map[string]string{"AuthMode": "JWT", "JwtIssuer": "https://issuer.example.com", "JwtAudience": "a,b"},
			func(t *testing.T, name string, scheme map[string]any) {
				auth := path(scheme, "x-amazon-apigateway-authorizer")
				if path(auth, "type") != "jwt" || path(auth, "jwtConfiguration", "issuer") != "https://issuer.example.com" ||
					!reflect.DeepEqual(path(auth, "jwtConfiguration", "audience"), []any{"a", "b"}) {
					t.Errorf("scheme %s: got %v, want a jwt authorizer for the issuer and audiences", name, auth)
				}
			}},
		{"NONE", map[string]string{"AuthMode": "NONE"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := newStack(t, tpl, tt.overrides).resources()
			api := res["MediaApi"]
			if api["Type"] != "AWS::Serverless::HttpApi" || path(api, "Properties", "FailOnWarnings") != true {
				t.Fatalf("MediaApi: got %v FailOnWarnings=%v, want an HttpApi failing on warnings",
					api["Type"], path(api, "Properties", "FailOnWarnings"))
			}
			if a := path(api, "Properties", "Auth"); a != nil {
				t.Errorf("MediaApi.Auth %v: routes are authorized in DefinitionBody only", a)
			}
			body := path(api, "Properties", "DefinitionBody")
			routes := map[string]bool{}
			for p, item := range path(body, "paths").(map[string]any) {
				for m := range item.(map[string]any) {
					if m == "x-amazon-apigateway-any-method" {
						m = "ANY"
					}
					routes[strings.ToUpper(m)+" "+p] = true
				}
			}
			for id, fn := range functionsOf(res) {
				for name, ev := range events(fn, "HttpApi") {
					props, _ := ev["Properties"].(map[string]any)
					route := fmt.Sprintf("%v %v", props["Method"], props["Path"])
					if props["ApiId"] != "ref:MediaApi" {
						t.Errorf("%s.%s: ApiId %v, want !Ref MediaApi (the implicit API has no auth)", id, name, props["ApiId"])
					}
					if props["Auth"] != nil {
						t.Errorf("%s.%s: its own Auth %v overrides the API's", id, name, props["Auth"])
					}
					if !routes[route] {
						t.Errorf("%s.%s: route %s is not in MediaApi's DefinitionBody", id, name, route)
					}
					delete(routes, route)
					method := strings.ToLower(fmt.Sprint(props["Method"]))
					if method == "any" {
						method = "x-amazon-apigateway-any-method"
					}
					sec := path(body, "paths", fmt.Sprint(props["Path"]), method, "security")
					reqs, _ := sec.([]any)
					if slices.Contains(bootstrap.PublicPaths, fmt.Sprint(props["Path"])) {
						if sec == nil || len(reqs) != 0 {
							t.Errorf("%s: security %v, want [] (WeChat calls it, and signs its calls instead)", route, sec)
						}
						continue
					}
					if tt.scheme == nil {
						if len(reqs) != 0 {
							t.Errorf("%s: security %v, want none with AuthMode=NONE", route, sec)
						}
						continue
					}
					if len(reqs) == 0 {
						t.Errorf("%s: security %v, want an authorizer", route, sec)
					}
					for _, req := range reqs {
						req, _ := req.(map[string]any)
						if len(req) == 0 {
							t.Errorf("%s: an empty security requirement allows anyone", route)
						}
						for scheme := range req {
							s, ok := path(body, "components", "securitySchemes", scheme).(map[string]any)
							if !ok {
								t.Errorf("%s: security scheme %s is not defined", route, scheme)
								continue
							}
							tt.scheme(t, scheme, s)
						}
					}
				}
			}
			for r := range routes {
				t.Errorf("route %s in DefinitionBody has no function event (no integration)", r)
			}
			// The functions running one code serve between them the paths it
			// serves, each of them some.
			byCode := map[string][]string{}
			for id, fn := range functionsOf(res) {
				var own []string
				for _, ev := range events(fn, "HttpApi") {
					props, _ := ev["Properties"].(map[string]any)
					own = append(own, fmt.Sprint(props["Path"]))
				}
				if len(own) == 0 {
					t.Errorf("%s: no HttpApi path", id)
				}
				byCode[routeOf[id]] = append(byCode[routeOf[id]], own...)
			}
			for code, got := range byCode {
				slices.Sort(got)
				want := slices.Sorted(slices.Values(bootstrap.Paths(code)))
				if !slices.Equal(got, want) {
					t.Errorf("the functions running %s's code: HttpApi paths %v, want those it serves, %v", code, got, want)
				}
			}
		})
	}
}

// routeOf is the route each function's code serves, which names that code
// in bootstrap.Permissions; two functions may run one code, each serving
// some of its paths (ResultFunction: get's result, in a pool of its own).
var routeOf = map[string]string{"UploadFunction": routes.Upload, "UploadImgFunction": routes.UploadImg, "GetFunction": routes.Get,
	"ComponentFunction": routes.Component, "ResultFunction": routes.Get}

// TestIAM checks that each function is granted exactly what its code calls:
// bootstrap.Permissions, added up from the tables next to the calls (bucket,
// ledger, transfer, token), for each way AllowedPrefixes may be set; and,
// deliberately apart, what its TriggerMode needs (triggerGrants).
func TestIAM(t *testing.T) {
	tpl := loadTemplate(t)
	for _, params := range []map[string]string{
		{"BucketName": ""},
		{"BucketName": "my-media"},
		{"BucketName": "my-media", "AllowedPrefixes": "partner-drop", "EventBusName": "media-events"},
		{"BucketName": "my-media", "AllowedPrefixes": "partner-drop,inbox/2026,a,b,c"},
		{"TriggerMode": "SQS"},
		{"BucketName": "my-media", "AllowedPrefixes": "partner-drop", "TriggerMode": "SQS"},
		{"TriggerMode": "EventBridge"},
	} {
		t.Run(fmt.Sprint(params), func(t *testing.T) {
			s := newStack(t, tpl, params)
			res := s.resources()
			bucket, _ := path(res["MediaBucket"], "Properties", "BucketName").(string)
			if want := "wxmedia-media-123456789012"; params["BucketName"] == "" && bucket != want {
				t.Errorf("generated bucket name: got %q, want %q", bucket, want)
			} else if params["BucketName"] != "" && bucket != params["BucketName"] {
				t.Errorf("bucket name: got %q, want the parameter %q", bucket, params["BucketName"])
			}
			globalEnv := s.eval(path(tpl, "Globals", "Function", "Environment", "Variables"))
			if got := path(globalEnv, "MEDIA_BUCKET"); got != bucket {
				t.Errorf("MEDIA_BUCKET: got %v, want the bucket %q", got, bucket)
			}
			cfg, err := bootstrap.FromEnv(func(k string) string {
				return map[string]string{bootstrap.EnvBucket: bucket, bootstrap.EnvSecretID: "s", bootstrap.EnvAllowedPrefixes: params["AllowedPrefixes"]}[k]
			})
			if err != nil {
				t.Fatal(err)
			}
			arn := "arn:aws:s3:::" + bucket
			resource := func(r string) string {
				switch r {
				case "":
					return arn
				case bootstrap.ResourceSecret:
					return "ref:WeChatSecret"
				case bootstrap.ResourceTokenTable:
					return "getatt:TokenTable.Arn"
				case bootstrap.ResourceEventBus:
					return "arn:aws:events:ap-east-1:123456789012:event-bus/" + cmp.Or(params["EventBusName"], "default")
				}
				return arn + "/" + r
			}

			// What each function is granted, exactly what its code calls.
			allowed := map[string]bool{}
			for id, fn := range functionsOf(res) {
				var want []string
				for _, p := range bootstrap.Permissions(routeOf[id], cfg) {
					want = append(want, p.Action+" "+resource(p.Resource))
					allowed[p.Action+" "+resource(p.Resource)] = true
				}
				// And what the trigger mode needs, which no code calls.
				for _, g := range triggerGrants(s.params["TriggerMode"].(string), id) {
					want = append(want, g)
					allowed[g] = true
				}
				slices.Sort(want)
				var got []string
				policies, _ := path(fn, "Properties", "Policies").([]any)
				for i, p := range policies {
					stmts, ok := path(p, "Statement").([]any)
					if !ok {
						t.Errorf("%s.Policies[%d] = %v: want an inline policy with a Statement list, not a managed policy or SAM template", id, i, p)
						continue
					}
					for _, st := range stmts {
						for _, a := range strs(path(st, "Action")) {
							for _, r := range strs(path(st, "Resource")) {
								got = append(got, a+" "+r)
							}
						}
					}
				}
				slices.Sort(got)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s grants:\n got %q\nwant %q", id, got, want)
				}
			}

			// Every statement anywhere in the template stays within those.
			var walk func(where string, v any)
			walk = func(where string, v any) {
				switch v := v.(type) {
				case []any:
					for i, item := range v {
						walk(fmt.Sprintf("%s[%d]", where, i), item)
					}
				case map[string]any:
					if stmts, ok := v["Statement"].([]any); ok {
						for i, st := range stmts {
							checkStatement(t, fmt.Sprintf("%s.Statement[%d]", where, i), st, allowed)
						}
					}
					for k, item := range v {
						walk(where+"."+k, item)
					}
				}
			}
			for id, r := range res {
				// A queue's resource policy lets a service send to it: another kind
				// of statement, checked apart (and in TestTriggers).
				if r["Type"] == "AWS::SQS::QueuePolicy" {
					checkQueuePolicy(t, id, r)
					continue
				}
				walk(id, r)
			}
		})
	}
}

func checkStatement(t *testing.T, where string, st any, allowed map[string]bool) {
	t.Helper()
	m, _ := st.(map[string]any)
	if m["Effect"] != "Allow" {
		t.Errorf("%s: Effect %v, want Allow", where, m["Effect"])
	}
	for _, k := range []string{"NotAction", "NotResource", "NotPrincipal"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s: %s grants everything else", where, k)
		}
	}
	if len(strs(m["Action"])) == 0 || len(strs(m["Resource"])) == 0 {
		t.Errorf("%s: no Action or no Resource", where)
	}
	for _, a := range strs(m["Action"]) {
		for _, r := range strs(m["Resource"]) {
			if !allowed[a+" "+r] {
				t.Errorf("%s: %s on %s, which no function's code needs", where, a, r)
			}
		}
	}
}

func TestSecret(t *testing.T) {
	res := newStack(t, loadTemplate(t), nil).resources()
	secret := res["WeChatSecret"]
	if secret["Type"] != "AWS::SecretsManager::Secret" {
		t.Fatalf("WeChatSecret: got %v, want AWS::SecretsManager::Secret", secret["Type"])
	}
	var placeholder map[string]string
	s, _ := path(secret, "Properties", "SecretString").(string)
	if err := json.Unmarshal([]byte(s), &placeholder); err != nil {
		t.Fatalf("SecretString %q: %v", s, err)
	}
	if _, ok := placeholder["appid"]; !ok {
		t.Errorf("SecretString %q: no appid", s)
	}
	if _, ok := placeholder["appsecret"]; !ok {
		t.Errorf("SecretString %q: no appsecret", s)
	}
}

func TestOutputs(t *testing.T) {
	outputs, _ := loadTemplate(t)["Outputs"].(map[string]any)
	for _, name := range []string{"ApiUrl", "BucketName", "SecretArn", "UploadFunctionName", "GetFunctionName", "UploadImgFunctionName", "ComponentFunctionName", "ResultFunctionName", "ComponentEventsUrl", "TokenTableName"} {
		if path(outputs, name, "Value") == nil {
			t.Errorf("output %s: missing", name)
		}
	}
}

// TestCfnLint fails, rather than skips, without cfn-lint: CI must not pass a
// template nobody linted. It lints the template as it is and, for each
// other TriggerMode, a copy whose default is that mode, in one run.
func TestCfnLint(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Fatalf("cfn-lint not found in PATH (pip install cfn-lint): %v", err)
	}
	raw, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"template.yaml"}
	dir := t.TempDir()
	for _, mode := range triggerModes[1:] {
		f := filepath.Join(dir, "template-"+mode+".yaml")
		if err := os.WriteFile(f, withDefault(t, raw, "TriggerMode", mode), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, files...)
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cfn-lint %v: %v\n%s", files, err, out)
	}
}

// withDefault is the template with parameter name's Default set to value.
func withDefault(t *testing.T, raw []byte, name, value string) []byte {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	def := mapping(mapping(mapping(doc.Content[0], "Parameters"), name), "Default")
	if def == nil {
		t.Fatalf("parameter %s has no Default", name)
	}
	def.Value = value
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		t.Fatal(err)
	}
	// The copy says what the template says, the default aside.
	var copied yaml.Node
	if err := yaml.Unmarshal(b.Bytes(), &copied); err != nil {
		t.Fatal(err)
	}
	got, _ := fromNode(&copied)
	want, _ := fromNode(&doc)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the copy of the template with %s=%s differs from it beyond the default", name, value)
	}
	return b.Bytes()
}

// mapping is the value of key in a YAML mapping node, or nil.
func mapping(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// The token table keeps secrets shared by every container: on demand,
// expiring what expired (TTL on the attribute the store writes),
// encrypted at rest, named to every function.
func TestTokenTable(t *testing.T) {
	tpl := loadTemplate(t)
	res := newStack(t, tpl, nil).resources()
	tbl := res["TokenTable"]
	if tbl["Type"] != "AWS::DynamoDB::Table" {
		t.Fatalf("TokenTable: type %v, want AWS::DynamoDB::Table", tbl["Type"])
	}
	props := path(tbl, "Properties")
	for _, c := range []struct {
		got  any
		want any
		what string
	}{
		{path(props, "BillingMode"), "PAY_PER_REQUEST", "BillingMode"},
		{path(props, "TimeToLiveSpecification", "AttributeName"), tokentable.AttrExpires, "TTL attribute"},
		{path(props, "TimeToLiveSpecification", "Enabled"), true, "TTL enabled"},
		{path(props, "SSESpecification", "SSEEnabled"), true, "encryption at rest"},
		{path(path(props, "KeySchema").([]any)[0], "AttributeName"), tokentable.AttrKey, "partition key"},
		// Refresh tokens cannot be fetched again: deleting the stack keeps them.
		{tbl["DeletionPolicy"], "Retain", "DeletionPolicy"},
		{tbl["UpdateReplacePolicy"], "Retain", "UpdateReplacePolicy"},
	} {
		if c.got != c.want {
			t.Errorf("TokenTable %s: got %v, want %v", c.what, c.got, c.want)
		}
	}
	env := newStack(t, tpl, nil).eval(path(tpl, "Globals", "Function", "Environment", "Variables"))
	if got := path(env, bootstrap.EnvTokenTable); got != "ref:TokenTable" {
		t.Errorf("%s: got %v, want !Ref TokenTable", bootstrap.EnvTokenTable, got)
	}
}
