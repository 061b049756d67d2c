// Package logging makes the service's structured JSON logs: one line per
// event, each carrying the Lambda request id, the invocation's X-Ray trace
// id and the attributes put on the context with With.
package logging

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/wxmedia/wxmedia/pkg/tracing"
)

// New returns a JSON logger writing to w at level ("trace", "debug",
// "info", "warn", "error", "fatal" in any case, as Lambda's
// AWS_LAMBDA_LOG_LEVEL names them; default info). Trace logs as debug.
func New(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "trace", "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error", "fatal":
		l = slog.LevelError
	}
	return slog.New(handler{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})})
}

type attrsKey struct{}

// With returns ctx carrying attrs, added to every line logged with it.
func With(ctx context.Context, attrs ...slog.Attr) context.Context {
	prev, _ := ctx.Value(attrsKey{}).([]slog.Attr)
	all := append(append([]slog.Attr(nil), prev...), attrs...)
	return context.WithValue(ctx, attrsKey{}, all)
}

type handler struct{ slog.Handler }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.AddAttrs(slog.String("request_id", lc.AwsRequestID))
	}
	if id := tracing.TraceID(ctx); id != "" {
		r.AddAttrs(slog.String("trace_id", id))
	}
	if attrs, ok := ctx.Value(attrsKey{}).([]slog.Attr); ok {
		r.AddAttrs(attrs...)
	}
	return h.Handler.Handle(ctx, r)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{h.Handler.WithAttrs(attrs)}
}

func (h handler) WithGroup(name string) slog.Handler { return handler{h.Handler.WithGroup(name)} }
