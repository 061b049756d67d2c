package rie

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultBinary is the emulator's command, as `go install` names it.
const DefaultBinary = "aws-lambda-rie"

// InvokePath is the emulator's invoke API, Lambda's Invoke for a function
// named "function".
const InvokePath = "/2015-03-31/functions/function/invocations"

// Options configure Start. Zero values become defaults in Start.
type Options struct {
	// Bootstrap is the function's executable, built for this machine
	// (required). The emulator runs it in its own directory, as Lambda
	// runs /var/task/bootstrap.
	Bootstrap string
	// Binary is the emulator: a path, or a command looked up on PATH
	// (default DefaultBinary).
	Binary string
	// Env is the environment of the emulator, and so of the function
	// (AWS_LAMBDA_FUNCTION_TIMEOUT sets its timeout); nil means this
	// process's, as for exec.Cmd.
	Env []string
	// Log receives the emulator's and the function's output, a whole line
	// at a time; nil discards it (Emulator.Output and Result.Log keep it).
	Log io.Writer
	// StartTimeout bounds the wait for the emulator to listen (default 10 s).
	StartTimeout time.Duration
	// InvokeTimeout bounds one invocation's round trip (default the
	// function's timeout, AWS_LAMBDA_FUNCTION_TIMEOUT in Env or the
	// emulator's 300 s, plus 15 s).
	InvokeTimeout time.Duration
	// ReportWait bounds the wait, once the function has answered, for the
	// emulator's REPORT line of the invocation, which it logs just after
	// the answer (default 2 s).
	ReportWait time.Duration
}

// Errors of Start and Invoke besides *FunctionError and *ExitedError.
var (
	// ErrNotFound is an emulator binary that is not there; the error also
	// wraps exec.LookPath's.
	ErrNotFound = errors.New("the Lambda Runtime Interface Emulator was not found")
	// ErrStartTimeout is an emulator still not listening after
	// Options.StartTimeout.
	ErrStartTimeout = errors.New("the emulator did not listen in time")
)

// ExitedError is an emulator that exited while it should have been
// running: before it listened, or during an invocation.
type ExitedError struct {
	Err    error  // what waiting for the process returned
	Output string // everything it and the function wrote
}

func (e *ExitedError) Error() string {
	if e.Err == nil {
		return "the emulator exited"
	}
	return "the emulator exited: " + e.Err.Error()
}

func (e *ExitedError) Unwrap() error { return e.Err }

// Emulator is a running aws-lambda-rie with one function. Its methods are
// safe for concurrent use; invocations run one at a time, as the emulator
// runs them.
type Emulator struct {
	opts   Options
	addr   string // the invoke API, 127.0.0.1:port
	cmd    *exec.Cmd
	out    *output
	client *http.Client
	tr     *http.Transport

	exited  chan struct{} // closed once the process is waited for
	waitErr error         // set before exited is closed

	invoking  sync.Mutex
	closeOnce sync.Once
}

// LookPath finds the emulator's binary, a path or a command on PATH, and
// answers its absolute path. An empty name is DefaultBinary.
func LookPath(name string) (string, error) {
	if name == "" {
		name = DefaultBinary
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return filepath.Abs(p)
}

// Start runs the emulator with opts.Bootstrap on free 127.0.0.1 ports and
// returns once it listens. ctx bounds the start only: the emulator runs
// until Close.
func Start(ctx context.Context, opts Options) (*Emulator, error) {
	if opts.Bootstrap == "" {
		return nil, errors.New("rie: Options.Bootstrap is required")
	}
	bin, err := LookPath(opts.Binary)
	if err != nil {
		return nil, err
	}
	bootstrap, err := filepath.Abs(opts.Bootstrap)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bootstrap); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Second
	}
	if opts.InvokeTimeout <= 0 {
		opts.InvokeTimeout = functionTimeout(opts.Env) + 15*time.Second
	}
	if opts.ReportWait <= 0 {
		opts.ReportWait = 2 * time.Second
	}

	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// The runtime API's default, 127.0.0.1:9001, is make local's Secrets
	// Manager: always a free port.
	runtimeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--runtime-interface-emulator-address", addr, "--runtime-api-address", runtimeAddr, bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = opts.Env
	out := newOutput(opts.Log)
	cmd.Stdout, cmd.Stderr = out, out
	// A bootstrap that outlives the emulator keeps the output pipe open:
	// don't wait for it.
	cmd.WaitDelay = time.Second
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	tr := &http.Transport{}
	e := &Emulator{opts: opts, addr: addr, cmd: cmd, out: out, tr: tr, client: &http.Client{Transport: tr},
		exited: make(chan struct{})}
	go func() {
		e.waitErr = cmd.Wait()
		out.flush()
		close(e.exited)
	}()
	if err := e.waitListening(ctx); err != nil {
		e.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	return e, nil
}

// functionTimeout is the timeout the emulator gives the function.
func functionTimeout(env []string) time.Duration {
	if env == nil {
		env = os.Environ()
	}
	timeout := 300 * time.Second
	for _, kv := range env { // the last one wins, as in exec.Cmd
		if v, ok := strings.CutPrefix(kv, "AWS_LAMBDA_FUNCTION_TIMEOUT="); ok {
			if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s > 0 {
				timeout = time.Duration(s) * time.Second
			}
		}
	}
	return timeout
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitListening polls the invoke API's port until it accepts a connection.
func (e *Emulator) waitListening(ctx context.Context) error {
	deadline := time.NewTimer(e.opts.StartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", e.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-e.exited:
			return e.exitedError()
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("%w: nothing listens on %s after %s", ErrStartTimeout, e.addr, e.opts.StartTimeout)
		case <-tick.C:
		}
	}
}

// exitedError is an *ExitedError if the process has exited, else nil.
func (e *Emulator) exitedError() error {
	select {
	case <-e.exited:
		return &ExitedError{Err: e.waitErr, Output: e.out.String()}
	default:
		return nil
	}
}

// Addr is the emulator's invoke API, "127.0.0.1:port".
func (e *Emulator) Addr() string { return e.addr }

// Output is everything the emulator and the function have written so far.
func (e *Emulator) Output() string { return e.out.String() }

// Result is the emulator's answer to one invocation.
type Result struct {
	Status int    // the emulator's HTTP status
	Body   []byte // the function's answer, or Lambda's error document
	// Init is the runtime's init that this invocation waited for, as the
	// emulator's INIT REPORT timed it: the first invocation's, or the one
	// after a timeout or a crash; zero if the runtime was up.
	Init time.Duration
	// Duration is the invocation as the emulator timed it (INVOKE RTDONE),
	// zero if it logged none (a crash).
	Duration time.Duration
	// RoundTrip is the post's round trip as the caller saw it, init
	// included.
	RoundTrip time.Duration
	// Log is the emulator's and the function's lines since the previous
	// invocation's, up to this one's REPORT line.
	Log []string
}

// Invoke posts payload as the function's event and answers the result,
// once the emulator has logged its REPORT line (or Options.ReportWait has
// passed). If the function failed, the error is a *FunctionError and the
// Result is the emulator's answer all the same; other errors mean there
// was no answer.
func (e *Emulator) Invoke(ctx context.Context, payload []byte) (Result, error) {
	e.invoking.Lock()
	defer e.invoking.Unlock()
	if err := e.exitedError(); err != nil {
		return Result{}, fmt.Errorf("invoke: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, e.opts.InvokeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+e.addr+InvokePath, bytes.NewReader(payload))
	if err != nil {
		return Result{}, fmt.Errorf("invoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	reports := e.out.reports()
	start := time.Now()
	resp, err := e.client.Do(req)
	if err != nil {
		// An emulator that died cuts the connection, just before Wait
		// returns: say so.
		if ctx.Err() == nil {
			select {
			case <-e.exited:
				return Result{}, fmt.Errorf("invoke: %w", e.exitedError())
			case <-time.After(100 * time.Millisecond):
			}
		}
		return Result{}, fmt.Errorf("invoke: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	res := Result{Status: resp.StatusCode, Body: body, RoundTrip: time.Since(start)}
	if err != nil {
		return res, fmt.Errorf("invoke: read the answer: %w", err)
	}
	// A crashed runtime (a 5xx) gets no REPORT line.
	if resp.StatusCode == http.StatusOK {
		e.waitReport(ctx, reports)
	}
	res.Log = e.out.take()
	res.Init, res.Duration = durations(res.Log)
	if fe := functionError(resp.StatusCode, body); fe != nil {
		return res, fe
	}
	return res, nil
}

// waitReport waits until the emulator has logged more than seen REPORT
// lines, for Options.ReportWait at the most.
func (e *Emulator) waitReport(ctx context.Context, seen int) {
	timeout := time.NewTimer(e.opts.ReportWait)
	defer timeout.Stop()
	for {
		changed, done := e.out.waitReports(seen)
		if done {
			return
		}
		select {
		case <-changed:
		case <-e.exited:
			return
		case <-ctx.Done():
			return
		case <-timeout.C:
			return
		}
	}
}

// Close stops the emulator and the bootstrap it started: SIGTERM, then
// SIGKILL after 2 s. It answers an *ExitedError if the emulator had exited
// before, else nil.
func (e *Emulator) Close() error {
	var err error
	e.closeOnce.Do(func() {
		err = e.exitedError()
		signalGroup(e.cmd, syscall.SIGTERM)
		select {
		case <-e.exited:
		case <-time.After(2 * time.Second):
			signalGroup(e.cmd, syscall.SIGKILL)
			<-e.exited
		}
		// The bootstrap would exit once its runtime API is gone; make sure.
		signalGroup(e.cmd, syscall.SIGKILL)
		e.tr.CloseIdleConnections()
	})
	return err
}

// Pid is the emulator's process id; the function's bootstrap is its child.
func (e *Emulator) Pid() int { return e.cmd.Process.Pid }
