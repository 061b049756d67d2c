// Package stacktest runs the whole service for tests: the functions
// wired as in production, against moto_server (S3, or make local's
// embedded S3 with LocalS3; Secrets Manager, the failed-events queue, the
// completion events' bus, the platform's token table) and the WeChat
// simulator, with the sample objects of events/ in
// the bucket (mediatest.Objects); and Lambda's side of the template as it
// configures it: retries and the failed-events queue, the SQS poller, an
// X-Ray daemon.
package stacktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/wxmedia/wxmedia/internal/awstest"
	"github.com/wxmedia/wxmedia/internal/localaws"
	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/wechatsim"
	"github.com/wxmedia/wxmedia/pkg/bootstrap"
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/recordtable"
	"github.com/wxmedia/wxmedia/pkg/routes"
	"github.com/wxmedia/wxmedia/pkg/token"
	"github.com/wxmedia/wxmedia/pkg/tokentable"
	"github.com/wxmedia/wxmedia/pkg/tracing"
)

// The simulator's app credentials, kept in the stack's secret. The
// simulator knows a second app too, which a test configures by putting
// it in the secret (TwoApps).
const (
	AppID          = "wx-stack-app"
	AppSecret      = "stack-app-secret-never-shown"
	OtherAppID     = "wx-stack-other"
	OtherAppSecret = "stack-other-secret-never-shown"
)

// The simulator's third-party platform, in the secret with Options.Platform.
const (
	ComponentAppID     = "wx-stack-component"
	ComponentAppSecret = "stack-component-secret-never-shown"
	ComponentToken     = "stack-component-token-never-shown"
	ComponentAESKey    = "StackComponentEncodingAESKeyNeverShown01234"
)

// TwoApps is a secret of the new shape: AppID (the default) and OtherAppID.
var TwoApps = fmt.Sprintf(`{"default":%q,"apps":{%q:%q,%q:%q}}`, AppID, AppID, AppSecret, OtherAppID, OtherAppSecret)

// Options configure a Stack.
type Options struct {
	Bucket string // default a new bucket named for the test
	Secret string // the secret's value; default {"appid":AppID,"appsecret":AppSecret}
	Env    map[string]string
	// Logs receives the functions' JSON logs; default os.Stderr only when -v.
	Logs io.Writer
	// WrapS3 and WrapSecrets put a test double between the service and moto,
	// to inject faults at the AWS SDK boundary.
	WrapS3      func(bucket.API) bucket.API
	WrapSecrets func(token.SecretsAPI) token.SecretsAPI
	// OnStart is called with the stack before the sample objects are put.
	OnStart func(*Stack)
	// Now is the service's clock (its caches' and its quota breaker's
	// time); default time.Now. Sleep is how its WeChat client waits between
	// tries; default a timer.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// LocalS3 keeps the media bucket in the embedded S3 that make local runs
	// (package localaws: gofakes3, in memory, in process) rather than in
	// moto_server, for tests that make thousands of S3 requests; Secrets
	// Manager and the failed-events queue stay in moto. Moto is the
	// reference: the embedded S3 answers If-Match on a missing key with 412
	// where S3 and moto answer NoSuchKey.
	LocalS3 bool
	// Sim configures the WeChat simulator (its clock, WeChat's limits from
	// the start); its credentials are always AppID and AppSecret.
	Sim wechatsim.Options
	// Platform runs a third-party platform: the simulator's component app
	// in the secret (beside TwoApps' apps), its pushes sent to the stack's
	// /component/events, and the shared token store in a DynamoDB table
	// of moto's (Stack.Table).
	Platform bool
}

// Stack is the running service.
type Stack struct {
	Sim      *wechatsim.Server
	SimURL   string
	Moto     *awstest.Moto
	Bucket   string
	SecretID string
	App      *bootstrap.App
	// Functions are the Lambda handlers by function name (upload, get,
	// uploadimg, component).
	Functions map[string]lambda.Handler
	// URL is an HTTP server on 127.0.0.1 serving every route, the
	// platform's push route among them.
	URL string
	// FailedEvents is the URL of the stack's failed-events queue (SQS in
	// moto), the S3-triggered functions' on-failure destination.
	FailedEvents string
	// EventBus is the stack's own EventBridge bus (in moto), where its
	// completion events go (see WatchEvents).
	EventBus string
	// Table is the shared token store's DynamoDB table (with Options.Platform).
	Table string

	daemon *daemon
	newApp func() *bootstrap.App
	s3     *s3.Client // the media bucket's S3: moto's, or the embedded one (LocalS3)
}

// localS3 serves an embedded S3 (package localaws: gofakes3 in memory, as
// make local runs) on 127.0.0.1 and returns a client for it.
func localS3(t testing.TB, cfg aws.Config) *s3.Client {
	t.Helper()
	ls3, err := localaws.NewS3(localaws.S3Options{Region: awstest.Region})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ls3)
	t.Cleanup(func() { srv.Close(); ls3.Close() })
	cfg.BaseEndpoint = aws.String(srv.URL)
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

// S3 is the client of the stack's media bucket: moto's, or the embedded
// S3's with LocalS3.
func (st *Stack) S3() *s3.Client { return st.s3 }

// functions are a's Lambda handlers by function name.
func functions(a *bootstrap.App) map[string]lambda.Handler {
	return map[string]lambda.Handler{
		"upload":    sampled{lambda.NewHandler(a.Lambda(routes.Upload))},
		"get":       sampled{lambda.NewHandler(a.Lambda(routes.Get))},
		"uploadimg": sampled{lambda.NewHandler(a.Lambda(routes.UploadImg))},
		"component": sampled{lambda.NewHandler(a.Lambda(routes.Component))},
	}
}

// Container is another execution environment of the functions, as
// Lambda runs a function in as many as its concurrency: an app built anew
// from the same configuration and clients, with caches (tokens, the
// secret) and a quota breaker of its own. Its handlers are by function
// name, as Functions.
func (st *Stack) Container() map[string]lambda.Handler { return functions(st.newApp()) }

// Start runs a Stack for t.
func Start(t testing.TB, opts Options) *Stack {
	t.Helper()
	moto := awstest.Start(t)
	simOpts := opts.Sim
	simOpts.AppID, simOpts.AppSecret = AppID, AppSecret
	simOpts.Apps = map[string]string{OtherAppID: OtherAppSecret}
	if opts.Platform {
		simOpts.Component = &wechatsim.Component{AppID: ComponentAppID, AppSecret: ComponentAppSecret, Token: ComponentToken, EncodingAESKey: ComponentAESKey}
	}
	sim, base := wechatsim.NewTestServer(t, simOpts)
	st := &Stack{Sim: sim, SimURL: base, Moto: moto, Bucket: opts.Bucket}
	st.s3 = moto.S3()
	if opts.LocalS3 {
		st.s3 = localS3(t, moto.Config())
		if st.Bucket == "" {
			st.Bucket = "wxmedia-stack"
		}
	}
	if st.Bucket == "" {
		st.Bucket = moto.Bucket(t)
	} else if _, err := st.s3.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &st.Bucket}); err != nil {
		t.Fatalf("create bucket %s: %v", st.Bucket, err)
	}
	secret := opts.Secret
	switch {
	case secret == "" && opts.Platform:
		secret = fmt.Sprintf(`{"default":%q,"apps":{%q:%q,%q:%q},"component":{"appid":%q,"appsecret":%q,"token":%q,"encoding_aes_key":%q}}`,
			AppID, AppID, AppSecret, OtherAppID, OtherAppSecret, ComponentAppID, ComponentAppSecret, ComponentToken, ComponentAESKey)
	case secret == "":
		secret = fmt.Sprintf(`{"appid":%q,"appsecret":%q}`, AppID, AppSecret)
	}
	st.SecretID = moto.Secret(t, secret)
	st.FailedEvents = moto.Queue(t)
	st.EventBus = moto.Bus(t)
	// Tracing is Active, as deployed with Tracing=Active, to a daemon of the test's own.
	st.daemon = startDaemon(t)
	env := map[string]string{bootstrap.EnvBucket: st.Bucket, bootstrap.EnvSecretID: st.SecretID, bootstrap.EnvWeChatBase: base,
		tracing.EnvTracing: tracing.Active, tracing.EnvDaemon: st.daemon.addr, bootstrap.EnvEventBus: st.EventBus}
	for k, v := range opts.Env {
		env[k] = v
	}
	cfg, err := bootstrap.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	s3c := st.s3
	var api bucket.API = s3c
	if opts.WrapS3 != nil {
		api = opts.WrapS3(s3c)
	}
	var sm token.SecretsAPI = moto.SecretsManager()
	if opts.WrapSecrets != nil {
		sm = opts.WrapSecrets(sm)
	}
	// The stack's table, as deployed: the ledger's claims and the media_id
	// index, and the platform's tokens.
	st.Table = moto.Table(t)
	deps := bootstrap.Deps{S3: api, Presigner: s3.NewPresignClient(s3c), Secrets: sm, Now: opts.Now, Sleep: opts.Sleep, Events: moto.EventBridge(),
		Records: recordtable.New(moto.DynamoDB(), st.Table, 0, opts.Now)}
	if opts.Platform {
		deps.TokenStore = tokentable.NewDynamo(moto.DynamoDB(), st.Table)
	}
	st.newApp = func() *bootstrap.App {
		a := bootstrap.New(cfg, deps)
		if opts.Logs != nil {
			a.SetLogOutput(opts.Logs)
		} else if !testing.Verbose() {
			a.SetLogOutput(io.Discard)
		}
		return a
	}
	st.App = st.newApp()
	st.Functions = functions(st.App)
	srv := httptest.NewServer(st.App.HTTP())
	t.Cleanup(srv.Close)
	st.URL = srv.URL
	if opts.Platform {
		sim.SetPushURL(srv.URL + routes.PathPlatformEvents)
	}
	if opts.OnStart != nil {
		opts.OnStart(st)
	}
	for _, o := range mediatest.Objects() {
		st.Put(t, o.Key, o.Data)
	}
	return st
}

// Put stores data at key and returns its ETag as an S3 notification
// gives it (without quotes).
func (st *Stack) Put(t testing.TB, key string, data []byte) string {
	t.Helper()
	out, err := st.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &st.Bucket, Key: &key, Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return strings.Trim(aws.ToString(out.ETag), `"`)
}

// PutFor stores data at key with the user metadata appid (x-amz-meta-appid),
// which makes it that app's, and returns its ETag as Put does.
func (st *Stack) PutFor(t testing.TB, appID, key string, data []byte) string {
	t.Helper()
	out, err := st.Moto.S3().PutObject(context.Background(), &s3.PutObjectInput{Bucket: &st.Bucket, Key: &key, Body: bytes.NewReader(data),
		Metadata: map[string]string{"appid": appID}})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return strings.Trim(aws.ToString(out.ETag), `"`)
}

// Created is an object put, as an S3 notification names it.
type Created struct{ Key, ETag string }

// S3Event is the notification S3 sends for puts of objects in the stack's
// bucket (keys URL-encoded as S3 does).
func (st *Stack) S3Event(objects ...Created) []byte {
	var e events.S3Event
	for _, o := range objects {
		var r events.S3EventRecord
		r.EventVersion, r.EventSource, r.EventName, r.AWSRegion = "2.1", "aws:s3", "ObjectCreated:Put", awstest.Region
		r.S3.Bucket.Name = st.Bucket
		r.S3.Object.Key = strings.ReplaceAll(url.QueryEscape(o.Key), "%2F", "/") // spaces as +, other bytes %XX
		r.S3.Object.ETag = o.ETag
		e.Records = append(e.Records, r)
	}
	data, _ := json.Marshal(e)
	return data
}

// SetSecret puts a new value in the stack's secret, as an operator would.
func (st *Stack) SetSecret(t testing.TB, value string) {
	t.Helper()
	if _, err := st.Moto.SecretsManager().PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: &st.SecretID, SecretString: &value}); err != nil {
		t.Fatalf("put secret value: %v", err)
	}
}

// Object returns the bytes and content type at key.
func (st *Stack) Object(t testing.TB, key string) ([]byte, string) {
	t.Helper()
	out, err := st.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &st.Bucket, Key: &key})
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", st.Bucket, key, err)
	}
	defer out.Body.Close()
	data, _ := io.ReadAll(out.Body)
	ct := ""
	if out.ContentType != nil {
		ct = *out.ContentType
	}
	return data, ct
}

// Result decodes results/<key>.json.
func (st *Stack) Result(t testing.TB, key string) map[string]any {
	t.Helper()
	data, _ := st.Object(t, "results/"+key+".json")
	var r map[string]any
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("result of %s: %v", key, err)
	}
	return r
}

// Event reads events/<name> from the repository.
func Event(t testing.TB, name string) []byte {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	data, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Logs is a concurrency-safe log sink for Options.Logs.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String is everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
