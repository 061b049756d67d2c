package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wxmedia/wxmedia/internal/rie"
)

// functions are the media Lambda functions, by folder under functions/
// (component's pushes call no media API: it is left out).
var functions = []string{"upload", "get", "uploadimg"}

// maxBootstrap is the size target of an arm64 bootstrap.
const maxBootstrap = 15_000_000

// buildBootstraps builds every function for linux/arm64 as the Makefile's
// build targets do, and answers their sizes; then for the host's
// architecture into a temporary directory, for the emulator. The host build
// leaves out -trimpath, which changes nothing at run time, so that it
// shares the build cache with go test's packages: a cold cache costs one
// build of the AWS SDK less.
func buildBootstraps(ctx context.Context, goCmd string) (map[string]int64, string, error) {
	arm, err := os.MkdirTemp("", "wxmedia-bench-arm64-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(arm)
	if err := goBuild(ctx, goCmd, "arm64", arm, "-trimpath"); err != nil {
		return nil, "", err
	}
	sizes := map[string]int64{}
	for _, fn := range functions {
		st, err := os.Stat(filepath.Join(arm, fn))
		if err != nil {
			return nil, "", err
		}
		sizes[fn] = st.Size()
	}
	host, err := os.MkdirTemp("", "wxmedia-bench-host-")
	if err != nil {
		return nil, "", err
	}
	if err := goBuild(ctx, goCmd, runtime.GOARCH, host); err != nil {
		os.RemoveAll(host)
		return nil, "", err
	}
	return sizes, host, nil
}

func goBuild(ctx context.Context, goCmd, arch, dir string, flags ...string) error {
	args := append([]string{"build", "-tags", "lambda.norpc", "-ldflags=-s -w", "-o", dir + string(filepath.Separator)}, flags...)
	for _, fn := range functions {
		args = append(args, "./functions/"+fn)
	}
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build linux/%s bootstraps: %w", arch, err)
	}
	return nil
}

// coldStart is one function's cold start under the emulator.
type coldStart struct {
	fn string
	// initCalls counts the calls to Secrets Manager, WeChat and S3 from a
	// cold start whose first invocation is refused by validation: init's
	// calls, if any.
	initCalls int64
	// Medians over coldRuns cold starts: the emulator's INIT REPORT
	// duration, the first invocation as the emulator times it (INVOKE
	// RTDONE) and as a client sees it (init included: the emulator starts
	// the function on the first invocation), and a second, warm invocation.
	initMS, firstMS, firstClientMS, warmMS float64
	// firstCalls and warmCalls are the calls each invocation made.
	firstCalls, warmCalls counts
	reportLines           []string // the emulator's lines of the last run
}

const coldRuns = 3

// coldStarts cold-starts each function's bootstrap (in dir) under the
// emulator against make local's backends: once with a request refused
// before any call, to count init's own calls, then coldRuns times with a
// request that does the whole job, followed by a warm one.
func coldStarts(ctx context.Context, emulator, dir string) ([]coldStart, error) {
	be, err := startBackends()
	if err != nil {
		return nil, err
	}
	defer be.close()
	home, err := os.MkdirTemp("", "wxmedia-bench-home-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(home)
	var out []coldStart
	var mediaIDs []string // upload's, for get
	for _, fn := range functions {
		opts := rie.Options{Binary: emulator, Bootstrap: filepath.Join(dir, fn), Env: be.env(fn, home)}
		cs := coldStart{fn: fn}

		before := be.counts()
		want := refused[fn]
		status, errcode, err := coldInvoke(ctx, opts, want.event)
		if err != nil {
			return nil, fmt.Errorf("%s, refused request: %w", fn, err)
		}
		if status != want.status || errcode != want.errcode {
			return nil, fmt.Errorf("%s: refused request answered %d errcode %d, want %d errcode %d", fn, status, errcode, want.status, want.errcode)
		}
		cs.initCalls = be.counts().minus(before).total()

		var inits, firsts, clients, warms []float64
		for run := range coldRuns {
			var jobs [2][]byte
			for i := range jobs {
				if jobs[i], err = job(fn, 2*run+i, mediaIDs); err != nil {
					return nil, err
				}
			}
			first, warm, calls, err := coldRun(ctx, opts, be, jobs[0], jobs[1])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", fn, err)
			}
			if fn == "upload" {
				// Forget that this deployment uploaded them: get's whole job,
				// measured here, is fetching them from WeChat.
				ids := []string{mediaID(first), mediaID(warm)}
				if err := be.forget(ids); err != nil {
					return nil, err
				}
				mediaIDs = append(mediaIDs, ids...)
			}
			inits = append(inits, ms(first.Init))
			firsts = append(firsts, ms(first.Duration))
			clients = append(clients, ms(first.RoundTrip))
			warms = append(warms, ms(warm.Duration))
			cs.firstCalls, cs.warmCalls = calls[0], calls[1]
			cs.reportLines = reportLines(append(first.Log, warm.Log...))
		}
		cs.initMS, cs.firstMS, cs.firstClientMS, cs.warmMS = medianF(inits), medianF(firsts), medianF(clients), medianF(warms)
		out = append(out, cs)
	}
	return out, nil
}

// coldInvoke cold-starts the function with one event and answers the
// status and the WeChat errcode of its HTTP answer.
func coldInvoke(ctx context.Context, opts rie.Options, event []byte) (status, errcode int, _ error) {
	em, err := rie.Start(ctx, opts)
	if err != nil {
		return 0, 0, err
	}
	defer em.Close()
	res, err := em.Invoke(ctx, event)
	if err != nil {
		return 0, 0, fmt.Errorf("%w\n%s", err, em.Output())
	}
	a, err := httpAnswer(res)
	if err != nil {
		return 0, 0, fmt.Errorf("%w\n%s", err, em.Output())
	}
	var body struct {
		ErrCode int `json:"errcode"`
	}
	_ = json.Unmarshal([]byte(a.Body), &body)
	return a.StatusCode, body.ErrCode, nil
}

// coldRun cold-starts the function with the first event, then sends the
// warm one, each of which must be answered 200, and counts the calls each
// made.
func coldRun(ctx context.Context, opts rie.Options, be *backends, first, warm []byte) (rie.Result, rie.Result, [2]counts, error) {
	var calls [2]counts
	em, err := rie.Start(ctx, opts)
	if err != nil {
		return rie.Result{}, rie.Result{}, calls, err
	}
	defer em.Close()
	var res [2]rie.Result
	for i, event := range [][]byte{first, warm} {
		before := be.counts()
		res[i], err = em.Invoke(ctx, event)
		if err != nil {
			return res[0], res[1], calls, fmt.Errorf("invocation %d: %w\n%s", i+1, err, em.Output())
		}
		calls[i] = be.counts().minus(before)
		if a, err := httpAnswer(res[i]); err != nil || a.StatusCode != http.StatusOK {
			return res[0], res[1], calls, fmt.Errorf("invocation %d answered %s, want statusCode 200\n%s", i+1, res[i].Body, em.Output())
		}
	}
	if res[0].Init <= 0 || res[0].Duration <= 0 || res[1].Duration <= 0 {
		return res[0], res[1], calls, fmt.Errorf("no INIT REPORT or INVOKE RTDONE lines in the emulator's output:\n%s", em.Output())
	}
	return res[0], res[1], calls, nil
}

// apigwAnswer is a function's answer to an API Gateway request.
type apigwAnswer struct {
	StatusCode int    `json:"statusCode"`
	Body       string `json:"body"`
}

func httpAnswer(res rie.Result) (apigwAnswer, error) {
	var a apigwAnswer
	if err := json.Unmarshal(res.Body, &a); err != nil || a.StatusCode == 0 {
		return a, fmt.Errorf("the emulator answered %d %s: not an API Gateway answer", res.Status, res.Body)
	}
	return a, nil
}

// mediaID is the media_id of upload's answer, "" if none.
func mediaID(res rie.Result) string {
	a, _ := httpAnswer(res)
	var body struct {
		MediaID string `json:"media_id"`
	}
	_ = json.Unmarshal([]byte(a.Body), &body)
	return body.MediaID
}

// reportLines are the emulator's lines that time an invocation.
func reportLines(log []string) []string {
	var out []string
	for _, line := range log {
		if strings.Contains(line, "INIT REPORT") || strings.Contains(line, "INVOKE RTDONE") || strings.HasPrefix(line, "REPORT ") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func medianF(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// job is the i-th request that does fn's whole job: each its own object
// or media_id, since a result recorded for an object, or media already
// stored, is answered again without the work.
func job(fn string, i int, mediaIDs []string) ([]byte, error) {
	switch fn {
	case "upload":
		return httpEvent("POST", "/cgi-bin/media/upload", "type=image", `{"key":"`+coldKey(coldJPEG, i)+`"}`), nil
	case "uploadimg":
		return httpEvent("POST", "/cgi-bin/media/uploadimg", "", `{"key":"`+coldKey(coldPNG, i)+`"}`), nil
	case "get":
		if i >= len(mediaIDs) || mediaIDs[i] == "" {
			return nil, fmt.Errorf("get: no media_id %d from upload's answers (%d)", i, len(mediaIDs))
		}
		return httpEvent("GET", "/cgi-bin/media/get", "media_id="+mediaIDs[i], ""), nil
	}
	return nil, fmt.Errorf("no job for %s", fn)
}

// refused are requests that validation refuses before any call: what
// each function's service answers them today.
var refused = map[string]struct {
	event           []byte
	status, errcode int
}{
	// An unknown type.
	"upload": {httpEvent("POST", "/cgi-bin/media/upload", "type=bogus", `{"key":"`+coldJPEG+`"}`), 200, 40004},
	// No media_id.
	"get": {httpEvent("GET", "/cgi-bin/media/get", "", ""), 200, 41006},
	// A key with "..".
	"uploadimg": {httpEvent("POST", "/cgi-bin/media/uploadimg", "", `{"key":"../cold.png"}`), 200, 40035},
}

// httpEvent is an API Gateway HTTP API (payload 2.0) request.
func httpEvent(method, path, query, body string) []byte {
	qs := map[string]string{}
	for _, kv := range strings.Split(query, "&") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			qs[k] = v
		}
	}
	headers := map[string]string{"host": "bench.execute-api.us-east-1.amazonaws.com"}
	if body != "" {
		headers["content-type"] = "application/json"
		headers["content-length"] = strconv.Itoa(len(body))
	}
	ev := map[string]any{
		"version": "2.0", "routeKey": method + " " + path, "rawPath": path, "rawQueryString": query,
		"headers": headers, "queryStringParameters": qs, "isBase64Encoded": false, "body": body,
		"requestContext": map[string]any{
			"accountId": "123456789012", "apiId": "bench", "requestId": "bench", "routeKey": method + " " + path,
			"stage": "$default", "timeEpoch": 1795600800000,
			"http": map[string]any{"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7"},
		},
	}
	data, _ := json.Marshal(ev)
	return data
}
