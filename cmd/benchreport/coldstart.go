package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wxmedia/wxmedia/pkg/media"
)

// functions are the Lambda functions, by folder under functions/.
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
// emulator against local fakes: once with a request refused before any
// call, to count init's own calls, then coldRuns times with a request
// that does the whole job, followed by a warm one.
func coldStarts(ctx context.Context, rie, dir string) ([]coldStart, error) {
	fk := newFakes()
	defer fk.close()
	home, err := os.MkdirTemp("", "wxmedia-bench-home-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(home)
	var out []coldStart
	for _, fn := range functions {
		cs := coldStart{fn: fn}
		env := fk.env(fn, home)
		ev := events[fn]

		fk.reset()
		run, err := runRIE(ctx, rie, filepath.Join(dir, fn), env, [][]byte{ev.refused}, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fn, err)
		}
		if code := run.status[0]; code != ev.refusedStatus {
			return nil, fmt.Errorf("%s: refused request answered %d, want %d:\n%s", fn, code, ev.refusedStatus, run.log)
		}
		cs.initCalls = fk.counts().total()

		var inits, firsts, clients, warms []float64
		for range coldRuns {
			fk.reset()
			var first counts
			run, err := runRIE(ctx, rie, filepath.Join(dir, fn), env, [][]byte{ev.ok, ev.ok}, func(i int) {
				if i == 0 {
					first = fk.counts()
				}
			})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", fn, err)
			}
			for i, code := range run.status {
				if code != 200 {
					return nil, fmt.Errorf("%s: invocation %d answered %d, want 200:\n%s", fn, i+1, code, run.log)
				}
			}
			if len(run.invokeMS) < 2 || run.initMS < 0 {
				return nil, fmt.Errorf("%s: no INIT REPORT or INVOKE RTDONE lines in the emulator's output:\n%s", fn, run.log)
			}
			inits = append(inits, run.initMS)
			firsts = append(firsts, run.invokeMS[0])
			clients = append(clients, run.clientMS[0])
			warms = append(warms, run.invokeMS[1])
			cs.firstCalls = first
			cs.warmCalls = fk.counts().minus(first)
			cs.reportLines = run.reportLines
		}
		cs.initMS, cs.firstMS, cs.firstClientMS, cs.warmMS = medianF(inits), medianF(firsts), medianF(clients), medianF(warms)
		out = append(out, cs)
	}
	return out, nil
}

func medianF(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// An event pair for one function: a request that does the whole job, and
// one that validation refuses before any call.
type eventPair struct {
	ok, refused   []byte
	refusedStatus int
}

var events = map[string]eventPair{
	"upload": {httpEvent("POST", "/cgi-bin/media/upload", "type=image", `{"key":"samples/cold.jpg"}`),
		httpEvent("POST", "/cgi-bin/media/upload", "type=bogus", `{"key":"samples/cold.jpg"}`), 400},
	"get": {httpEvent("GET", "/cgi-bin/media/get", "media_id=COLD", ""),
		httpEvent("GET", "/cgi-bin/media/get", "", ""), 400},
	"uploadimg": {httpEvent("POST", "/cgi-bin/media/uploadimg", "", `{"key":"samples/cold.png"}`),
		httpEvent("POST", "/cgi-bin/media/uploadimg", "", `{"key":"../cold.png"}`), 400},
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

// rieRun is what one emulator run showed.
type rieRun struct {
	initMS      float64   // INIT REPORT durationMs, -1 if none
	invokeMS    []float64 // INVOKE RTDONE durations, in order
	clientMS    []float64 // each invocation's round trip, as the client saw it
	status      []int     // each answer's statusCode
	log         string
	reportLines []string
}

var (
	initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	rtDone     = regexp.MustCompile(`INVOKE RTDONE\(status: \w+.*duration: ([0-9.]+)ms\)`)
)

// runRIE starts the emulator with bootstrap, sends each payload in turn
// (after(i) runs once the i-th is answered), and stops it.
func runRIE(ctx context.Context, rie, bootstrap string, env []string, payloads [][]byte, after func(int)) (rieRun, error) {
	run := rieRun{initMS: -1}
	apiAddr, err := freeAddr()
	if err != nil {
		return run, err
	}
	rieAddr, err := freeAddr()
	if err != nil {
		return run, err
	}
	var logBuf syncBuffer
	cmd := exec.CommandContext(ctx, rie, "--runtime-api-address", apiAddr, "--runtime-interface-emulator-address", rieAddr, bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	if err := cmd.Start(); err != nil {
		return run, fmt.Errorf("start %s: %w", rie, err)
	}
	defer stopRIE(cmd, bootstrap)
	if err := waitListening(ctx, rieAddr, 10*time.Second); err != nil {
		return run, fmt.Errorf("emulator not listening on %s: %w\n%s", rieAddr, err, logBuf.String())
	}
	url := "http://" + rieAddr + "/2015-03-31/functions/function/invocations"
	client := &http.Client{Timeout: 60 * time.Second}
	for i, p := range payloads {
		start := time.Now()
		resp, err := client.Post(url, "application/json", bytes.NewReader(p))
		if err != nil {
			return run, fmt.Errorf("invoke: %w\n%s", err, logBuf.String())
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		run.clientMS = append(run.clientMS, float64(time.Since(start))/float64(time.Millisecond))
		if err != nil {
			return run, fmt.Errorf("invoke: read answer: %w", err)
		}
		var ans struct {
			StatusCode int `json:"statusCode"`
		}
		if err := json.Unmarshal(body, &ans); err != nil || resp.StatusCode != http.StatusOK {
			return run, fmt.Errorf("invoke answered %d %s\n%s", resp.StatusCode, body, logBuf.String())
		}
		run.status = append(run.status, ans.StatusCode)
		if after != nil {
			after(i)
		}
	}
	// The emulator logs RTDONE just after it answers: wait for the lines.
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if len(rtDone.FindAllString(logBuf.String(), -1)) >= len(payloads) {
			break
		}
	}
	run.log = logBuf.String()
	if m := initReport.FindStringSubmatch(run.log); m != nil {
		run.initMS = mustFloat(m[1])
	}
	for _, m := range rtDone.FindAllStringSubmatch(run.log, -1) {
		run.invokeMS = append(run.invokeMS, mustFloat(m[1]))
	}
	for _, line := range strings.Split(run.log, "\n") {
		if strings.Contains(line, "INIT REPORT") || strings.Contains(line, "INVOKE RTDONE") || strings.HasPrefix(line, "REPORT ") {
			run.reportLines = append(run.reportLines, strings.TrimSpace(line))
		}
	}
	return run, nil
}

// stopRIE kills the emulator it started, then the bootstrap the emulator
// started (in its own process group), found by the emulator's pid and
// checked by its command line. The bootstrap would exit by itself once
// its runtime API is gone; this makes sure.
func stopRIE(cmd *exec.Cmd, bootstrap string) {
	var children []int
	if tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", cmd.Process.Pid)); err == nil {
		for _, t := range tasks {
			data, _ := os.ReadFile(t)
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil {
					children = append(children, pid)
				}
			}
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	for _, pid := range children {
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && exe == bootstrap {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitListening(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// counts are the calls the fakes received.
type counts struct {
	secrets, token, wechat, s3 int64 // wechat: media calls, token apart
}

func (c counts) total() int64 { return c.secrets + c.token + c.wechat + c.s3 }

func (c counts) minus(d counts) counts {
	return counts{c.secrets - d.secrets, c.token - d.token, c.wechat - d.wechat, c.s3 - d.s3}
}

func (c counts) String() string {
	return fmt.Sprintf("Secrets Manager %d, stable_token %d, WeChat media %d, S3 %d", c.secrets, c.token, c.wechat, c.s3)
}

// fakes are local stand-ins for S3 (path style: HEAD, ranged GET, PUT),
// Secrets Manager (GetSecretValue) and WeChat (stable_token and the three
// media calls), on 127.0.0.1, counting the calls they get.
type fakes struct {
	s3, sm, wx                  *httptest.Server
	secrets, token, wechat, s3n atomic.Int64
	objects                     map[string][]byte
}

const coldBucket = "wxmedia-bench"

func newFakes() *fakes {
	f := &fakes{objects: map[string][]byte{
		"samples/cold.jpg": media.Sample(media.JPEG, 100<<10),
		"samples/cold.png": media.Sample(media.PNG, 100<<10),
	}}
	f.s3 = httptest.NewServer(http.HandlerFunc(f.serveS3))
	f.sm = httptest.NewServer(http.HandlerFunc(f.serveSecrets))
	f.wx = httptest.NewServer(http.HandlerFunc(f.serveWeChat))
	return f
}

func (f *fakes) close() { f.s3.Close(); f.sm.Close(); f.wx.Close() }

func (f *fakes) reset() {
	f.secrets.Store(0)
	f.token.Store(0)
	f.wechat.Store(0)
	f.s3n.Store(0)
}

func (f *fakes) counts() counts {
	return counts{f.secrets.Load(), f.token.Load(), f.wechat.Load(), f.s3n.Load()}
}

// env is the function's environment, as Lambda would set it, pointing at
// the fakes. No shared AWS config files and no instance metadata.
func (f *fakes) env(fn, home string) []string {
	none := filepath.Join(home, "none")
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TZ=UTC",
		"MEDIA_BUCKET=" + coldBucket, "WECHAT_SECRET_ID=wxmedia/bench", "WECHAT_API_BASE=" + f.wx.URL,
		"AWS_ENDPOINT_URL_S3=" + f.s3.URL, "AWS_ENDPOINT_URL_SECRETS_MANAGER=" + f.sm.URL,
		"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=AKIDBENCH", "AWS_SECRET_ACCESS_KEY=bench", "AWS_SESSION_TOKEN=bench",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=" + none, "AWS_SHARED_CREDENTIALS_FILE=" + none,
		"AWS_LAMBDA_FUNCTION_NAME=wxmedia-" + fn, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128", "AWS_LAMBDA_FUNCTION_TIMEOUT=30",
	}
}

func (f *fakes) serveS3(w http.ResponseWriter, r *http.Request) {
	f.s3n.Add(1)
	key, ok := strings.CutPrefix(r.URL.Path, "/"+coldBucket+"/")
	if !ok {
		http.Error(w, "no such bucket", http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodPut:
		io.Copy(io.Discard, r.Body)
		w.Header().Set("ETag", `"put"`)
		return
	case http.MethodHead, http.MethodGet:
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	data, ok := f.objects[key]
	if !ok {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)
		return
	}
	h := w.Header()
	h.Set("ETag", `"cold"`)
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Last-Modified", time.Unix(1795600800, 0).UTC().Format(http.TimeFormat))
	from, to := 0, len(data)-1
	status := http.StatusOK
	if rng := r.Header.Get("Range"); rng != "" && r.Method == http.MethodGet {
		a, b, _ := strings.Cut(strings.TrimPrefix(rng, "bytes="), "-")
		from, _ = strconv.Atoi(a)
		if b != "" {
			to, _ = strconv.Atoi(b)
		}
		to = min(to, len(data)-1)
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to, len(data)))
	}
	h.Set("Content-Length", strconv.Itoa(to-from+1))
	w.WriteHeader(status)
	if r.Method == http.MethodGet {
		w.Write(data[from : to+1])
	}
}

func (f *fakes) serveSecrets(w http.ResponseWriter, r *http.Request) {
	f.secrets.Add(1)
	io.Copy(io.Discard, r.Body)
	if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" {
		http.Error(w, "unexpected call", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	io.WriteString(w, `{"ARN":"arn:aws:secretsmanager:us-east-1:123456789012:secret:wxmedia/bench-AbCdEf","Name":"wxmedia/bench",`+
		`"SecretString":"{\"appid\":\"wxbench\",\"appsecret\":\"bench\"}","VersionId":"v1"}`)
}

func (f *fakes) serveWeChat(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/cgi-bin/stable_token" {
		f.token.Add(1)
		io.Copy(io.Discard, r.Body)
		reply(w, `{"access_token":"COLDTOKEN","expires_in":7200}`)
		return
	}
	f.wechat.Add(1)
	if r.URL.Query().Get("access_token") != "COLDTOKEN" {
		reply(w, `{"errcode":40001,"errmsg":"invalid credential"}`)
		return
	}
	switch r.URL.Path {
	case "/cgi-bin/media/upload":
		io.Copy(io.Discard, r.Body)
		reply(w, fmt.Sprintf(`{"type":%q,"media_id":"COLD","created_at":%d}`, r.URL.Query().Get("type"), time.Now().Unix()))
	case "/cgi-bin/media/uploadimg":
		io.Copy(io.Discard, r.Body)
		reply(w, `{"url":"http://mmbiz.qpic.cn/mmbiz_png/bench/0"}`)
	case "/cgi-bin/media/get":
		data := f.objects["samples/cold.jpg"]
		w.Header().Set("Content-Type", "image/jpeg")
		w.Header().Set("Content-Disposition", `attachment; filename="COLD.jpg"`)
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data)
	default:
		reply(w, `{"errcode":40066,"errmsg":"invalid url"}`)
	}
}

func reply(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, body)
}
