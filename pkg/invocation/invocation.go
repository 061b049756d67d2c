// Package invocation tells a Lambda invocation's event apart (an API
// Gateway HTTP API request; an S3 notification, delivered directly, through
// SQS or through EventBridge; a direct invocation in the cloud call's
// shape) and hands it to what serves it, so one function takes them all.
package invocation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/wxmedia/wxmedia/pkg/apigw"
	"github.com/wxmedia/wxmedia/pkg/cloudcall"
	"github.com/wxmedia/wxmedia/pkg/reply"
	"github.com/wxmedia/wxmedia/pkg/s3event"
)

// EventError is an event the function cannot read; Lambda reports it with
// errorType "EventError".
type EventError struct {
	Reason string
	Err    error
}

func (e *EventError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Reason, e.Err)
	}
	return e.Reason
}

func (e *EventError) Unwrap() error { return e.Err }

// ErrUnknownEvent is an event of no shape the function takes.
var ErrUnknownEvent = errors.New("unknown event: want an API Gateway HTTP API (payload 2.0) request, " +
	"an S3 notification (direct, through SQS or through EventBridge), or a direct invocation " +
	`({"type","media"|"key"} for upload, {"media"|"key"} for uploadimg, {"mediaId"} for get)`)

// Reserve is the time kept back from the Lambda deadline, so that a
// request out of time is answered (504) and an S3 record's failure is
// recorded before Lambda stops the function.
const Reserve = 2 * time.Second

// APIGatewayTimeout bounds an HTTP request: API Gateway answers 503 itself
// after 30 s, and recording an outcome may take up to 2 s past this.
const APIGatewayTimeout = 27 * time.Second

// Options are what a function serves.
type Options struct {
	HTTP http.Handler // required: its HTTP routes
	// S3 handles object-created notifications, delivered directly, through
	// SQS or through EventBridge; nil for a function no bucket triggers.
	S3 *s3event.Handler
	// Direct answers a direct invocation (package cloudcall); nil refuses one.
	Direct func(ctx context.Context, payload json.RawMessage) (any, error)
}

// kind is what an invocation's event is.
type kind int

const (
	unknown kind = iota
	apiGateway
	s3Direct
	s3Empty
	s3SQS
	s3EventBridge
	direct
)

// shape is just enough of an event to tell its kind.
type shape struct {
	Records []struct {
		EventSource    string `json:"eventSource"`
		EventSourceSNS string `json:"EventSource"` // SNS capitalises it
	} `json:"Records"`
	RequestContext *struct {
		HTTP *struct {
			Method string `json:"method"`
		} `json:"http"`
	} `json:"requestContext"`
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
}

// kindOf is the one place an event's kind is told: it answers the kind
// and, for an event of no known shape, what it saw.
func kindOf(payload json.RawMessage) (kind, string) {
	if cloudcall.Truncated(payload) {
		return direct, "" // only a direct call's file fills Lambda's invoke limit: cloudcall answers it
	}
	var sh shape
	var keys map[string]ignored // the names only: no copy of the values
	if json.Unmarshal(payload, &sh) != nil || json.Unmarshal(payload, &keys) != nil {
		return unknown, "a payload that is not a JSON object"
	}
	names := slices.Sorted(maps.Keys(keys))
	switch {
	case sh.RequestContext != nil && sh.RequestContext.HTTP != nil:
		return apiGateway, ""
	case len(sh.Records) > 0 && sh.Records[0].EventSource == "aws:s3":
		return s3Direct, ""
	case len(sh.Records) > 0 && sh.Records[0].EventSource == "aws:sqs":
		return s3SQS, ""
	case len(sh.Records) > 0 && sh.Records[0].EventSource == "":
		if sh.Records[0].EventSourceSNS == "aws:sns" {
			return unknown, "an SNS notification (subscribe an SQS queue to the topic, or use TriggerMode)"
		}
		return unknown, "records of no known source"
	case sh.Records != nil:
		return s3Empty, ""
	case sh.Source != "" && sh.DetailType != "" && sh.Detail != nil:
		return s3EventBridge, ""
	case cloudcall.IsCall(names):
		return direct, ""
	}
	if len(names) > 10 {
		names = append(names[:10], fmt.Sprintf("… (%d keys)", len(names)))
	}
	return unknown, fmt.Sprintf("an object with keys %v", names)
}

// ignored takes any JSON value and keeps nothing.
type ignored struct{}

func (*ignored) UnmarshalJSON([]byte) error { return nil }

// Handler returns the function's Lambda handler: it tells the event's
// kind and hands it to what serves it.
func Handler(opts Options) func(ctx context.Context, payload json.RawMessage) (any, error) {
	httpHandler := apigw.Handler(opts.HTTP, reply.Error)
	s3 := opts.S3
	return func(ctx context.Context, payload json.RawMessage) (any, error) {
		k, saw := kindOf(payload)
		switch {
		case k == apiGateway:
			var e events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(payload, &e); err != nil {
				return nil, &EventError{Reason: "malformed API Gateway event", Err: err}
			}
			ctx, cancel := withReserve(ctx, APIGatewayTimeout)
			defer cancel()
			return httpHandler(ctx, e)
		case k == s3Direct && s3 != nil:
			var e events.S3Event
			if err := json.Unmarshal(payload, &e); err != nil {
				// aws-lambda-go decodes each key here: a malformed %xx escape lands here.
				return nil, &EventError{Reason: "malformed S3 event", Err: err}
			}
			ctx, cancel := withReserve(ctx, 0)
			defer cancel()
			return s3.Handle(ctx, e)
		case k == s3SQS && s3 != nil:
			var e events.SQSEvent
			if err := json.Unmarshal(payload, &e); err != nil {
				return nil, &EventError{Reason: "malformed SQS event", Err: err}
			}
			ctx, cancel := withReserve(ctx, 0)
			defer cancel()
			return s3.HandleSQS(ctx, e)
		case k == s3EventBridge && s3 != nil:
			var e events.EventBridgeEvent
			if err := json.Unmarshal(payload, &e); err != nil {
				return nil, &EventError{Reason: "malformed EventBridge event", Err: err}
			}
			ctx, cancel := withReserve(ctx, 0)
			defer cancel()
			return s3.HandleEventBridge(ctx, e)
		case k == s3Empty && s3 != nil:
			return nil, &EventError{Reason: "S3 event", Err: s3event.ErrNoRecords}
		case k == direct && opts.Direct != nil:
			ctx, cancel := withReserve(ctx, 0)
			defer cancel()
			return opts.Direct(ctx, payload)
		case k == unknown:
			return nil, &EventError{Reason: "event of no known shape: " + saw, Err: ErrUnknownEvent}
		}
		return nil, &EventError{Reason: "an event this function does not take", Err: ErrUnknownEvent}
	}
}

// Raw is a handler as Lambda's runtime takes it (lambda.Handler): the
// event's bytes as they came, not decoded first, so that one cut at the
// invoke limit still reaches Handler, which answers it; the answer is
// JSON without a trailing newline, < > & as they are.
type Raw func(ctx context.Context, payload json.RawMessage) (any, error)

// Invoke runs h on payload and encodes its answer.
func (h Raw) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := h(ctx, payload)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("encode the answer: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// withReserve shortens ctx's deadline by Reserve, and caps it at max if max > 0.
func withReserve(ctx context.Context, max time.Duration) (context.Context, context.CancelFunc) {
	var dl time.Time
	if d, ok := ctx.Deadline(); ok {
		dl = d.Add(-Reserve)
	}
	if max > 0 {
		if capped := time.Now().Add(max); dl.IsZero() || capped.Before(dl) {
			dl = capped
		}
	}
	if dl.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, dl)
}
