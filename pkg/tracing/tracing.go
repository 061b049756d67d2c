// Package tracing gives the service's traces: the calls to WeChat, S3 and
// Secrets Manager as OpenTelemetry spans, children of the Lambda
// invocation's own X-Ray segment, sent to the X-Ray daemon Lambda runs
// beside a function whose tracing is Active.
//
// The spans come from the OpenTelemetry Go SDK; the adapters take an
// OpenTelemetry trace.Tracer and know nothing else. Two small pieces are
// this package's own: reading the invocation's X-Ray trace header
// (Root=1-…;Parent=…;Sampled=1), which makes the invocation's segment the
// spans' remote parent, and an exporter that writes each ended span to the
// daemon over UDP as an X-Ray subsegment document. Spans are recorded only
// for invocations X-Ray sampled; with tracing off the tracer is
// OpenTelemetry's no-op one.
package tracing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// The environment the tracer is configured from.
const (
	// EnvTracing is the template's Tracing parameter: "Active" records
	// spans; anything else (PassThrough, unset) is a no-op tracer.
	EnvTracing = "TRACING"
	// EnvDaemon is where Lambda's X-Ray daemon listens (host:port, UDP).
	EnvDaemon = "AWS_XRAY_DAEMON_ADDRESS"
	// EnvTraceHeader is the current invocation's X-Ray trace header, as
	// aws-lambda-go sets it.
	EnvTraceHeader = "_X_AMZN_TRACE_ID"
)

// Active is EnvTracing's value that turns tracing on.
const Active = "Active"

// Options configure a provider.
type Options struct {
	Enabled bool
	// Daemon is the X-Ray daemon's UDP address; default 127.0.0.1:2000.
	Daemon string
}

// FromEnv reads Options: tracing on when EnvTracing is Active.
func FromEnv(getenv func(string) string) Options {
	return Options{Enabled: strings.EqualFold(strings.TrimSpace(getenv(EnvTracing)), Active), Daemon: strings.TrimSpace(getenv(EnvDaemon))}
}

// NewProvider returns the tracer provider: the OpenTelemetry SDK exporting
// to the X-Ray daemon if opts.Enabled, else a no-op provider. Nothing is
// sent until a sampled span ends.
func NewProvider(opts Options) (trace.TracerProvider, error) {
	if !opts.Enabled {
		return noop.NewTracerProvider(), nil
	}
	exp, err := NewExporter(opts.Daemon)
	if err != nil {
		return nil, err
	}
	return sdktrace.NewTracerProvider(
		// Sampled as the invocation's segment is: X-Ray decided it.
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.NeverSample())),
		// Each span is sent as it ends: a local UDP write, done before
		// Lambda freezes the container (a batch would wait in a frozen one).
		sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(exp)),
	), nil
}

// Header is an X-Ray trace header.
type Header struct {
	Root    string // 1-<8 hex digits: epoch seconds>-<24 hex digits>
	Parent  string // 16 hex digits: the invocation's segment
	Sampled bool
}

// ParseHeader reads a header such as
// Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1.
func ParseHeader(s string) (Header, bool) {
	var h Header
	for _, part := range strings.Split(s, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Root":
			h.Root = v
		case "Parent":
			h.Parent = v
		case "Sampled":
			h.Sampled = v == "1"
		}
	}
	if _, ok := traceID(h.Root); !ok {
		return Header{}, false
	}
	return h, true
}

func (h Header) String() string {
	s := "Root=" + h.Root
	if h.Parent != "" {
		s += ";Parent=" + h.Parent
	}
	if h.Sampled {
		return s + ";Sampled=1"
	}
	return s + ";Sampled=0"
}

// NewHeader is a header for a new trace, as X-Ray starts one for a request
// that has none (the local runner).
func NewHeader(now time.Time, sampled bool) Header {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return Header{Root: fmt.Sprintf("1-%08x-%s", uint32(now.Unix()), hex.EncodeToString(b[:12])),
		Parent: hex.EncodeToString(b[12:]), Sampled: sampled}
}

// lambdaKey is where aws-lambda-go puts the invocation's trace header.
const lambdaKey = "x-amzn-trace-id"

// WithHeader returns ctx carrying h as aws-lambda-go carries an
// invocation's trace header (the local runner, tests).
func WithHeader(ctx context.Context, h Header) context.Context {
	return context.WithValue(ctx, lambdaKey, h.String()) //nolint:staticcheck // aws-lambda-go's own key
}

// HeaderFrom is the trace header of ctx's invocation: the one aws-lambda-go
// put in ctx, else _X_AMZN_TRACE_ID.
func HeaderFrom(ctx context.Context) (Header, bool) {
	s, _ := ctx.Value(lambdaKey).(string)
	if s == "" {
		s = os.Getenv(EnvTraceHeader)
	}
	return ParseHeader(s)
}

// TraceID is the X-Ray trace id of ctx's invocation (1-…-…), or "".
func TraceID(ctx context.Context) string {
	h, _ := HeaderFrom(ctx)
	return h.Root
}

// Invocation returns ctx with the invocation's X-Ray segment as the remote
// parent of the spans started in it; ctx as it is without a header.
func Invocation(ctx context.Context) context.Context {
	h, ok := HeaderFrom(ctx)
	if !ok {
		return ctx
	}
	tid, _ := traceID(h.Root)
	var sid trace.SpanID
	if b, err := hex.DecodeString(h.Parent); err != nil || len(b) != len(sid) {
		return ctx
	} else {
		copy(sid[:], b)
	}
	flags := trace.TraceFlags(0)
	if h.Sampled {
		flags = trace.FlagsSampled
	}
	return trace.ContextWithRemoteSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: flags, Remote: true}))
}

// traceID is an X-Ray root as an OpenTelemetry trace id: the same 128 bits.
func traceID(root string) (trace.TraceID, bool) {
	var id trace.TraceID
	parts := strings.Split(root, "-")
	if len(parts) != 3 || parts[0] != "1" || len(parts[1]) != 8 || len(parts[2]) != 24 {
		return id, false
	}
	b, err := hex.DecodeString(parts[1] + parts[2])
	if err != nil {
		return id, false
	}
	copy(id[:], b)
	return id, id.IsValid()
}

// xrayTraceID is an OpenTelemetry trace id as an X-Ray root.
func xrayTraceID(id trace.TraceID) string {
	s := id.String()
	return "1-" + s[:8] + "-" + s[8:]
}

// Noop is a tracer that records nothing: the adapters' default.
func Noop() trace.Tracer { return noop.NewTracerProvider().Tracer("") }

// defaultDaemon is where Lambda's X-Ray daemon listens.
const defaultDaemon = "127.0.0.1:2000"

func daemonAddr(addr string) (*net.UDPAddr, error) {
	if addr == "" {
		addr = defaultDaemon
	}
	// The variable may hold "tcp:… udp:…" for the two protocols: take UDP's.
	for _, f := range strings.Fields(addr) {
		if v, ok := strings.CutPrefix(f, "udp:"); ok {
			addr = v
		}
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("X-Ray daemon address %q (%s): %w", addr, EnvDaemon, err)
	}
	return ua, nil
}
