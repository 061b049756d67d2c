package deploy

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/pkg/routes"
)

// routeKey is the API Gateway route key of a function's HttpApi event,
// the key of its MediaApi.RouteSettings: "ANY /path" for Method ANY.
func routeKey(ev map[string]any) string {
	props, _ := ev["Properties"].(map[string]any)
	return fmt.Sprintf("%s %v", strings.ToUpper(fmt.Sprint(props["Method"])), props["Path"])
}

// servers are the functions whose HttpApi events serve path.
func servers(res map[string]map[string]any, path string) []string {
	var out []string
	for id, fn := range functionsOf(res) {
		for _, ev := range events(fn, "HttpApi") {
			if p, _ := ev["Properties"].(map[string]any); p["Path"] == path {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestPushRouteOwnLimits: the public push route has a throttle of its own,
// apart from the media routes' (so that a flood of it is refused without
// refusing them, and a flood of theirs never refuses WeChat's pushes), and
// runs in a function of its own whose concurrency is always reserved: a
// flood of it cannot take the media functions' concurrency, nor they its.
func TestPushRouteOwnLimits(t *testing.T) {
	tpl := loadTemplate(t)
	for _, tc := range []map[string]string{
		nil,
		{"ComponentThrottlingRateLimit": "7", "ComponentThrottlingBurstLimit": "3", "ApiThrottlingRateLimit": "5", "ApiThrottlingBurstLimit": "9",
			"UploadReservedConcurrency": "-1", "UploadImgReservedConcurrency": "-1", "GetReservedConcurrency": "-1"},
	} {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			s := newStack(t, tpl, tc)
			res := s.resources()
			fns := servers(res, routes.PathPlatformEvents)
			if len(fns) != 1 {
				t.Fatalf("%s is served by %v, want one function", routes.PathPlatformEvents, fns)
			}
			id := fns[0]
			fn := res[id]
			evs := path(fn, "Properties", "Events").(map[string]any)
			https := events(fn, "HttpApi")
			if len(evs) != len(https) || len(https) != 1 {
				t.Errorf("%s: events %v, want the push route's alone (no media route, no trigger)", id, slices.Sorted(maps.Keys(evs)))
			}
			var key string
			for _, ev := range https {
				key = routeKey(ev)
			}

			// Its own throttle, from its own parameters; the media routes keep the default.
			api := path(res["MediaApi"], "Properties")
			settings, _ := path(api, "RouteSettings").(map[string]any)
			own, _ := settings[key].(map[string]any)
			if own == nil {
				t.Fatalf("MediaApi.RouteSettings %v: nothing for %q, the push route's key", settings, key)
			}
			if own["ThrottlingRateLimit"] != s.params["ComponentThrottlingRateLimit"] || own["ThrottlingBurstLimit"] != s.params["ComponentThrottlingBurstLimit"] {
				t.Errorf("RouteSettings[%q] = %v, want ComponentThrottlingRateLimit %v and ComponentThrottlingBurstLimit %v",
					key, own, s.params["ComponentThrottlingRateLimit"], s.params["ComponentThrottlingBurstLimit"])
			}
			def := path(api, "DefaultRouteSettings")
			if path(def, "ThrottlingRateLimit") != s.params["ApiThrottlingRateLimit"] || path(def, "ThrottlingBurstLimit") != s.params["ApiThrottlingBurstLimit"] {
				t.Errorf("DefaultRouteSettings %v, want the media routes' parameters", def)
			}
			// Every route with settings of its own is one a function serves (a
			// key naming no route would leave that route on the default).
			served := map[string]bool{}
			for _, f := range functionsOf(res) {
				for _, ev := range events(f, "HttpApi") {
					served[routeKey(ev)] = true
				}
			}
			for k := range settings {
				if !served[k] {
					t.Errorf("MediaApi.RouteSettings[%q]: no such route", k)
				}
			}

			// Its own reserved concurrency, always: never the account's
			// unreserved pool, which media functions without a reservation use.
			got, set := path(fn, "Properties").(map[string]any)["ReservedConcurrentExecutions"]
			if !set || got != s.params["ComponentReservedConcurrency"] {
				t.Errorf("%s reserves %v, want ComponentReservedConcurrency (%v), whatever the media functions reserve", id, got, s.params["ComponentReservedConcurrency"])
			}
			if p := path(tpl, "Parameters", "ComponentReservedConcurrency", "MinValue"); p != 1 {
				t.Errorf("ComponentReservedConcurrency MinValue %v, want 1: no -1 (unreserved) for the public route", p)
			}
			for other := range functionsOf(res) {
				if other != id && strings.Contains(fmt.Sprint(path(tpl, "Resources", other, "Properties", "ReservedConcurrentExecutions")), "ComponentReservedConcurrency") {
					t.Errorf("%s reserves ComponentReservedConcurrency: the push route's concurrency is its function's alone", other)
				}
			}
		})
	}
}

// TestBuildTargets: each function of the template has its Makefile target
// (build-<LogicalId>, as sam build calls it), whose folder of functions/
// is the code of the route the other tests check the function for
// (routeOf: its paths, its grants); and each folder is some function's.
func TestBuildTargets(t *testing.T) {
	raw, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	mk := string(raw)
	m := regexp.MustCompile(`(?m)^FUNCTIONS := (.+)$`).FindStringSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile: no FUNCTIONS")
	}
	targets := strings.Fields(m[1])
	res := newStack(t, loadTemplate(t), nil).resources()
	if got := slices.Sorted(maps.Keys(functionsOf(res))); !slices.Equal(slices.Sorted(slices.Values(targets)), got) {
		t.Errorf("Makefile FUNCTIONS %v, want the template's functions %v", targets, got)
	}
	// The route each folder's main serves: bootstrap.Main(routes.<Name>).
	routeConsts := stringConsts(parsePackage(t, goPackage{Dir: "../../pkg/routes", GoFiles: []string{"routes.go"}}))
	mainRoute := regexp.MustCompile(`bootstrap\.Main\(routes\.(\w+)\)`)
	built := map[string]bool{}
	for _, id := range targets {
		m := regexp.MustCompile(`(?m)^dir_` + id + ` := (\S+)$`).FindStringSubmatch(mk)
		if m == nil {
			t.Errorf("Makefile: %s has no dir_%s", id, id)
			continue
		}
		built[m[1]] = true
		src, err := os.ReadFile(filepath.Join("../../functions", m[1], "main.go"))
		if err != nil {
			t.Errorf("%s: %v", id, err)
			continue
		}
		r := mainRoute.FindStringSubmatch(string(src))
		if r == nil || routeConsts[r[1]] != routeOf[id] {
			t.Errorf("%s builds functions/%s, which serves %v; the tests take it for route %q", id, m[1], r, routeOf[id])
		}
	}
	dirs, err := os.ReadDir("../../functions")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !built[d.Name()] {
			t.Errorf("functions/%s is built by no function of the template", d.Name())
		}
	}
}
