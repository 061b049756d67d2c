package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/wxmedia/wxmedia/internal/awstest"
	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/stacktest"
	"github.com/wxmedia/wxmedia/internal/wechatsim"
	"github.com/wxmedia/wxmedia/pkg/bootstrap"
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/token"
)

const s3Key = "upload/image/holiday photo (1).jpg" // the object of events/s3-put-upload-image.json

// outcome is what one fault led to, on the HTTP route and on the S3 route.
type outcome struct {
	status, code int // HTTP answer
	uploads      int64
	// S3 route: the errcode recorded in results/ (0 for a success) and
	// whether the invocation failed so that Lambda retries it.
	resultCode int
	retried    bool
	noResult   bool   // the S3 route records nothing (the object's newer version will)
	blames     string // the errmsg names the system that failed
}

type faultCase struct {
	name    string
	opts    func(t *testing.T) stacktest.Options
	arrange func(t *testing.T, st *stacktest.Stack)
	want    outcome
}

// The deadline every invocation in the matrix gets: Lambda's context.
const invokeTimeout = 5 * time.Second

func TestFaultMatrix(t *testing.T) {
	faults := func(f wechatsim.Faults) func(*testing.T, *stacktest.Stack) {
		return func(_ *testing.T, st *stacktest.Stack) { st.Sim.SetFaults(f) }
	}
	wrapS3 := func(f *faultyS3) func(*testing.T) stacktest.Options {
		return func(*testing.T) stacktest.Options {
			return stacktest.Options{WrapS3: func(api bucket.API) bucket.API { f.API = api; return f }}
		}
	}
	cases := []faultCase{
		// WeChat
		{name: "WeChatBusyOnce", arrange: faults(wechatsim.Faults{Busy: 1}), want: outcome{status: 200, uploads: 2}},
		{name: "WeChatBusyAlways", arrange: faults(wechatsim.Faults{Busy: 100}), want: outcome{status: 502, code: -1, uploads: 3, resultCode: -1, retried: true}},
		{name: "WeChat5xxOnce", arrange: faults(wechatsim.Faults{ServerError: 1}), want: outcome{status: 200, uploads: 2}},
		{name: "WeChat5xxAlways", arrange: faults(wechatsim.Faults{ServerError: 100}), want: outcome{status: 502, code: -1, uploads: 3, resultCode: -1, retried: true}},
		// The body reached WeChat whole, then the connection dropped: WeChat may
		// have stored it, so it is not sent again in process.
		{name: "WeChatDropsConnectionOnce", arrange: faults(wechatsim.Faults{Drop: 1}), want: outcome{status: 502, code: -1, uploads: 1, resultCode: -1, retried: true}},
		{name: "WeChatDropsConnectionAlways", arrange: faults(wechatsim.Faults{Drop: 100}), want: outcome{status: 502, code: -1, uploads: 1, resultCode: -1, retried: true}},
		{name: "WeChatSlowPastDeadline", arrange: faults(wechatsim.Faults{Slow: time.Minute}), want: outcome{status: 504, code: -1, uploads: 1, resultCode: -1, retried: true}},
		{name: "WeChatTokenExpiredMidFlight", arrange: func(t *testing.T, st *stacktest.Stack) {
			if _, err := st.App.Tokens.Token(context.Background()); err != nil {
				t.Fatal(err)
			}
			st.Sim.ExpireTokens()
		}, want: outcome{status: 200, uploads: 2}},
		// The configuration's failures are kept for a redrive: retried.
		{name: "WeChatIPNotAllowed", arrange: faults(wechatsim.Faults{IPBlocked: true}), want: outcome{status: 502, code: 40164, uploads: 0, resultCode: 40164, retried: true}},
		{name: "WeChatQuota", arrange: faults(wechatsim.Faults{Quota: 100}), want: outcome{status: 429, code: 45009, uploads: 1, resultCode: 45009, retried: true}},
		{name: "WeChatMalformedJSON", arrange: faults(wechatsim.Faults{MalformedJSON: 100}), want: outcome{status: 502, code: -1, uploads: 1, resultCode: -1, retried: true}},
		{name: "WeChatBinaryWhereJSONExpected", opts: func(t *testing.T) stacktest.Options {
			return stacktest.Options{Env: map[string]string{bootstrap.EnvWeChatBase: binaryWeChat(t)}}
		}, want: outcome{status: 502, code: -1, resultCode: -1, retried: true}},
		// Secrets Manager
		{name: "SecretsUnreachable", opts: func(t *testing.T) stacktest.Options {
			return stacktest.Options{WrapSecrets: func(token.SecretsAPI) token.SecretsAPI {
				cfg := awstest.Start(t).Config()
				cfg.BaseEndpoint = aws.String("http://127.0.0.1:1")
				cfg.RetryMaxAttempts = 1
				return secretsmanager.NewFromConfig(cfg)
			}}
		}, want: outcome{blames: "Secrets Manager", status: 503, code: -1, resultCode: -1, retried: true}},
		{name: "SecretsAccessDenied", opts: func(*testing.T) stacktest.Options {
			return stacktest.Options{WrapSecrets: func(token.SecretsAPI) token.SecretsAPI {
				return failingSecrets{apiError("AccessDeniedException", "User is not authorized to perform secretsmanager:GetSecretValue")}
			}}
		}, want: outcome{blames: "secret", status: 502, code: -1, resultCode: -1, retried: true}},
		{name: "SecretMissingField", opts: func(*testing.T) stacktest.Options {
			return stacktest.Options{Secret: `{"appid":"wx-stack-app"}`}
		}, want: outcome{blames: "secret", status: 502, code: -1, resultCode: -1, retried: true}},
		{name: "SecretWrongAppSecret", opts: func(*testing.T) stacktest.Options {
			return stacktest.Options{Secret: `{"appid":"wx-stack-app","appsecret":"not-the-right-one"}`}
		}, want: outcome{status: 502, code: 40125, resultCode: 40125, retried: true}},
		// S3
		{name: "S3AccessDenied", opts: wrapS3(&faultyS3{getObject: func(ctx context.Context, in *s3.GetObjectInput, next bucket.API) (*s3.GetObjectOutput, error) {
			if isSource(in) {
				return nil, apiError("AccessDenied", "Access Denied")
			}
			return next.GetObject(ctx, in)
		}}), want: outcome{blames: "media bucket", status: 502, code: -1, resultCode: -1, retried: true}},
		{name: "S3ObjectChangedBetweenHeadAndGet", opts: func(t *testing.T) stacktest.Options {
			var st *stacktest.Stack
			f := &faultyS3{headObject: func(ctx context.Context, in *s3.HeadObjectInput, next bucket.API) (*s3.HeadObjectOutput, error) {
				out, err := next.HeadObject(ctx, in)
				if err == nil && !strings.HasPrefix(*in.Key, "results/") {
					st.Put(t, *in.Key, mediatest.Sample(media.JPEG, 3000)) // overwritten right after the HEAD
				}
				return out, err
			}}
			o := wrapS3(f)(t)
			o.OnStart = func(s *stacktest.Stack) { st = s }
			return o
		}, want: outcome{status: 409, code: -1, noResult: true}},
		{name: "S3SlowBody", opts: wrapS3(&faultyS3{getObject: func(ctx context.Context, in *s3.GetObjectInput, next bucket.API) (*s3.GetObjectOutput, error) {
			out, err := next.GetObject(ctx, in)
			if err == nil && isSource(in) && in.Range == nil {
				out.Body = &slowBody{ctx: ctx, r: out.Body}
			}
			return out, err
		}}), want: outcome{blames: "S3", status: 504, code: -1, uploads: 1, resultCode: -1, retried: true}},
		{name: "S3ResultPutFails", opts: wrapS3(&faultyS3{putObject: func(ctx context.Context, in *s3.PutObjectInput, next bucket.API) (*s3.PutObjectOutput, error) {
			if isResult(in.Key) {
				return nil, apiError("InternalError", "We encountered an internal error. Please try again.")
			}
			return next.PutObject(ctx, in)
		}}), want: outcome{status: 200, uploads: 1, resultCode: 0, retried: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("HTTP", func(t *testing.T) { runHTTP(t, tc) })
			t.Run("S3", func(t *testing.T) { runS3(t, tc) })
			t.Run("Direct", func(t *testing.T) { runDirect(t, tc) })
		})
	}
}

func start(t *testing.T, tc faultCase) (*stacktest.Stack, *stacktest.Logs) {
	t.Helper()
	var opts stacktest.Options
	if tc.opts != nil {
		opts = tc.opts(t)
	}
	logs := &stacktest.Logs{}
	opts.Logs = logs
	st := stacktest.Start(t, opts)
	if tc.arrange != nil {
		tc.arrange(t, st)
	}
	return st, logs
}

func runHTTP(t *testing.T, tc faultCase) {
	st, logs := start(t, tc)
	before := st.Sim.Stats().Upload
	event := bytes.Replace(stacktest.Event(t, "apigw-upload-key.json"), []byte("upload/thumb/thumb.jpg"), []byte("upload/image/test.jpg"), 1)
	event = bytes.ReplaceAll(event, []byte("type=thumb"), []byte("type=image"))
	event = bytes.ReplaceAll(event, []byte(`"type": "thumb"`), []byte(`"type": "image"`))
	ctx, cancel := context.WithTimeout(context.Background(), invokeTimeout)
	defer cancel()
	start := time.Now()
	out, err := st.Functions["upload"].Invoke(ctx, event)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	if took := time.Since(start); took >= invokeTimeout {
		t.Errorf("answered after %v: Lambda would have killed it at %v", took, invokeTimeout)
	}
	var resp events.APIGatewayV2HTTPResponse
	var body struct {
		Code    int    `json:"errcode"`
		Msg     string `json:"errmsg"`
		MediaID string `json:"media_id"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("body %q: %v", resp.Body, err)
	}
	if resp.StatusCode != 200 || body.Code != tc.want.code {
		t.Errorf("answer %d %s, want 200 errcode %d, as WeChat answers", resp.StatusCode, resp.Body, tc.want.code)
	}
	if got := failureStatus(logs.String()); tc.want.status != 200 && got != tc.want.status {
		t.Errorf("the log says the failure stands for %d, want %d", got, tc.want.status)
	}
	if !strings.Contains(body.Msg, tc.want.blames) || (tc.want.blames != "" && strings.Contains(body.Msg, "WeChat")) {
		t.Errorf("errmsg %q, want it to name %q, not WeChat", body.Msg, tc.want.blames)
	}
	if tc.want.status == 200 && body.MediaID == "" {
		t.Errorf("answer %s has no media_id", resp.Body)
	}
	if got := st.Sim.Stats().Upload - before; got != tc.want.uploads {
		t.Errorf("uploads reaching WeChat = %d, want %d", got, tc.want.uploads)
	}
	noLeaks(t, st, logs.String(), string(out))
}

// runDirect makes the same request as a direct invocation, in the cloud
// call's shape: its answer or the failure it throws carries the errcode,
// and nothing secret.
func runDirect(t *testing.T, tc faultCase) {
	st, logs := start(t, tc)
	ctx, cancel := context.WithTimeout(context.Background(), invokeTimeout)
	defer cancel()
	out, err := st.Functions["upload"].Invoke(ctx, []byte(`{"type":"image","key":"upload/image/test.jpg"}`))
	var thrown messages.InvokeResponse_Error
	var got struct {
		Code    int    `json:"errCode"`
		MediaID string `json:"mediaId"`
	}
	switch {
	case err == nil:
		json.Unmarshal(out, &got)
	case errors.As(err, &thrown):
		json.Unmarshal([]byte(thrown.Message), &got)
	default:
		t.Fatalf("invoke: %v, want an answer or a thrown cloud call failure", err)
	}
	if got.Code != tc.want.code || (tc.want.status == 200) != (got.MediaID != "") {
		t.Errorf("answer %s, thrown %v; want errCode %d", out, err, tc.want.code)
	}
	noLeaks(t, st, logs.String(), string(out), fmt.Sprint(err))
}

func runS3(t *testing.T, tc faultCase) {
	st, logs := start(t, tc)
	published := st.WatchEvents(t)
	event := bytes.ReplaceAll(stacktest.Event(t, "s3-put-upload-image.json"), []byte(`"wxmedia-local"`), []byte(`"`+st.Bucket+`"`))
	ctx, cancel := context.WithTimeout(context.Background(), invokeTimeout)
	defer cancel()
	start := time.Now()
	_, err := st.Functions["upload"].Invoke(ctx, event)
	if took := time.Since(start); took >= invokeTimeout {
		t.Errorf("finished after %v: Lambda would have killed it at %v", took, invokeTimeout)
	}
	if retried := err != nil; retried != tc.want.retried {
		t.Errorf("invocation error = %v; want an error (so Lambda retries): %v", err, tc.want.retried)
	}
	switch {
	case tc.name == "S3ResultPutFails":
		// Nothing could be recorded; the failed invocation is what saves it.
		if err == nil || !strings.Contains(err.Error(), "could not be recorded") {
			t.Errorf("error = %v, want one about recording the result", err)
		}
	case tc.want.noResult:
		if _, err := st.Moto.S3().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &st.Bucket, Key: aws.String("results/" + s3Key + ".json")}); err == nil {
			t.Errorf("a result was recorded for a version that is no longer the object's")
		}
	default:
		r := st.Result(t, s3Key)
		code, _ := r["errcode"].(float64)
		if int(code) != tc.want.resultCode {
			t.Errorf("recorded %v, want errcode %d", r, tc.want.resultCode)
		}
		if tc.want.resultCode == 0 && r["media_id"] == nil {
			t.Errorf("recorded %v, want a media_id", r)
		}
		if tc.want.resultCode != 0 && (r["errmsg"] == "" || r["etag"] == nil) {
			t.Errorf("recorded %v, want errmsg and etag", r)
		}
		data, _ := st.Object(t, "results/"+s3Key+".json")
		noLeaks(t, st, logs.String(), string(data), fmt.Sprint(err), fmt.Sprint(published()))
		return
	}
	noLeaks(t, st, logs.String(), fmt.Sprint(err), fmt.Sprint(published()))
}

// failureStatus is the failure_status of the last failed or refused
// request in logs: the HTTP status the failure stands for (callers get 200).
func failureStatus(logs string) int {
	status := 0
	for _, line := range strings.Split(logs, "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) == nil && (l["msg"] == "request refused" || l["msg"] == "request failed") {
			f, _ := l["failure_status"].(float64)
			status = int(f)
		}
	}
	return status
}

// noLeaks fails if any access token the simulator issued (a platform's
// tickets, codes, component and refresh tokens among them), an AppSecret,
// or the platform's token or EncodingAESKey appears in what a user or an
// operator can see: besides what the caller
// passes (logs with their EMF metric lines, answers, results, errors), the
// spans sent to the X-Ray daemon, attributes and causes included.
func noLeaks(t *testing.T, st *stacktest.Stack, seen ...string) {
	t.Helper()
	seen = append(seen, st.Traces()...)
	secrets := append(st.Sim.IssuedTokens(), stacktest.AppSecret, stacktest.OtherAppSecret,
		stacktest.ComponentAppSecret, stacktest.ComponentToken, stacktest.ComponentAESKey)
	for _, s := range seen {
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Errorf("leak: %q appears in %.200q", secret[:6]+"…", s)
			}
		}
	}
}

// binaryWeChat is a WeChat that answers tokens properly but media calls
// with a JPEG where JSON is expected.
func binaryWeChat(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cgi-bin/stable_token" {
			fmt.Fprint(w, `{"access_token":"binary-wechat-token-0123456789abcdef","expires_in":7200}`)
			return
		}
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(mediatest.Sample(media.JPEG, 500))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
