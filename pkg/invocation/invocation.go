// Package invocation routes a Lambda invocation to the HTTP handler or the S3
// handler by the shape of its event, so one function can be triggered by
// both API Gateway and S3.
package invocation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/wxmedia/wxmedia/pkg/apigw"
	"github.com/wxmedia/wxmedia/pkg/httpapi"
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

// ErrUnknownEvent is an event that is neither an API Gateway HTTP API
// request (payload 2.0) nor an S3 notification.
var ErrUnknownEvent = errors.New("unknown event: want an API Gateway HTTP API (payload 2.0) request or an S3 notification")

// Reserve is the time kept back from the Lambda deadline, so that a
// request out of time is answered (504) and an S3 record's failure is
// recorded before Lambda stops the function.
const Reserve = 2 * time.Second

// APIGatewayTimeout bounds an HTTP request: API Gateway answers 503 itself
// after 30 s, and recording an outcome may take up to 2 s past this.
const APIGatewayTimeout = 27 * time.Second

// Handler returns the function's Lambda handler. s3 may be nil for a
// function that no bucket triggers.
func Handler(h http.Handler, s3 *s3event.Handler) func(ctx context.Context, payload json.RawMessage) (any, error) {
	httpHandler := apigw.Handler(h, httpapi.WriteError)
	return func(ctx context.Context, payload json.RawMessage) (any, error) {
		var shape struct {
			Records []struct {
				EventSource string `json:"eventSource"`
			} `json:"Records"`
			RequestContext *struct {
				HTTP *struct {
					Method string `json:"method"`
				} `json:"http"`
			} `json:"requestContext"`
		}
		if err := json.Unmarshal(payload, &shape); err != nil {
			return nil, &EventError{Reason: "payload is not JSON", Err: ErrUnknownEvent}
		}
		switch {
		case shape.RequestContext != nil && shape.RequestContext.HTTP != nil:
			var e events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(payload, &e); err != nil {
				return nil, &EventError{Reason: "malformed API Gateway event", Err: err}
			}
			ctx, cancel := withReserve(ctx, APIGatewayTimeout)
			defer cancel()
			return httpHandler(ctx, e)
		case s3 != nil && len(shape.Records) > 0 && shape.Records[0].EventSource == "aws:s3":
			var e events.S3Event
			if err := json.Unmarshal(payload, &e); err != nil {
				// aws-lambda-go decodes each key here: a malformed %xx escape lands here.
				return nil, &EventError{Reason: "malformed S3 event", Err: err}
			}
			ctx, cancel := withReserve(ctx, 0)
			defer cancel()
			return s3.Handle(ctx, e)
		case s3 != nil && shape.Records != nil:
			return nil, &EventError{Reason: "S3 event", Err: s3event.ErrNoRecords}
		}
		return nil, &EventError{Reason: "event of no known shape", Err: ErrUnknownEvent}
	}
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
