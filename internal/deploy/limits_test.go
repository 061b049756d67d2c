package deploy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/pkg/httpapi"
	"github.com/wxmedia/wxmedia/pkg/routes"
	"github.com/wxmedia/wxmedia/pkg/transfer"
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

// ownPool checks that paths are served by one function, serving nothing
// else, whose concurrency is always reserved, from its own parameter: what
// runs there cannot take another function's concurrency (nor the
// account's unreserved pool, which functions without a reservation
// share), nor another function its. It answers the function.
func ownPool(t *testing.T, tpl map[string]any, s *stack, paths []string, param string) string {
	t.Helper()
	res := s.resources()
	var ids []string
	for _, p := range paths {
		ids = append(ids, servers(res, p)...)
	}
	slices.Sort(ids)
	if ids = slices.Compact(ids); len(ids) != 1 {
		t.Fatalf("%v are served by %v, want one function", paths, ids)
	}
	id := ids[0]
	fn := res[id]
	var got []string
	for _, ev := range events(fn, "HttpApi") {
		got = append(got, fmt.Sprint(path(ev, "Properties", "Path")))
	}
	evs, _ := path(fn, "Properties", "Events").(map[string]any)
	if slices.Sort(got); len(evs) != len(got) || !slices.Equal(got, slices.Sorted(slices.Values(paths))) {
		t.Errorf("%s: events %v on paths %v, want %v alone (no other route, no trigger)", id, slices.Sorted(maps.Keys(evs)), got, paths)
	}
	reserved, set := path(fn, "Properties").(map[string]any)["ReservedConcurrentExecutions"]
	if !set || reserved != s.params[param] {
		t.Errorf("%s reserves %v, want %s (%v), whatever the other functions reserve", id, reserved, param, s.params[param])
	}
	if p := path(tpl, "Parameters", param, "MinValue"); p != 1 {
		t.Errorf("%s MinValue %v, want 1: no -1, which would leave %s unreserved", param, p, id)
	}
	for other := range functionsOf(res) {
		if other != id && strings.Contains(fmt.Sprint(path(tpl, "Resources", other, "Properties", "ReservedConcurrentExecutions")), param) {
			t.Errorf("%s reserves %s: that concurrency is %s's alone", other, param, id)
		}
	}
	return id
}

// unreserved are overrides that leave every other function without a
// reservation, where functions could share the account's pool.
var unreserved = map[string]string{"UploadReservedConcurrency": "-1", "UploadImgReservedConcurrency": "-1", "GetReservedConcurrency": "-1"}

// TestPushRouteOwnLimits: the public push route has a throttle of its own,
// apart from the media routes' (so that a flood of it is refused without
// refusing them, and a flood of theirs never refuses WeChat's pushes), and
// runs in a function of its own whose concurrency is always reserved: a
// flood of it cannot take the media functions' concurrency, nor they its.
func TestPushRouteOwnLimits(t *testing.T) {
	tpl := loadTemplate(t)
	throttles := map[string]string{"ComponentThrottlingRateLimit": "7", "ComponentThrottlingBurstLimit": "3", "ApiThrottlingRateLimit": "5", "ApiThrottlingBurstLimit": "9"}
	for _, tc := range []map[string]string{nil, throttles, unreserved} {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			s := newStack(t, tpl, tc)
			res := s.resources()
			id := ownPool(t, tpl, s, []string{routes.PathPlatformEvents}, "ComponentReservedConcurrency")
			var key string
			for _, ev := range events(res[id], "HttpApi") {
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
		})
	}
}

// resultPaths are result's paths, the default app's and an app's.
var resultPaths = []string{routes.PathResult, routes.AppPrefix + routes.PathResult}

// TestResultOwnPool: result's waits hold a container each for up to
// httpapi.MaxWait; they run in a function of their own, always reserved,
// so that they cannot share one pool with get.
func TestResultOwnPool(t *testing.T) {
	tpl := loadTemplate(t)
	for _, tc := range []map[string]string{nil, unreserved} {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			s := newStack(t, tpl, tc)
			id := ownPool(t, tpl, s, resultPaths, "ResultReservedConcurrency")
			if slices.Contains(servers(s.resources(), routes.PathGet), id) {
				t.Errorf("%s serves get too", id)
			}
		})
	}
}

// waiting is the service behind the deployed routes of
// TestResultWaitsLeaveGet: no result is ever recorded, so a result waits
// its whole wait; get finds its media at once.
type waiting struct {
	httpapi.Service // the other calls: none is made
	polled          chan string
}

var media = []byte("the media's bytes")

func (s *waiting) Outcome(ctx context.Context, key string) (transfer.Result, error) {
	select {
	case s.polled <- key:
	default:
	}
	return transfer.Result{Key: key, ETag: `"e"`}, transfer.ErrPending
}

func (s *waiting) Fetch(ctx context.Context, id string) (transfer.Fetched, error) {
	return transfer.Fetched{MediaID: id, Key: "media/" + id + ".jpg", ContentType: "image/jpeg", Size: int64(len(media)), Filename: id + ".jpg"}, nil
}

func (s *waiting) OpenMedia(ctx context.Context, f transfer.Fetched) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(media)), nil
}

// deployedHTTP serves the template's media routes Lambda's way: API
// Gateway sends a request to the function whose event names its path,
// and Lambda runs a function at most its reserved concurrency of requests
// at once, throttling one more. Each function runs its code's routes
// (httpapi, routeOf) over svc. It answers the functions' reservations
// (-1: none).
func deployedHTTP(s *stack, svc httpapi.Service) (http.Handler, map[string]int) {
	mux := http.NewServeMux()
	reserved := map[string]int{}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for id, fn := range functionsOf(s.resources()) {
		if !slices.Contains(routes.All(), routeOf[id]) {
			continue // the push route's function runs no media route
		}
		n := -1
		if v, ok := path(fn, "Properties").(map[string]any)["ReservedConcurrentExecutions"]; ok {
			n, _ = strconv.Atoi(fmt.Sprint(v))
		}
		reserved[id] = n
		code := httpapi.New(httpapi.Options{Service: svc, Routes: []string{routeOf[id]}, Logger: quiet})
		var running chan struct{}
		if n >= 0 {
			running = make(chan struct{}, n)
		}
		run := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if running != nil {
				select {
				case running <- struct{}{}:
					defer func() { <-running }()
				default:
					http.Error(w, "Rate Exceeded: "+id+" runs its reserved concurrency", http.StatusTooManyRequests)
					return
				}
			}
			code.ServeHTTP(w, r)
		})
		for _, ev := range events(fn, "HttpApi") {
			mux.Handle(fmt.Sprint(path(ev, "Properties", "Path")), run)
		}
	}
	return mux, reserved
}

// TestResultWaitsLeaveGet: with result's waits at their allowed maximum,
// as many as its function runs at once, each waiting httpapi.MaxWait, get
// still answers, with the file, while they all wait. Run on the template
// as it was (result on get's function, 10 reserved), ten waits left get
// throttled.
func TestResultWaitsLeaveGet(t *testing.T) {
	s := newStack(t, loadTemplate(t), nil)
	svc := &waiting{polled: make(chan string, 1024)}
	h, reserved := deployedHTTP(s, svc)
	srv := httptest.NewServer(h)
	defer srv.Close()
	waits := reserved[servers(s.resources(), routes.PathResult)[0]]
	if waits < 1 {
		t.Fatalf("result's function reserves %d, want a pool of its own", waits)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	wait := fmt.Sprintf("&wait=%d", int(httpapi.MaxWait/time.Second))
	var ended atomic.Int32
	var wg sync.WaitGroup
	for i := range waits {
		wg.Go(func() {
			defer ended.Add(1)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s%s?key=upload/video/%d.mp4%s", srv.URL, routes.PathResult, i, wait), nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
	// Every wait runs: each has looked for its result once.
	for seen := map[string]bool{}; len(seen) < waits; {
		seen[<-svc.polled] = true
	}
	get := func(url string) (int, []byte) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	// They are all result's function runs: one more wait is throttled.
	const app = "/wx0123456789abcdef"
	if status, body := get(srv.URL + app + routes.PathResult + "?key=upload/video/more.mp4" + wait); status != http.StatusTooManyRequests {
		t.Errorf("one wait more than result's %d: %d %s, want it throttled", waits, status, body)
	}
	for _, p := range []string{routes.PathGet, app + routes.PathGet} {
		if status, body := get(srv.URL + p + "?media_id=ID"); status != http.StatusOK || !bytes.Equal(body, media) {
			t.Errorf("%s while %d waits run: %d %q, want 200 and the file", p, waits, status, body)
		}
	}
	if n := ended.Load(); n != 0 {
		t.Errorf("%d of the waits ended before get answered, want all still waiting", n)
	}
	stop()
	wg.Wait()
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
