package rie

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/wxmedia/wxmedia/internal/awstest"
	"github.com/wxmedia/wxmedia/internal/stacktest"
)

// The test binary is also the function the tests run under the emulator:
// with fnEnv set, TestMain serves Lambda invocations instead of running
// the tests. So no go build runs beside the tests.
const fnEnv = "RIE_TEST_FUNCTION=1"

func TestMain(m *testing.M) {
	if os.Getenv("RIE_TEST_FUNCTION") == "1" {
		lambda.Start(handle) // does not return
	}
	os.Exit(m.Run())
}

// event is what the test function is asked to do.
type event struct {
	Echo  string `json:"echo"`
	Fail  string `json:"fail"`  // an error with this message
	Exit  int    `json:"exit"`  // the process exits with this code
	Sleep string `json:"sleep"` // a duration to sleep first
	Log   string `json:"log"`   // a line written to stdout
}

// echo is the test function's answer.
type echo struct {
	Echo string `json:"echo"`
	PID  int    `json:"pid"`
}

func handle(ctx context.Context, e event) (echo, error) {
	if e.Log != "" {
		fmt.Println(e.Log)
	}
	if e.Sleep != "" {
		d, err := time.ParseDuration(e.Sleep)
		if err != nil {
			return echo{}, err
		}
		// Past its deadline too: returning when the context ends would race
		// the emulator's own timeout, which is what the test is about.
		time.Sleep(d)
	}
	if e.Exit != 0 {
		os.Exit(e.Exit)
	}
	if e.Fail != "" {
		return echo{}, errors.New(e.Fail)
	}
	return echo{Echo: e.Echo, PID: os.Getpid()}, nil
}

// fnBootstrap is the test binary, the function's bootstrap.
func fnBootstrap(t *testing.T) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// start runs the test function under the emulator with a 1 s timeout, stopped
// when the test ends.
func start(t *testing.T, log io.Writer) *Emulator {
	t.Helper()
	bin := awstest.Tool(t, DefaultBinary)
	em, err := Start(context.Background(), Options{Binary: bin, Bootstrap: fnBootstrap(t), Log: log,
		Env: []string{"PATH=" + os.Getenv("PATH"), fnEnv, "AWS_LAMBDA_FUNCTION_TIMEOUT=1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	return em
}

func decodeEcho(t *testing.T, res Result) echo {
	t.Helper()
	var a echo
	if err := json.Unmarshal(res.Body, &a); err != nil {
		t.Fatalf("answer %s: %v", res.Body, err)
	}
	return a
}

func last(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}

// TestInvoke runs one emulator through what a function can do: answer,
// fail, time out, crash, and start again after each.
func TestInvoke(t *testing.T) {
	log := &stacktest.Logs{}
	em := start(t, log)
	ctx := context.Background()

	t.Run("ColdAnswer", func(t *testing.T) {
		res, err := em.Invoke(ctx, []byte(`{"echo":"cold"}`))
		if err != nil {
			t.Fatalf("got %v, want an answer", err)
		}
		if a := decodeEcho(t, res); res.Status != 200 || a.Echo != "cold" {
			t.Errorf("got %d %s, want 200 echoing cold", res.Status, res.Body)
		}
		if res.Init <= 0 || res.Duration <= 0 || res.RoundTrip < res.Duration {
			t.Errorf("got init %v, duration %v, round trip %v: want an init, a duration, and a round trip no shorter", res.Init, res.Duration, res.RoundTrip)
		}
		if !strings.HasPrefix(last(res.Log), "REPORT RequestId:") || !strings.Contains(strings.Join(res.Log, "\n"), "INIT REPORT") {
			t.Errorf("log: want the INIT REPORT and, last, the REPORT line in\n%s", strings.Join(res.Log, "\n"))
		}
	})
	t.Run("WarmAnswer", func(t *testing.T) {
		res, err := em.Invoke(ctx, []byte(`{"echo":"warm","log":"a line from the function"}`))
		if err != nil {
			t.Fatalf("got %v, want an answer", err)
		}
		if a := decodeEcho(t, res); a.Echo != "warm" || res.Init != 0 || res.Duration <= 0 {
			t.Errorf("got %s, init %v, duration %v: want warm, no init, a duration", res.Body, res.Init, res.Duration)
		}
		joined := strings.Join(res.Log, "\n")
		if !strings.Contains(joined, "a line from the function") || strings.Contains(joined, "INIT REPORT") {
			t.Errorf("log: want this invocation's lines only, the function's included; got\n%s", joined)
		}
		if !strings.Contains(log.String(), "a line from the function\n") {
			t.Errorf("Options.Log: no line from the function in\n%s", log)
		}
	})
	for _, tc := range []struct {
		name, event string
		status      int
		want        FunctionError
	}{
		{"ErrFunction", `{"fail":"boom"}`, 200, FunctionError{Type: "errorString", Message: "boom"}},
		{"ErrTimeout", `{"sleep":"5s"}`, 200, FunctionError{Type: "Sandbox.Timedout", Message: "Task timed out after 1.00 seconds"}},
		{"ErrCrash", `{"exit":3}`, 502, FunctionError{Type: "Runtime.ExitError"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := em.Invoke(ctx, []byte(tc.event))
			var fe *FunctionError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v (%s), want a *FunctionError", err, res.Body)
			}
			if fe.Type != tc.want.Type || (tc.want.Message != "" && fe.Message != tc.want.Message) || res.Status != tc.status {
				t.Errorf("got %d %+v, want %d %+v", res.Status, *fe, tc.status, tc.want)
			}
			// The runtime starts again.
			again, err := em.Invoke(ctx, []byte(`{"echo":"again"}`))
			if err != nil || decodeEcho(t, again).Echo != "again" {
				t.Fatalf("next invocation: got %v %s, want an answer", err, again.Body)
			}
			if tc.name != "ErrFunction" && again.Init <= 0 {
				t.Errorf("next invocation: no init, want the runtime started again")
			}
		})
	}
}

// running reports whether the process pid runs (a zombie does not).
func running(pid int) bool {
	if runtime.GOOS == "linux" {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		// pid (comm) state …: the state follows the last ')'.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		return len(f) > 0 && f[0] != "Z" && f[0] != "X"
	}
	p, err := os.FindProcess(pid)
	return err == nil && p.Signal(syscall.Signal(0)) == nil
}

// TestClose: the emulator and the bootstrap it started are gone.
func TestClose(t *testing.T) {
	em := start(t, nil)
	res, err := em.Invoke(context.Background(), []byte(`{"echo":"pid"}`))
	if err != nil {
		t.Fatal(err)
	}
	pid := decodeEcho(t, res).PID
	if !running(pid) {
		t.Fatalf("bootstrap %d: not running before Close", pid)
	}
	if err := em.Close(); err != nil {
		t.Errorf("Close: %v, want nil", err)
	}
	for deadline := time.Now().Add(5 * time.Second); running(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("bootstrap %d still running 5 s after Close", pid)
		}
	}
	if c, err := net.Dial("tcp", em.Addr()); err == nil {
		c.Close()
		t.Errorf("%s: still accepting connections after Close", em.Addr())
	}
	if _, err := em.Invoke(context.Background(), []byte(`{}`)); err == nil {
		t.Error("Invoke after Close: no error")
	}
}

func TestStartErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := Start(ctx, Options{Binary: "no-such-aws-lambda-rie", Bootstrap: fnBootstrap(t)})
		var ee *exec.Error
		if !errors.Is(err, ErrNotFound) || !errors.As(err, &ee) || !strings.Contains(err.Error(), "Runtime Interface Emulator") {
			t.Errorf("got %v, want ErrNotFound wrapping *exec.Error", err)
		}
	})
	t.Run("ErrNoBootstrap", func(t *testing.T) {
		_, err := Start(ctx, Options{Binary: awstest.Tool(t, DefaultBinary), Bootstrap: filepath.Join(t.TempDir(), "bootstrap")})
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("got %v, want os.ErrNotExist", err)
		}
	})
	t.Run("ErrExited", func(t *testing.T) {
		_, err := Start(ctx, Options{Binary: script(t, "echo cannot start >&2; exit 3"), Bootstrap: fnBootstrap(t)})
		var xe *ExitedError
		if !errors.As(err, &xe) || !strings.Contains(xe.Output, "cannot start") || !strings.Contains(err.Error(), "exit status 3") {
			t.Errorf("got %v, want an *ExitedError with the status and the output", err)
		}
	})
	t.Run("ErrStartTimeout", func(t *testing.T) {
		pidFile := filepath.Join(t.TempDir(), "pid")
		start := time.Now()
		_, err := Start(ctx, Options{Binary: script(t, "echo $$ > "+pidFile+"; exec sleep 30"), Bootstrap: fnBootstrap(t), StartTimeout: 300 * time.Millisecond})
		if !errors.Is(err, ErrStartTimeout) || time.Since(start) > 5*time.Second {
			t.Errorf("got %v after %v, want ErrStartTimeout soon", err, time.Since(start))
		}
		data, rerr := os.ReadFile(pidFile)
		var pid int
		if _, serr := fmt.Sscan(string(data), &pid); rerr != nil || serr != nil {
			t.Fatalf("the script's pid: %v %v", rerr, serr)
		}
		if running(pid) {
			t.Errorf("the emulator %d still runs after Start failed", pid)
		}
	})
}

// script is an executable shell script with body, standing in for the
// emulator.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fake-rie")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFunctionError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   *FunctionError
	}{
		{"HTTPAnswer", 200, `{"statusCode":500,"body":"{\"errcode\":-1}"}`, nil},
		{"S3Summary", 200, `{"done":[]}`, nil},
		{"String", 200, `"ok"`, nil},
		{"Function", 200, `{"errorMessage":"malformed S3 event: x","errorType":"wrapError"}`, &FunctionError{"wrapError", "malformed S3 event: x"}},
		{"Panic", 200, `{"errorMessage":"boom","errorType":"Runtime.Panic","stackTrace":[]}`, &FunctionError{"Runtime.Panic", "boom"}},
		{"NoType", 200, `{"errorMessage":"boom"}`, &FunctionError{"Unhandled", "boom"}},
		{"Timeout", 200, `Task timed out after 3.00 seconds`, &FunctionError{"Sandbox.Timedout", "Task timed out after 3.00 seconds"}},
		{"Crash", 502, `{"errorType":"Runtime.ExitError","errorMessage":"exit status 3"}`, &FunctionError{"Runtime.ExitError", "exit status 3"}},
		{"Emulator", 502, ``, &FunctionError{"Emulator.HTTP502", "Bad Gateway"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := functionError(tc.status, []byte(tc.body))
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDurations(t *testing.T) {
	for _, tc := range []struct {
		name         string
		lines        []string
		init, invoke time.Duration
	}{
		{"Cold", []string{
			"03 Dec 2026 18:47:34,950 [INFO] (rapid) INIT REPORT(durationMs: 9.751000)",
			"03 Dec 2026 18:47:34,952 [INFO] (rapid) INVOKE RTDONE(status: success, produced bytes: 0, duration: 2.196000ms)",
			"REPORT RequestId: 52a8\tInit Duration: 0.05 ms\tDuration: 12.80 ms\tBilled Duration: 13 ms",
		}, 9751 * time.Microsecond, 2196 * time.Microsecond},
		{"Warm", []string{
			"03 Dec 2026 18:47:34,976 [INFO] (rapid) INVOKE RTDONE(status: success, produced bytes: 0, duration: 1.856000ms)",
			"REPORT RequestId: 1275\tDuration: 2.16 ms\tBilled Duration: 3 ms",
		}, 0, 1856 * time.Microsecond},
		{"OnlyInitDuration", []string{"REPORT RequestId: 1\tInit Duration: 11.50 ms\tDuration: 2.16 ms"}, 11500 * time.Microsecond, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			init, invoke := durations(tc.lines)
			if init != tc.init || invoke != tc.invoke {
				t.Errorf("got init %v invoke %v, want %v %v", init, invoke, tc.init, tc.invoke)
			}
		})
	}
}

// The output is passed on in whole lines, however it is written.
func TestOutputLines(t *testing.T) {
	log := &stacktest.Logs{}
	o := newOutput(log)
	for _, p := range []string{"STA", "RT RequestId: 1\nsome ", "log\nREPORT RequestId: 1\tDuration: 1 ms\n", "tail"} {
		o.Write([]byte(p))
		if s := log.String(); s != "" && !strings.HasSuffix(s, "\n") {
			t.Fatalf("after %q: Log got %q, want whole lines", p, s)
		}
	}
	if o.reports() != 1 {
		t.Errorf("reports: got %d, want 1", o.reports())
	}
	o.flush()
	if got, want := o.take(), []string{"STA" + "RT RequestId: 1", "some log", "REPORT RequestId: 1\tDuration: 1 ms", "tail"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines: got %q, want %q", got, want)
	}
	if got := log.String(); got != o.String()+"\n" {
		t.Errorf("Log got %q, want everything written and a newline after the last line", got)
	}
}
