package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wxmedia/wxmedia/internal/awstest"
	"github.com/wxmedia/wxmedia/internal/localaws"
	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/wechatsim"
)

// The sample events' bucket and secret: those of make local.
const (
	bucket   = "wxmedia-local"
	secretID = "wxmedia/local"
)

var eventsDir = filepath.Join("..", "..", "events")

// stack is the backends of make local, in this process.
type stack struct {
	s3      *s3.Client
	fake    *localaws.S3
	events  *localaws.EventBridge
	environ []string
}

func setupStack(t *testing.T) stack {
	t.Helper()
	_, wx := wechatsim.NewTestServer(t, wechatsim.Options{})
	sm := localaws.NewSecretsManager(localaws.SecretsOptions{})
	sm.Put(secretID, `{"appid":"`+wechatsim.DefaultAppID+`","appsecret":"`+wechatsim.DefaultAppSecret+`"}`)
	smSrv := httptest.NewServer(sm)
	t.Cleanup(smSrv.Close)
	fake, err := localaws.NewS3(localaws.S3Options{Buckets: []string{bucket}})
	if err != nil {
		t.Fatal(err)
	}
	s3Srv := httptest.NewServer(fake)
	t.Cleanup(s3Srv.Close)
	eb := localaws.NewEventBridge(localaws.EventBridgeOptions{})
	ebSrv := httptest.NewServer(eb)
	t.Cleanup(ebSrv.Close)
	return stack{
		events: eb,
		s3: s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s3Srv.URL), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider("any", "thing", "")}),
		fake: fake,
		// Nothing of the developer's environment: defaults come from functionEnv.
		environ: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
			"MEDIA_BUCKET=" + bucket, "WECHAT_SECRET_ID=" + secretID, "WECHAT_API_BASE=" + wx,
			"AWS_ENDPOINT_URL_S3=" + s3Srv.URL, "AWS_ENDPOINT_URL_SECRETS_MANAGER=" + smSrv.URL, "AWS_ENDPOINT_URL_EVENTBRIDGE=" + ebSrv.URL},
	}
}

// seed puts the objects an event names into the bucket, and returns their keys.
func seed(t *testing.T, st stack, event []byte) []string {
	t.Helper()
	keys := keysOf(event)
	objects := mediatest.Objects()
	for _, k := range keys {
		i := slices.IndexFunc(objects, func(o mediatest.Object) bool { return o.Key == k })
		if i < 0 {
			t.Fatalf("the event names %s, which is none of mediatest.Objects", k)
		}
		if err := st.fake.Put(bucket, k, objects[i].ContentType, objects[i].Data); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// keysOf is the keys an event names: of S3's records, of S3 notifications
// in SQS messages, of an EventBridge Object Created, of an HTTP request's
// JSON body, of a direct invocation.
func keysOf(event []byte) []string {
	var e struct {
		Records []struct {
			EventSource string          `json:"eventSource"`
			S3          events.S3Entity `json:"s3"`
			Body        string          `json:"body"`
		} `json:"Records"`
		Detail struct {
			Object struct{ Key string } `json:"object"`
		} `json:"detail"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
		Key     string            `json:"key"`
	}
	if json.Unmarshal(event, &e) != nil {
		return nil
	}
	var keys []string
	for _, r := range e.Records {
		switch r.EventSource {
		case "aws:s3":
			keys = append(keys, r.S3.Object.URLDecodedKey)
		case "aws:sqs":
			keys = append(keys, keysOf([]byte(r.Body))...)
		}
	}
	if e.Detail.Object.Key != "" {
		keys = append(keys, e.Detail.Object.Key)
	}
	if strings.Contains(e.Headers["content-type"], "json") {
		keys = append(keys, keysOf([]byte(e.Body))...)
	}
	if e.Key != "" {
		keys = append(keys, e.Key)
	}
	return keys
}

func readEventFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(eventsDir, name))
	if err != nil {
		t.Fatalf("sample event: %v", err)
	}
	return data
}

// TestInvoke runs each function's bootstrap under the emulator with the
// sample events, through the command's own code (cli), against an
// in-process make local.
func TestInvoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the functions and runs the Lambda emulator (-short)")
	}
	rie := awstest.Tool(t, "aws-lambda-rie")
	st := setupStack(t)
	ctx := context.Background()

	// One build per function, in parallel.
	dir := t.TempDir()
	bootstraps := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, fn := range []string{"upload", "get", "uploadimg"} {
		wg.Go(func() {
			d := filepath.Join(dir, fn)
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Error(err)
				return
			}
			p, err := build(ctx, fn, d, io.Discard)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			bootstraps[fn] = p
			mu.Unlock()
		})
	}
	// And cmd/local, the real `make local`.
	localBin := filepath.Join(dir, "local")
	wg.Go(func() {
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", localBin, "github.com/wxmedia/wxmedia/cmd/local").CombinedOutput(); err != nil {
			t.Errorf("go build ./cmd/local: %v\n%s", err, out)
		}
	})
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// runWith invokes fn with event the way `make invoke` does, in
	// environ, and returns the exit code, the function's answer and the
	// command's stderr.
	runWith := func(t *testing.T, environ []string, fn string, event []byte) (int, []byte, string) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "event.json")
		if err := os.WriteFile(path, event, 0o644); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		code := cli(ctx, []string{"-fn", fn, "-event", path, "-rie", rie, "-bootstrap", bootstraps[fn], "-timeout", "20s"},
			environ, nil, &stdout, &stderr)
		return code, stdout.Bytes(), stderr.String()
	}
	run := func(t *testing.T, fn string, event []byte) (int, []byte, string) {
		t.Helper()
		return runWith(t, st.environ, fn, event)
	}
	// httpAnswer is what API Gateway makes of a function's answer.
	type httpAnswer struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Body       string            `json:"body"`
		Base64     bool              `json:"isBase64Encoded"`
	}
	decode := func(t *testing.T, out []byte) (httpAnswer, map[string]any) {
		t.Helper()
		var a httpAnswer
		if err := json.Unmarshal(out, &a); err != nil {
			t.Fatalf("answer: %v in %s", err, out)
		}
		if a.Base64 {
			// A file, as get answers one: its bytes and type are the body.
			data, err := base64.StdEncoding.DecodeString(a.Body)
			if err != nil {
				t.Fatalf("answer body: %v", err)
			}
			return a, map[string]any{"bytes": len(data), "content_type": a.Headers["Content-Type"]}
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(a.Body), &body); err != nil {
			t.Fatalf("answer body: %v in %s", err, a.Body)
		}
		return a, body
	}

	// result is the outcome recorded for key.
	result := func(t *testing.T, key string) map[string]any {
		t.Helper()
		res, err := st.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("results/" + key + ".json")})
		if err != nil {
			t.Fatalf("result of %s: %v", key, err)
		}
		defer res.Body.Close()
		var r map[string]any
		if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
			t.Fatalf("result of %s: %v", key, err)
		}
		return r
	}

	// published reports whether a completion event names key.
	published := func(key string) bool {
		for _, e := range st.events.Events() {
			var d struct{ Key string }
			if json.Unmarshal(e.Detail, &d) == nil && d.Key == key && e.Source == "wxmedia" {
				return true
			}
		}
		return false
	}

	var mediaID string
	for _, tc := range []struct {
		name, fn, event string
		status          int
		field           string
	}{
		{"UploadMultipart", "upload", "apigw-upload-multipart.json", 200, "media_id"},
		{"UploadKey", "upload", "apigw-upload-key.json", 200, "thumb_media_id"},     // the event asks for a thumb
		{"UploadWrongType", "upload", "apigw-upload-bad-type.json", 200, "errcode"}, // as WeChat answers errors
		{"UploadImgMultipart", "uploadimg", "apigw-uploadimg-multipart.json", 200, "url"},
		{"UploadImgKey", "uploadimg", "apigw-uploadimg-key.json", 200, "url"},
		{"Get", "get", "apigw-get.json", 200, "bytes"}, // the file itself, as WeChat answers
	} {
		t.Run(tc.name, func(t *testing.T) {
			event := readEventFile(t, tc.event)
			seed(t, st, event)
			if tc.fn == "get" {
				if mediaID == "" {
					t.Fatal("no media_id: UploadMultipart failed above")
				}
				event = bytes.ReplaceAll(event, []byte("MEDIA_ID"), []byte(mediaID))
			}
			code, out, logs := run(t, tc.fn, event)
			if code != 0 {
				t.Fatalf("exit code %d, want 0; answer %s\n%s", code, out, logs)
			}
			a, body := decode(t, out)
			if a.StatusCode != tc.status || body[tc.field] == nil {
				t.Fatalf("got statusCode %d body %s, want %d with %q", a.StatusCode, a.Body, tc.status, tc.field)
			}
			if tc.name == "UploadMultipart" {
				mediaID, _ = body["media_id"].(string)
			}
			if !strings.Contains(logs, "START RequestId") || !strings.Contains(logs, "init duration") {
				t.Errorf("logs: want the emulator's START line and the init duration in\n%s", logs)
			}
		})
	}

	// S3 puts: the function answers, and the outcome of each object is recorded.
	for _, tc := range []struct{ name, fn, event string }{
		{"S3PutUpload", "upload", "s3-put-upload-image.json"},
		{"S3PutUploadImg", "uploadimg", "s3-put-uploadimg.json"},
		{"S3PutBatch", "upload", "s3-put-batch.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			event := readEventFile(t, tc.event)
			keys := seed(t, st, event)
			code, out, logs := run(t, tc.fn, event)
			if code != 0 {
				t.Fatalf("exit code %d, want 0; answer %s\n%s", code, out, logs)
			}
			for _, k := range keys {
				if r := result(t, k); r["etag"] == nil {
					t.Errorf("result of %s: %v, want one of its version", k, r)
				}
				if !published(k) {
					t.Errorf("no completion event for %s in %v", k, st.events.Events())
				}
			}
		})
	}

	// S3 notifications through SQS and EventBridge.
	t.Run("SQS", func(t *testing.T) {
		event := readEventFile(t, "sqs-s3-put.json")
		seed(t, st, event)
		code, out, logs := run(t, "upload", event)
		var resp events.SQSEventResponse
		if code != 0 || json.Unmarshal(out, &resp) != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("exit code %d, answer %s; want 0 and no batch item failures\n%s", code, out, logs)
		}
		if r := result(t, "upload/video/trailer.mp4"); r["media_id"] == nil {
			t.Errorf("result %v, want a media_id", r)
		}
	})
	t.Run("EventBridge", func(t *testing.T) {
		event := readEventFile(t, "eventbridge-object-created.json")
		seed(t, st, event)
		if code, out, logs := run(t, "uploadimg", event); code != 0 {
			t.Fatalf("exit code %d, answer %s\n%s", code, out, logs)
		}
		if r := result(t, "uploadimg/海报 1.png"); r["url"] == nil {
			t.Errorf("result %v, want a url", r)
		}
	})

	// Direct invocations answer in the cloud call's shape.
	for _, tc := range []struct {
		name, fn, event, field string
	}{
		{"DirectUploadMedia", "upload", "direct-upload-media.json", "mediaId"},
		{"DirectUploadKey", "upload", "direct-upload-key.json", "mediaId"},
		{"DirectUploadImgBuffer", "uploadimg", "direct-uploadimg-buffer.json", "url"},
		{"DirectUploadImgKey", "uploadimg", "direct-uploadimg-key.json", "url"},
		{"DirectGet", "get", "direct-get.json", "contentType"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			event := readEventFile(t, tc.event)
			seed(t, st, event)
			if tc.fn == "get" {
				event = bytes.ReplaceAll(event, []byte("MEDIA_ID"), []byte(mediaID))
			}
			code, out, logs := run(t, tc.fn, event)
			var body map[string]any
			if code != 0 || json.Unmarshal(out, &body) != nil || body["errCode"] != 0.0 || body[tc.field] == nil {
				t.Fatalf("exit code %d, answer %s; want 0 and errCode 0 with %q\n%s", code, out, tc.field, logs)
			}
		})
	}

	// Malformed events are Lambda errors: exit code 1, errorType on stdout.
	for _, tc := range []struct {
		name, fn string
		event    []byte
		want     string
	}{
		{"ErrS3Key", "upload", readEventFile(t, "s3-malformed-key.json"), "malformed S3 event"},
		{"ErrUnknownEvent", "get", []byte(`{"hello":"world"}`), "unknown event"},
		{"ErrDirectUnknownMedia", "get", readEventFile(t, "direct-get.json"), `"errCode":40007`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, logs := run(t, tc.fn, tc.event)
			if code != 1 {
				t.Fatalf("exit code %d, want 1; answer %s\n%s", code, out, logs)
			}
			var le struct{ ErrorType, ErrorMessage string }
			if err := json.Unmarshal(out, &le); err != nil || !strings.Contains(le.ErrorMessage, tc.want) || le.ErrorType == "" {
				t.Fatalf("answer %s: want Lambda's {\"errorType\",\"errorMessage\"} with %q", out, tc.want)
			}
			if !strings.Contains(logs, "invoke: "+tc.fn+" failed: ") {
				t.Errorf("stderr: want the failure reported in\n%s", logs)
			}
		})
	}

	// A make local on ports of its own, found through its state file: no
	// variable names its backends.
	t.Run("FindsMakeLocal", func(t *testing.T) {
		ml := startLocal(t, localBin)
		environ := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), localaws.EnvState + "=" + ml.state}
		code, out, logs := runWith(t, environ, "upload", readEventFile(t, "s3-put-upload-image.json"))
		if code != 0 {
			t.Fatalf("exit code %d, want 0; answer %s\n%s", code, out, logs)
		}
		if want := fmt.Sprintf("invoke: using the make local running as pid %d", ml.cmd.Process.Pid); !strings.Contains(logs, want) {
			t.Errorf("stderr: want %q in\n%s", want, logs)
		}
		if strings.Contains(logs, "warning") {
			t.Errorf("stderr: want no warning in\n%s", logs)
		}
		// The outcome is in that make local's bucket.
		c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ml.s3), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider("any", "thing", "")})
		res, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("results/upload/image/holiday photo (1).jpg.json")})
		if err != nil {
			t.Fatalf("result in make local's bucket: %v; answer %s\n%s", err, out, logs)
		}
		var r struct {
			MediaID string `json:"media_id"`
		}
		if err := json.NewDecoder(res.Body).Decode(&r); err != nil || r.MediaID == "" {
			t.Errorf("result: %v, media_id %q; want a media_id", err, r.MediaID)
		}
		res.Body.Close()
	})

	// Every event of events/ against a fresh make local, as its README says.
	t.Run("EventsREADME", func(t *testing.T) {
		testEventsREADME(t, localBin, func(t *testing.T, environ []string, fn string, event []byte) (int, []byte, string) {
			t.Helper()
			return runWith(t, environ, fn, event)
		})
	})

	// Two make local side by side, each with its state file in one folder:
	// LOCAL_PORT picks one, and without it invoke names both and stops.
	t.Run("TwoMakeLocals", func(t *testing.T) {
		dir := t.TempDir()
		a := startLocalEnv(t, localBin, "", localaws.EnvStateDir+"="+dir)
		b := startLocalEnv(t, localBin, "", localaws.EnvStateDir+"="+dir)
		const key = "results/upload/image/holiday photo (1).jpg.json"
		hasResult := func(ml runningLocal) bool {
			c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ml.s3), UsePathStyle: true,
				Credentials: credentials.NewStaticCredentialsProvider("any", "thing", "")})
			res, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				return false
			}
			res.Body.Close()
			return true
		}
		base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), localaws.EnvStateDir + "=" + dir}
		event := readEventFile(t, "s3-put-upload-image.json")
		code, out, logs := runWith(t, base, "upload", event)
		if code != 1 || !strings.Contains(logs, "2 make local are running") {
			t.Errorf("no LOCAL_PORT: exit code %d, answer %s; want 1 and both named in\n%s", code, out, logs)
		}
		for i, ml := range []runningLocal{a, b} {
			code, out, logs := runWith(t, append(base, fmt.Sprintf("LOCAL_PORT=%d", ml.port)), "upload", event)
			if want := fmt.Sprintf("invoke: using the make local running as pid %d", ml.cmd.Process.Pid); code != 0 || !strings.Contains(logs, want) {
				t.Fatalf("LOCAL_PORT=%d: exit code %d, answer %s; want 0 and %q in\n%s", ml.port, code, out, want, logs)
			}
			if !hasResult(ml) {
				t.Errorf("make local %d: no %s after its invoke", i, key)
			}
			if other := []runningLocal{b, a}[i]; i == 0 && hasResult(other) {
				t.Errorf("make local 1: %s written by the invoke that targeted make local 0", key)
			}
		}
	})
}

// noLocal is no running make local.
func noLocal() (*localaws.State, error) { return nil, errors.New("no running make local found") }

func TestFunctionEnv(t *testing.T) {
	get := func(env []string, k string) (string, bool) {
		i := slices.IndexFunc(env, func(kv string) bool { return strings.HasPrefix(kv, k+"=") })
		if i < 0 {
			return "", false
		}
		return strings.TrimPrefix(env[i], k+"="), true
	}
	t.Run("NoLocal", func(t *testing.T) {
		// No make local and no backend named: no guessed port.
		env, err := functionEnv([]string{"PATH=/bin"}, "get", 29*time.Second, noLocal)
		if err == nil || !strings.Contains(err.Error(), "no running make local") {
			t.Errorf("got %v, %v; want the error that says no make local runs", env, err)
		}
	})
	t.Run("Defaults", func(t *testing.T) {
		env, err := functionEnv([]string{"PATH=/bin", "WECHAT_API_BASE=http://127.0.0.1:3001", "AWS_ENDPOINT_URL=http://127.0.0.1:5000"},
			"get", 29*time.Second, noLocal)
		if err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]string{
			"MEDIA_BUCKET": "wxmedia-local", "WECHAT_SECRET_ID": "wxmedia/local",
			"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "local", "AWS_LAMBDA_FUNCTION_TIMEOUT": "29",
			"AWS_LAMBDA_FUNCTION_NAME": "wxmedia-get", "PATH": "/bin",
		} {
			if got, _ := get(env, k); got != want {
				t.Errorf("%s: got %q, want %q", k, got, want)
			}
		}
	})
	t.Run("Overrides", func(t *testing.T) {
		env, err := functionEnv([]string{"LOCAL_S3_PORT=9100", "LOCAL_WECHAT_PORT=3101", "AWS_ENDPOINT_URL_SECRETS_MANAGER=",
			"AWS_ENDPOINT_URL_EVENTBRIDGE=", "AWS_PROFILE=dev"}, "upload", time.Minute, noLocal)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := get(env, "AWS_ENDPOINT_URL_S3"); got != "http://127.0.0.1:9100" {
			t.Errorf("AWS_ENDPOINT_URL_S3: got %q, want the port of LOCAL_S3_PORT", got)
		}
		if got, ok := get(env, "AWS_ENDPOINT_URL_SECRETS_MANAGER"); !ok || got != "" {
			t.Errorf("AWS_ENDPOINT_URL_SECRETS_MANAGER: got %q, want it left empty (real AWS)", got)
		}
		if _, ok := get(env, "AWS_ACCESS_KEY_ID"); ok {
			t.Error("AWS_ACCESS_KEY_ID: set, want the profile's credentials")
		}
	})
	t.Run("AnyEndpoint", func(t *testing.T) {
		env, err := functionEnv([]string{"AWS_ENDPOINT_URL=http://127.0.0.1:5000", "WECHAT_API_BASE=http://x"}, "upload", time.Minute, noLocal)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := get(env, "AWS_ENDPOINT_URL_S3"); ok {
			t.Error("AWS_ENDPOINT_URL_S3: set, want AWS_ENDPOINT_URL to serve every service")
		}
	})
}

func TestCLIUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := cli(context.Background(), []string{"-fn", "upload"}, nil, nil, &stdout, &stderr); code != 2 {
		t.Errorf("without -event: exit code %d, want 2", code)
	}
	stderr.Reset()
	if code := cli(context.Background(), []string{"-h"}, nil, nil, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "AWS_ENDPOINT_URL_S3") {
		t.Errorf("-h: exit code %d, usage %q; want 0 and the variables", code, stderr.String())
	}
	path := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(path, []byte(`{"Records":[`), 0o644)
	stderr.Reset()
	if code := cli(context.Background(), []string{"-fn", "upload", "-event", path}, nil, nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "not valid JSON") {
		t.Errorf("bad JSON: exit code %d, stderr %q; want 2 and a clear message", code, stderr.String())
	}
	_, err := invoke(context.Background(), invocation{fn: "upload", event: []byte(`{}`), rie: "no-such-aws-lambda-rie"})
	if err == nil || !strings.Contains(err.Error(), "Runtime Interface Emulator") {
		t.Errorf("missing emulator: got %v, want an error naming it", err)
	}
	var ee *exec.Error
	if !errors.As(err, &ee) {
		t.Errorf("missing emulator: got %T, want it to wrap *exec.Error", err)
	}
}
