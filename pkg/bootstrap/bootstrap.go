// Package bootstrap is the composition root: it reads the functions'
// configuration from the environment and builds their clients and
// handlers once per container, so warm invocations reuse them. Nothing
// here calls AWS or WeChat: the first invocation reads the secret.
package bootstrap

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/wxmedia/wxmedia/pkg/apigw"
	"github.com/wxmedia/wxmedia/pkg/apps"
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/cloudcall"
	"github.com/wxmedia/wxmedia/pkg/completion"
	"github.com/wxmedia/wxmedia/pkg/httpapi"
	"github.com/wxmedia/wxmedia/pkg/invocation"
	"github.com/wxmedia/wxmedia/pkg/ledger"
	"github.com/wxmedia/wxmedia/pkg/logging"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/metrics"
	"github.com/wxmedia/wxmedia/pkg/platform"
	"github.com/wxmedia/wxmedia/pkg/quota"
	"github.com/wxmedia/wxmedia/pkg/recordtable"
	"github.com/wxmedia/wxmedia/pkg/routes"
	"github.com/wxmedia/wxmedia/pkg/s3event"
	"github.com/wxmedia/wxmedia/pkg/token"
	"github.com/wxmedia/wxmedia/pkg/tokentable"
	"github.com/wxmedia/wxmedia/pkg/tracing"
	"github.com/wxmedia/wxmedia/pkg/transfer"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

// The environment variables the functions read.
const (
	EnvBucket          = "MEDIA_BUCKET"     // required: the media bucket
	EnvSecretID        = "WECHAT_SECRET_ID" // required: name or ARN of the {"appid","appsecret"} secret
	EnvWeChatBase      = "WECHAT_API_BASE"  // default https://api.weixin.qq.com
	EnvAllowedPrefixes = "ALLOWED_PREFIXES" // comma-separated prefixes the {"key"} routes may read besides upload/ and uploadimg/
	EnvLimits          = "MEDIA_LIMITS"     // e.g. image=2MB,thumb=64KB
	EnvLogLevel        = "LOG_LEVEL"        // debug, info, warn, error: when Lambda sets no AWS_LAMBDA_LOG_LEVEL
	EnvInlineLimit     = "GET_INLINE_LIMIT" // the largest file get answers itself, e.g. 4MB; default httpapi.MaxInline
	// EnvLambdaLogLevel is the function's ApplicationLogLevel, set by Lambda
	// (TRACE, DEBUG, INFO, WARN, ERROR, FATAL): it wins over LOG_LEVEL.
	EnvLambdaLogLevel   = "AWS_LAMBDA_LOG_LEVEL"
	EnvMetricsNamespace = "METRICS_NAMESPACE" // the metrics' CloudWatch namespace; default metrics.DefaultNamespace
	// EnvDetailedMetrics "true" files every metric by function, route and
	// errcode (metrics.DetailedSeries); default false, only
	// metrics.DefaultSeries.
	EnvDetailedMetrics = "DETAILED_METRICS"
	EnvEventBus        = "EVENT_BUS_NAME" // the EventBridge bus of the completion events; default "default"
	// EnvQuotaResetHour is the hour (UTC, 0-23) at which WeChat resets its
	// daily quotas, when the breaker lets calls through again after a
	// 45009; default quota.DefaultResetHour, 16 (midnight Beijing time).
	EnvQuotaResetHour = "QUOTA_RESET_HOUR"
	// EnvTokenTable is the DynamoDB table of the third-party platform's
	// tickets and tokens, shared by every container; unset (make local),
	// they are kept in process.
	EnvTokenTable = "TOKEN_TABLE"
	// EnvAppsClaim names the JWT claim that lists the apps a caller may
	// use (AuthMode=JWT); unset, the secret's "callers" bind IAM principals.
	EnvAppsClaim = "CALLER_APPS_CLAIM"
)

// Config is the functions' configuration.
type Config struct {
	Bucket          string
	SecretID        string
	WeChatBase      string
	AllowedPrefixes []string
	Rules           media.Rules
	LogLevel        string
	InlineLimit     int64 // 0: httpapi.MaxInline
	// MetricsNamespace is the CloudWatch namespace of the EMF metrics.
	MetricsNamespace string
	// DetailedMetrics files every metric as a series, not only the default ones.
	DetailedMetrics bool
	// Tracing is whether and where spans go (TRACING, AWS_XRAY_DAEMON_ADDRESS).
	Tracing tracing.Options
	// EventBus is the EventBridge bus completion events go to.
	EventBus string
	// QuotaResetHour is the UTC hour of WeChat's daily reset (QUOTA_RESET_HOUR).
	QuotaResetHour int
	// TokenTable is the shared token store's DynamoDB table; "" keeps it in process.
	TokenTable string
	AppsClaim  string // the JWT claim of a caller's apps; "" for none
}

// FromEnv reads Config, naming any variable that is missing or wrong.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Bucket:     strings.TrimSpace(getenv(EnvBucket)),
		SecretID:   strings.TrimSpace(getenv(EnvSecretID)),
		WeChatBase: strings.TrimSpace(getenv(EnvWeChatBase)),
		LogLevel:   strings.TrimSpace(getenv(EnvLambdaLogLevel)),

		MetricsNamespace: strings.TrimSpace(getenv(EnvMetricsNamespace)),
		EventBus:         strings.TrimSpace(getenv(EnvEventBus)),
		TokenTable:       strings.TrimSpace(getenv(EnvTokenTable)),
		AppsClaim:        strings.TrimSpace(getenv(EnvAppsClaim)),
		Tracing:          tracing.FromEnv(getenv),
		QuotaResetHour:   quota.DefaultResetHour,
	}
	if c.LogLevel == "" {
		c.LogLevel = getenv(EnvLogLevel)
	}
	for _, name := range []struct{ env, val string }{{EnvBucket, c.Bucket}, {EnvSecretID, c.SecretID}} {
		if name.val == "" {
			return Config{}, fmt.Errorf("environment variable %s is not set", name.env)
		}
	}
	if c.WeChatBase == "" {
		c.WeChatBase = wechat.DefaultBaseURL
	}
	if err := wechat.CheckBaseURL(c.WeChatBase); err != nil {
		return Config{}, fmt.Errorf("environment variable %s=%q: %w", EnvWeChatBase, c.WeChatBase, err)
	}
	for _, p := range strings.Split(getenv(EnvAllowedPrefixes), ",") {
		if p = strings.TrimSpace(p); p != "" {
			if err := transfer.CheckPrefix(p); err != nil {
				return Config{}, fmt.Errorf("environment variable %s: %w", EnvAllowedPrefixes, err)
			}
			c.AllowedPrefixes = append(c.AllowedPrefixes, p)
		}
	}
	if v := strings.TrimSpace(getenv(EnvInlineLimit)); v != "" {
		n, err := media.ParseSize(v)
		if err != nil || n > httpapi.MaxInline {
			return Config{}, fmt.Errorf("environment variable %s=%q: want a size up to %d bytes (what a Lambda response carries), like 4MB", EnvInlineLimit, v, httpapi.MaxInline)
		}
		c.InlineLimit = n
	}
	if v := strings.TrimSpace(getenv(EnvDetailedMetrics)); v != "" {
		d, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("environment variable %s=%q: want true or false", EnvDetailedMetrics, v)
		}
		c.DetailedMetrics = d
	}
	if v := strings.TrimSpace(getenv(EnvQuotaResetHour)); v != "" {
		h, err := strconv.Atoi(v)
		if err != nil || h < 0 || h > 23 {
			return Config{}, fmt.Errorf("environment variable %s=%q: want an hour of the day in UTC, 0 to 23 (WeChat resets its quotas at 16, midnight Beijing time)", EnvQuotaResetHour, v)
		}
		c.QuotaResetHour = h
	}
	rules, err := media.DefaultRules().WithLimits(getenv(EnvLimits))
	if err != nil {
		return Config{}, fmt.Errorf("environment variable %s: %w", EnvLimits, err)
	}
	c.Rules = rules
	return c, nil
}

// App is the built service.
type App struct {
	Config  Config
	Logger  *slog.Logger
	Service *transfer.Service
	Tokens  *token.Source
	// Apps resolves the apps the service works for, and their placeholder
	// access tokens.
	Apps *apps.Registry
	// Platform is the third-party platform of the secret's component entry.
	Platform *platform.Platform
	// Metrics writes the EMF documents, to stdout unless SetMetricsOutput.
	Metrics *metrics.Recorder
}

// Build loads the AWS configuration (credentials, region, and the standard
// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_SECRETS_MANAGER overrides) and
// builds the clients.
func Build(ctx context.Context, c Config) (*App, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	emulated := os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
	if emulated {
		// The emulators (moto, the local runner's gofakes3) do not decode the
		// aws-chunked bodies with trailing checksums that the SDK sends by
		// default, nor answer the checksums it validates. Against S3 itself
		// the SDK's defaults stand: every write carries a checksum and every
		// read is validated.
		awsCfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		awsCfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.UsePathStyle = emulated // emulators serve buckets by path
	})
	d := Deps{S3: s3c, Presigner: s3.NewPresignClient(s3c), Secrets: secretsmanager.NewFromConfig(awsCfg),
		Events: eventbridge.NewFromConfig(awsCfg)}
	if c.TokenTable != "" {
		db := dynamodb.NewFromConfig(awsCfg)
		d.TokenStore = tokentable.NewDynamo(db, c.TokenTable)
		d.Records = recordtable.New(db, c.TokenTable, 0, nil)
	}
	return New(c, d), nil
}

// Deps are the clients the app is built over.
type Deps struct {
	S3        bucket.API       // required
	Presigner bucket.Presigner // for get's links
	// Secrets reads the app's secret; Credentials, if set, replaces it
	// (fixed credentials for benchmarks).
	Secrets     token.SecretsAPI
	Credentials token.CredentialsProvider
	Now         func() time.Time // default time.Now: the caches' and the quota breaker's clock
	// Sleep is how the WeChat client waits between tries (it returns the
	// context's error if it is done first); default a timer. Tests that
	// drive a clock of their own (Now) wait on it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Events publishes the completion events (package completion); nil
	// publishes none (benchmarks).
	Events completion.API
	// TokenStore is the third-party platform's shared token store; nil
	// keeps one in process (make local, tests).
	TokenStore platform.Store
	// Records keeps the ledger's claims and the media_id index: the
	// stack's table (package recordtable); nil keeps them in the bucket.
	Records ledger.Records
}

// New builds the service from clients that are already made.
func New(c Config, d Deps) *App {
	log := logging.New(os.Stderr, c.LogLevel)
	if d.Now == nil {
		d.Now = time.Now
	}
	m := metrics.New(os.Stdout, metrics.Options{Namespace: c.MetricsNamespace, Detailed: c.DetailedMetrics})
	tp, err := tracing.NewProvider(c.Tracing)
	if err != nil {
		log.Error("tracing is off", "error", err.Error())
		tp, _ = tracing.NewProvider(tracing.Options{})
	}
	tracer := tp.Tracer("github.com/wxmedia/wxmedia")
	creds := d.Credentials
	var secrets apps.Secrets
	if creds == nil {
		store := token.NewSecretStore(d.Secrets, c.SecretID, token.StoreOptions{Now: d.Now, Metrics: m, Tracer: tracer})
		creds, secrets = store, store
	} else {
		secrets = apps.Single(creds)
	}
	hc := httpClient()
	// One breaker for the deployment, each app's quota apart (the scope) and
	// each API's daily quota apart.
	spent := quota.New(c.QuotaResetHour, d.Now)
	tokenAPI := wechat.New(wechat.Options{BaseURL: c.WeChatBase, HTTPClient: hc, Logger: log, Metrics: m, Tracer: tracer,
		Quota: spent, QuotaScope: apps.Scope, Now: d.Now, Sleep: d.Sleep})
	tokens := token.New(token.Options{WeChat: tokenAPI, Credentials: creds, Logger: log, Now: d.Now, Metrics: m})
	store := d.TokenStore
	if store == nil {
		store = tokentable.NewMemory(d.Now)
	}
	plat := platform.New(platform.Options{Store: store, WeChat: tokenAPI, Secrets: secrets, Logger: log, Now: d.Now})
	registry := apps.New(apps.Options{Secrets: secrets, WeChat: tokenAPI, Default: tokens, Logger: log, Metrics: m, Authorizers: plat, AppsClaim: c.AppsClaim})
	wx := wechat.New(wechat.Options{BaseURL: c.WeChatBase, HTTPClient: hc, Tokens: registry, Logger: log, Metrics: m, Tracer: tracer,
		Quota: spent, QuotaScope: apps.Scope, Now: d.Now, Sleep: d.Sleep})
	var announce ledger.Announcer
	if d.Events != nil {
		announce = completion.New(completion.Options{API: d.Events, Bus: c.EventBus, Bucket: c.Bucket, Logger: log,
			AppID: func(ctx context.Context) string {
				cr, err := creds.Credentials(ctx) // cached: the upload just used it
				if err != nil {
					return ""
				}
				return cr.AppID
			}})
	}
	mb := bucket.New(d.S3, bucket.Options{Name: c.Bucket, Presigner: d.Presigner, Metrics: m, Tracer: tracer})
	var records ledger.Records = mb
	if d.Records != nil {
		records = d.Records
	}
	svc := transfer.New(transfer.Options{
		Bucket:          mb,
		WeChat:          wx,
		Ledger:          ledger.New(mb, records, ledger.Options{Announce: announce, Now: d.Now, Logger: log}),
		Index:           records,
		Rules:           c.Rules,
		AllowedPrefixes: c.AllowedPrefixes,
		Downloads:       transfer.NewDownloader(transfer.DownloadOptions{Allow: transfer.AllowFor(c.WeChatBase)}),
		Now:             d.Now,
		Logger:          log,
		Metrics:         m,
		Apps:            registry,
	})
	return &App{Config: c, Logger: log, Service: svc, Tokens: tokens, Apps: registry, Platform: plat, Metrics: m}
}

// SetMetricsOutput sends the EMF documents alone to w (the local runner).
func (a *App) SetMetricsOutput(w io.Writer) { a.Metrics.SetOutput(w) }

// SetLogOutput sends the logs, and the metrics' log lines, to w (tests,
// the local runner).
func (a *App) SetLogOutput(w io.Writer) {
	*a.Logger = *logging.New(w, a.Config.LogLevel)
	a.Metrics.SetOutput(w)
}

// HTTP is the HTTP handler for the routes served (all of them if none):
// the media routes' (package httpapi), and, for routes.Component, the
// third-party platform's push route.
func (a *App) HTTP(served ...string) http.Handler {
	media := slices.DeleteFunc(slices.Clone(served), func(r string) bool { return r == routes.Component })
	var api http.Handler = http.NotFoundHandler() // the push route's function: no media route
	if len(served) == 0 || len(media) > 0 {
		api = httpapi.New(httpapi.Options{Service: a.Service, Bucket: a.Config.Bucket, Routes: media, Logger: a.Logger,
			InlineLimit: a.Config.InlineLimit, Metrics: a.Metrics, Caller: caller, Apps: a.Apps})
	}
	if len(served) > 0 && len(media) == len(served) {
		return api
	}
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.Handle(routes.PathPlatformEvents, httpapi.PlatformEvents(a.Platform, a.Logger))
	return mux
}

// Paths are the HTTP paths function route serves (internal/deploy checks the
// template's routes against them).
func Paths(route string) []string {
	if route == routes.Component {
		return []string{routes.PathPlatformEvents}
	}
	return httpapi.Paths(route)
}

// PublicPaths are the paths no authorizer guards: WeChat calls them, and
// signs its calls instead.
var PublicPaths = []string{routes.PathPlatformEvents}

// Trigger is the S3 event handler.
func (a *App) Trigger() *s3event.Handler {
	return s3event.New(a.Service, a.Config.Bucket, a.Logger).WithMetrics(a.Metrics)
}

// Lambda is the handler of the function serving route: its HTTP route;
// for the media routes, their direct invocations (package cloudcall); for
// upload and uploadimg, the S3 notifications of their trigger prefix. The
// push route's function (routes.Component) takes its HTTP route alone.
func (a *App) Lambda(route string) invocation.Raw {
	opts := invocation.Options{HTTP: a.HTTP(route)}
	if route != routes.Component {
		opts.Direct = cloudcall.Handler(a.Service, route, a.Logger)
	}
	if route == routes.Upload || route == routes.UploadImg {
		opts.S3 = a.Trigger() // upload/<type>/ and uploadimg/ puts
	}
	h := invocation.Handler(opts)
	return func(ctx context.Context, payload json.RawMessage) (any, error) {
		// The spans started in the invocation are its X-Ray segment's.
		return h(tracing.Invocation(ctx), payload)
	}
}

// httpClient is the client for WeChat: no global timeout (the context
// bounds each call, so a 10 MB upload is not cut short), but bounded
// connection set-up.
func httpClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 0,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}}
}

// Main is a function's main: it reads the configuration from the
// environment, builds the app once for the container, and serves the
// function's route (and, for upload and uploadimg, the S3 events of its
// trigger prefix) until Lambda stops it. A configuration that is missing
// or wrong stops the function at init, naming the variable.
func Main(route string) {
	cfg, err := FromEnv(os.Getenv)
	if err == nil {
		var a *App
		if a, err = Build(context.Background(), cfg); err == nil {
			lambda.Start(a.Lambda(route))
			return
		}
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", route, err)
	os.Exit(1)
}

// caller is who made a request, as API Gateway's authorizer vouched.
func caller(ctx context.Context) (string, apps.Caller) {
	arn, claims := apigw.Identity(ctx)
	return apigw.Caller(ctx), apps.Caller{ARN: arn, Claims: claims}
}
