// Package metrics gives the service's CloudWatch metrics, written as log
// lines in CloudWatch's Embedded Metric Format (EMF): no agent, no API call
// on the request path. Lambda sends the lines to CloudWatch Logs, which
// turns them into metrics.
//
// Each unit of work (an HTTP request, one record of an S3 event) is a scope:
// Begin puts one in the context, the adapters add to it through small
// interfaces declared where they are used (WeChat's latency and retries,
// token fetches, S3's latency, bytes moved, media_ids reused, failures per
// dependency), and End writes it as one JSON line. A context without a
// scope records nothing. See Names for what each metric means.
//
// Every line carries every measurement, for a log query to read; which of
// them CloudWatch files as metrics (each series billed by the month) is the
// Recorder's choice: by default only Outcome, the one series the alarms
// read (DefaultSeries); with Options.Detailed, every metric by function and
// route and the errors by errcode too (DetailedSeries).
package metrics

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// DefaultNamespace is the CloudWatch namespace when none is configured.
const DefaultNamespace = "wxmedia"

// The metrics, by name. Every document carries Requests and Latency under
// the dimensions Function and Route; the others only when they happened.
const (
	Requests               = "Requests"               // Count: HTTP requests, or S3 records, handled
	Latency                = "Latency"                // Milliseconds: one request or record, start to answer
	Errors                 = "Errors"                 // Count: answers with an errcode, by ErrCode and Status
	WeChatLatency          = "WeChatLatency"          // Milliseconds: each HTTP exchange with WeChat
	WeChatRetries          = "WeChatRetries"          // Count: WeChat calls sent again (busy, 5xx, a rejected token)
	TokenFetches           = "TokenFetches"           // Count: stable_token calls
	S3Latency              = "S3Latency"              // Milliseconds: each S3 request, to its answer's headers
	BytesToWeChat          = "BytesToWeChat"          // Bytes: media WeChat accepted
	BytesFromWeChat        = "BytesFromWeChat"        // Bytes: media fetched from WeChat into the bucket
	ReusedMediaIDs         = "ReusedMediaIds"         // Count: answers from a recorded media_id or stored media: WeChat quota saved
	WeChatFailures         = "WeChatFailures"         // Count: WeChat calls that failed after retries (not the caller's)
	S3Failures             = "S3Failures"             // Count: S3 requests that failed (throttled, 5xx, denied; not 404 or 412)
	SecretsManagerFailures = "SecretsManagerFailures" // Count: secret reads that failed
	// Outcome is one value a request (None): the class of its answer,
	// OutcomeOther or one of AlarmedErrCodes' values. Its SampleCount is
	// the requests; PR(n:m), the share of them in a class, per 100.
	Outcome = "Outcome"
)

// The dimensions.
const (
	DimFunction = "Function" // the Lambda function's name
	DimRoute    = "Route"    // upload, get, uploadimg, none (no such route), or s3 (a record of an S3 event)
	DimErrCode  = "ErrCode"  // the errcode answered
	DimStatus   = "Status"   // the HTTP status the errcode stands for
)

// RouteS3 is the route of an S3 event's records.
const RouteS3 = "s3"

// The units of the metrics, as EMF names them.
var units = map[string]string{
	Requests: "Count", Latency: "Milliseconds", Errors: "Count",
	WeChatLatency: "Milliseconds", WeChatRetries: "Count", TokenFetches: "Count", S3Latency: "Milliseconds",
	BytesToWeChat: "Bytes", BytesFromWeChat: "Bytes", ReusedMediaIDs: "Count",
	WeChatFailures: "Count", S3Failures: "Count", SecretsManagerFailures: "Count", Outcome: "None",
}

// Names are every metric a Recorder writes, with its unit.
func Names() map[string]string {
	out := make(map[string]string, len(units))
	for k, v := range units {
		out[k] = v
	}
	return out
}

// maxValues is how many values EMF takes for one metric in one document.
const maxValues = 100

// Options configure a Recorder. Zero values take the defaults.
type Options struct {
	Namespace string           // default DefaultNamespace
	Now       func() time.Time // default time.Now
	// Detailed files every metric as a series (DetailedSeries), not only
	// DefaultSeries: about $0.30 a month each.
	Detailed bool
}

// Recorder writes each scope it ended as one EMF document, one line, in a
// single Write. It is safe for concurrent use; a nil *Recorder records
// nothing.
type Recorder struct {
	ns       string
	now      func() time.Time
	detailed bool
	mu       sync.Mutex
	w        io.Writer
}

// New returns a Recorder writing to w (Lambda: stdout).
func New(w io.Writer, opts Options) *Recorder {
	r := &Recorder{ns: strings.TrimSpace(opts.Namespace), now: opts.Now, detailed: opts.Detailed, w: w}
	if r.ns == "" {
		r.ns = DefaultNamespace
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r
}

// Namespace is the CloudWatch namespace written.
func (r *Recorder) Namespace() string { return r.ns }

// SetOutput sends the documents to w from now on.
func (r *Recorder) SetOutput(w io.Writer) {
	r.mu.Lock()
	r.w = w
	r.mu.Unlock()
}

// scope is one unit of work's measurements.
type scope struct {
	function, route string
	start           time.Time

	mu      sync.Mutex
	ended   bool
	counts  map[string]float64
	samples map[string][]float64
}

type scopeKey struct{}

func scopeOf(ctx context.Context) *scope {
	s, _ := ctx.Value(scopeKey{}).(*scope)
	return s
}

// Begin returns ctx carrying a new scope for one unit of work on route, of
// the function the context's invocation names.
func (r *Recorder) Begin(ctx context.Context, route string) context.Context {
	if r == nil {
		return ctx
	}
	return context.WithValue(ctx, scopeKey{}, &scope{function: FunctionName(ctx), route: route, start: r.now()})
}

// End writes ctx's scope: one request on its route, answered with errcode
// (0 for a success) standing for HTTP status. What is added to the scope
// after End is dropped.
func (r *Recorder) End(ctx context.Context, errcode, status int) {
	s := scopeOf(ctx)
	if r == nil || s == nil {
		return
	}
	end := r.now()
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	doc := map[string]any{DimFunction: s.function, DimRoute: s.route, Requests: 1, Outcome: OutcomeOf(errcode),
		Latency: math.Round(float64(end.Sub(s.start).Microseconds())/10) / 100}
	rest := []metric{}
	for name, v := range s.counts {
		doc[name] = v
		rest = append(rest, metric{name, units[name]})
	}
	for name, v := range s.samples {
		doc[name] = v
		rest = append(rest, metric{name, units[name]})
	}
	s.mu.Unlock()
	if errcode != 0 {
		doc[DimErrCode], doc[DimStatus], doc[Errors] = strconv.Itoa(errcode), strconv.Itoa(status), 1
	}
	directives := []directive{{r.ns, [][]string{{}}, []metric{{Outcome, units[Outcome]}}}}
	if r.detailed {
		directives = append(directives, r.detailedDirectives(append(rest, metric{Latency, units[Latency]}), errcode)...)
	}
	doc["_aws"] = metadata{Timestamp: end.UnixMilli(), CloudWatchMetrics: directives}
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		doc["request_id"] = lc.AwsRequestID // not a metric: lets a log search join the access line
	}
	line, err := json.Marshal(doc)
	if err != nil {
		return // only numbers and strings: cannot happen
	}
	line = append(line, '\n')
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w != nil {
		_, _ = r.w.Write(line)
	}
}

// detailedDirectives file rest (the scope's metrics) by function and
// route, the requests for the whole service too, and an errcode's answer
// by errcode.
func (r *Recorder) detailedDirectives(rest []metric, errcode int) []directive {
	d := []directive{
		// Requests for each route, and for the whole service (the errcode rates' denominator).
		{r.ns, [][]string{{DimFunction, DimRoute}, {}}, []metric{{Requests, units[Requests]}}},
		{r.ns, [][]string{{DimFunction, DimRoute}}, sortMetrics(rest)},
	}
	if errcode != 0 {
		d = append(d, directive{r.ns,
			[][]string{{DimFunction, DimRoute, DimErrCode, DimStatus}, {DimErrCode}}, []metric{{Errors, units[Errors]}}})
	}
	return d
}

// EMF's metadata.
type metadata struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

type directive struct {
	Namespace  string     `json:"Namespace"`
	Dimensions [][]string `json:"Dimensions"`
	Metrics    []metric   `json:"Metrics"`
}

type metric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

func sortMetrics(m []metric) []metric {
	for i := 1; i < len(m); i++ {
		for j := i; j > 0 && m[j].Name < m[j-1].Name; j-- {
			m[j], m[j-1] = m[j-1], m[j]
		}
	}
	return m
}

// add counts n of metric name in ctx's scope.
func add(ctx context.Context, name string, n float64) {
	s := scopeOf(ctx)
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	if s.counts == nil {
		s.counts = map[string]float64{}
	}
	s.counts[name] += n
}

// sample adds one value of metric name, in milliseconds, to ctx's scope.
func sample(ctx context.Context, name string, d time.Duration) {
	s := scopeOf(ctx)
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || len(s.samples[name]) >= maxValues {
		return
	}
	if s.samples == nil {
		s.samples = map[string][]float64{}
	}
	s.samples[name] = append(s.samples[name], math.Round(float64(d.Microseconds())/10)/100)
}

// WeChatAttempt records the latency of one HTTP exchange with WeChat.
func (r *Recorder) WeChatAttempt(ctx context.Context, d time.Duration) { sample(ctx, WeChatLatency, d) }

// WeChatRetry counts a WeChat call sent again.
func (r *Recorder) WeChatRetry(ctx context.Context) { add(ctx, WeChatRetries, 1) }

// WeChatCall records a WeChat call's outcome: failed is a failure that is
// not the caller's.
func (r *Recorder) WeChatCall(ctx context.Context, failed bool) {
	if failed {
		add(ctx, WeChatFailures, 1)
	}
}

// TokenFetch counts a stable_token call.
func (r *Recorder) TokenFetch(ctx context.Context) { add(ctx, TokenFetches, 1) }

// SecretRead records a read of the app's secret.
func (r *Recorder) SecretRead(ctx context.Context, failed bool) {
	if failed {
		add(ctx, SecretsManagerFailures, 1)
	}
}

// S3Call records one S3 request: its latency, and whether it failed
// (throttled, 5xx, denied, out of time; not a missing key or a condition).
func (r *Recorder) S3Call(ctx context.Context, d time.Duration, failed bool) {
	sample(ctx, S3Latency, d)
	if failed {
		add(ctx, S3Failures, 1)
	}
}

// SentToWeChat counts media bytes WeChat accepted.
func (r *Recorder) SentToWeChat(ctx context.Context, n int64) { add(ctx, BytesToWeChat, float64(n)) }

// FetchedFromWeChat counts media bytes fetched from WeChat.
func (r *Recorder) FetchedFromWeChat(ctx context.Context, n int64) {
	add(ctx, BytesFromWeChat, float64(n))
}

// Reused counts an answer given from a recorded media_id or stored media,
// without spending WeChat's quota.
func (r *Recorder) Reused(ctx context.Context) { add(ctx, ReusedMediaIDs, 1) }

// FunctionName is the Lambda function ctx's invocation runs: the
// function's own name, else the one its ARN names (the local runner's),
// else "local".
func FunctionName(ctx context.Context) string {
	if lambdacontext.FunctionName != "" {
		return lambdacontext.FunctionName
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		// arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
		if parts := strings.Split(lc.InvokedFunctionArn, ":"); len(parts) >= 7 && parts[6] != "" {
			return parts[6]
		}
	}
	return "local"
}
