// Command invoke runs one wxmedia function with one event, as `sam local
// invoke` does but without Docker: it builds ./functions/<fn> for this
// machine, runs the bootstrap under the AWS Lambda Runtime Interface
// Emulator (the emulator inside SAM's images), posts the event, prints the
// answer on stdout and exits 1 if the invocation failed (a Lambda error).
//
//	go run ./cmd/invoke -fn upload -event events/s3-put-upload-image.json -rie .bin/aws-lambda-rie
//
// The function's backends default to those of a running `make local`; -h
// lists the variables that change them.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wxmedia/wxmedia/internal/localaws"
	"github.com/wxmedia/wxmedia/internal/rie"
)

const usage = `Usage: make invoke FN=<upload|get|uploadimg> EVENT=<file.json>
   or: go run ./cmd/invoke -fn <function> -event <file.json | -> [-rie <path>] [-timeout 60s] [-bootstrap <path>]

Builds ./functions/<fn> for this machine (-tags lambda.norpc), runs it under
the AWS Lambda Runtime Interface Emulator on a free 127.0.0.1 port, posts the
event, prints the function's answer on stdout (its logs and the emulator's
START/END/REPORT lines on stderr) and exits 1 on a Lambda error.

The function's environment is this one, plus defaults for what is unset
(a variable set to the empty string counts as set), which point at the
backends of a running ` + "`make local`" + `, found through the state file it
writes: $WXMEDIA_LOCAL_STATE if set; else, in $WXMEDIA_LOCAL_STATE_DIR
($TMPDIR/wxmedia-local), local-<port>.json of the one whose API is on
$LOCAL_PORT, or of the only one running. With none running, or several and
no LOCAL_PORT, it stops and says so rather than guess ports that may be
another stack's. The defaults:
  MEDIA_BUCKET, WECHAT_SECRET_ID     make local's (wxmedia-local, wxmedia/local)
  WECHAT_API_BASE                    make local's WeChat simulator
  AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL_EVENTBRIDGE
                                     make local's (none if AWS_ENDPOINT_URL is set)
  LOCAL_WECHAT_PORT, LOCAL_S3_PORT, LOCAL_SM_PORT, when set, give the port
  of the first three on 127.0.0.1 over make local's.
  AWS_REGION                         us-east-1 (unless AWS_DEFAULT_REGION is set)
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   made up (unless either, or AWS_PROFILE, is set)
  AWS_LAMBDA_FUNCTION_TIMEOUT        the function's Timeout in template.yaml, or -timeout
  AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_MEMORY_SIZE   wxmedia-<fn>, 128
To use real AWS, set the endpoints to the empty string, e.g.
  AWS_ENDPOINT_URL_S3= AWS_ENDPOINT_URL_SECRETS_MANAGER= MEDIA_BUCKET=my-bucket WECHAT_SECRET_ID=my-secret make invoke ...

Flags:
`

// Timeouts are the functions' Timeout in template.yaml.
var timeouts = map[string]time.Duration{"upload": 60 * time.Second, "uploadimg": 60 * time.Second, "get": 29 * time.Second, "component": 29 * time.Second}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(cli(ctx, os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr))
}

// cli runs the command and returns its exit code: 0 when the function
// answered, 1 on a Lambda error or a failure to invoke, 2 on bad usage.
func cli(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fn := fs.String("fn", "", "the function: a folder of ./functions (upload, get, uploadimg, component)")
	eventPath := fs.String("event", "", "the event's JSON file, or - for stdin")
	emulator := fs.String("rie", rie.DefaultBinary, "the Runtime Interface Emulator's binary (make installs it at .bin/aws-lambda-rie)")
	timeout := fs.Duration("timeout", 0, "the function timeout (default: its Timeout in template.yaml)")
	bootstrap := fs.String("bootstrap", "", "a bootstrap already built for this machine (default: build ./functions/<fn>)")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *fn == "" || *eventPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "invoke: -fn and -event are required (and nothing else)")
		fs.Usage()
		return 2
	}
	event, err := readEvent(*eventPath, stdin)
	if err != nil {
		fmt.Fprintln(stderr, "invoke:", err)
		return 2
	}
	res, err := invoke(ctx, invocation{fn: *fn, event: event, rie: *emulator, bootstrap: *bootstrap, timeout: *timeout,
		environ: environ, log: stderr})
	var failed *rie.FunctionError
	if err != nil && !errors.As(err, &failed) {
		fmt.Fprintln(stderr, "invoke:", err)
		return 1
	}
	stdout.Write(res.Body)
	if len(res.Body) > 0 && res.Body[len(res.Body)-1] != '\n' {
		fmt.Fprintln(stdout)
	}
	if res.Init > 0 {
		fmt.Fprintf(stderr, "invoke: init duration %.2f ms\n", float64(res.Init)/float64(time.Millisecond))
	}
	if failed != nil {
		fmt.Fprintf(stderr, "invoke: %s failed: %v\n", *fn, failed)
		return 1
	}
	return 0
}

func readEvent(path string, stdin io.Reader) ([]byte, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read event: %w", err)
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("event %s is not valid JSON", path)
	}
	return data, nil
}

// invocation is one run of a function with one event.
type invocation struct {
	fn        string
	event     []byte
	rie       string        // the emulator's binary
	bootstrap string        // prebuilt; empty builds ./functions/<fn>
	timeout   time.Duration // default timeouts[fn]
	environ   []string      // the environment, defaults added by functionEnv
	log       io.Writer     // the emulator's and the function's output
}

// invoke builds the function if needed, starts the emulator with it,
// posts the event and stops the emulator. A function that failed answers
// a *rie.FunctionError with its result.
func invoke(ctx context.Context, inv invocation) (rie.Result, error) {
	if inv.log == nil {
		inv.log = io.Discard
	}
	if inv.timeout <= 0 {
		inv.timeout = timeouts[inv.fn]
		if inv.timeout <= 0 {
			inv.timeout = 60 * time.Second
		}
	}
	emulator, err := rie.LookPath(inv.rie)
	if err != nil {
		return rie.Result{}, fmt.Errorf("%w (make invoke installs it in .bin)", err)
	}
	dir, err := os.MkdirTemp("", "wxmedia-invoke-")
	if err != nil {
		return rie.Result{}, err
	}
	defer os.RemoveAll(dir)
	bootstrap := inv.bootstrap
	if bootstrap == "" {
		if bootstrap, err = build(ctx, inv.fn, dir, inv.log); err != nil {
			return rie.Result{}, err
		}
	}
	local := sync.OnceValues(func() (*localaws.State, error) { return findLocal(inv.environ, inv.log) })
	env, err := functionEnv(inv.environ, inv.fn, inv.timeout, local)
	if err != nil {
		return rie.Result{}, err
	}
	warnIfDown(env, inv.log)

	em, err := rie.Start(ctx, rie.Options{Binary: emulator, Bootstrap: bootstrap, Env: env, Log: inv.log})
	if err != nil {
		return rie.Result{}, err
	}
	defer em.Close()
	return em.Invoke(ctx, inv.event)
}

// build compiles ./functions/<fn> of the module in the working directory
// (or above it) into dir/bootstrap.
func build(ctx context.Context, fn, dir string, log io.Writer) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	pkg := filepath.Join(root, "functions", fn)
	if _, err := os.Stat(filepath.Join(pkg, "main.go")); err != nil {
		return "", fmt.Errorf("no function %q: want one of the folders of %s", fn, filepath.Join(root, "functions"))
	}
	out := filepath.Join(dir, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-o", out, "./functions/"+fn)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = log, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./functions/%s: %w\n%s", fn, err, stderr.Bytes())
	}
	return out, nil
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the wxmedia module: run from the repository (make invoke)")
	}
	return filepath.Dir(gomod), nil
}

// functionEnv is environ plus the defaults of the usage text for what it
// does not set. local answers the running make local, or why there is
// none; it is asked only if a default it would give is needed, and an
// endpoint it cannot give is an error, never a guessed port.
func functionEnv(environ []string, fn string, timeout time.Duration, local func() (*localaws.State, error)) ([]string, error) {
	set := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		set[k] = v
	}
	env := slices.Clone(environ)
	var missing error
	def := func(k string, v func() string) {
		if _, ok := set[k]; !ok {
			val := v()
			env = append(env, k+"="+val)
			set[k] = val
		}
	}
	fixed := func(v string) func() string { return func() string { return v } }
	// fromLocal is the running make local's value, or fallback when there
	// is none (a name, not an endpoint: the endpoints say where it is).
	fromLocal := func(field func(*localaws.State) string, fallback string) func() string {
		return func() string {
			if l, err := local(); err == nil && field(l) != "" {
				return field(l)
			}
			return fallback
		}
	}
	// endpoint is 127.0.0.1:$portVar if set, else the running make
	// local's (empty: AWS's own); with no make local, an error.
	endpoint := func(portVar, path string, field func(*localaws.State) string) func() string {
		return func() string {
			if p := strings.TrimSpace(set[portVar]); p != "" {
				return "http://127.0.0.1:" + p + path
			}
			l, err := local()
			if err != nil {
				missing = err
				return ""
			}
			return field(l)
		}
	}
	def("MEDIA_BUCKET", fromLocal(func(l *localaws.State) string { return l.Bucket }, "wxmedia-local"))
	def("WECHAT_SECRET_ID", fromLocal(func(l *localaws.State) string { return l.SecretID }, "wxmedia/local"))
	def("WECHAT_API_BASE", endpoint("LOCAL_WECHAT_PORT", "", func(l *localaws.State) string { return l.WeChat }))
	if _, ok := set["AWS_ENDPOINT_URL"]; !ok {
		def("AWS_ENDPOINT_URL_S3", endpoint("LOCAL_S3_PORT", "", func(l *localaws.State) string { return l.S3 }))
		def("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint("LOCAL_SM_PORT", "", func(l *localaws.State) string { return l.SecretsManager }))
		// make local's EventBridge is a path of its API's port; LOCAL_PORT
		// picks the make local, whose state says it.
		def("AWS_ENDPOINT_URL_EVENTBRIDGE", endpoint("", "", func(l *localaws.State) string { return l.EventBridge }))
	}
	if missing != nil {
		return nil, missing
	}
	if _, ok := set["AWS_DEFAULT_REGION"]; !ok {
		def("AWS_REGION", fixed("us-east-1"))
	}
	_, key := set["AWS_ACCESS_KEY_ID"]
	_, secret := set["AWS_SECRET_ACCESS_KEY"]
	_, profile := set["AWS_PROFILE"]
	if !key && !secret && !profile {
		def("AWS_ACCESS_KEY_ID", fixed("local"))
		def("AWS_SECRET_ACCESS_KEY", fixed("local"))
	}
	def("AWS_LAMBDA_FUNCTION_TIMEOUT", fixed(strconv.Itoa(int((timeout+time.Second-1)/time.Second))))
	def("AWS_LAMBDA_FUNCTION_NAME", fixed("wxmedia-"+fn))
	def("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", fixed("128"))
	return env, nil
}

// warnIfDown says so when a local backend the function will call is not
// running: most likely `make local` is not.
func warnIfDown(env []string, log io.Writer) {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if k != "AWS_ENDPOINT_URL_S3" && k != "AWS_ENDPOINT_URL_SECRETS_MANAGER" && k != "WECHAT_API_BASE" {
			continue
		}
		host, ok := strings.CutPrefix(v, "http://127.0.0.1:")
		if !ok {
			continue
		}
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strings.TrimRight(host, "/"), 300*time.Millisecond)
		if err != nil {
			fmt.Fprintf(log, "invoke: warning: nothing answers at %s (%s); is `make local` running?\n", v, k)
			continue
		}
		c.Close()
	}
}
