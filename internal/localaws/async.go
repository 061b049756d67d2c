package localaws

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// AsyncOptions configure an Async. Zero values become defaults in NewAsync.
type AsyncOptions struct {
	// Retries is the function's MaximumRetryAttempts (template.yaml's
	// EventInvokeConfig): default 2; negative, none.
	Retries int
	// Delays are the waits before each retry: default Lambda's, about 1
	// and 2 minutes. The last one repeats.
	Delays []time.Duration
	// TimeScale multiplies Delays (0.01: retries after 0.6 s and 1.2 s);
	// default 1.
	TimeScale float64
	// Timeout bounds each attempt, as the function's Timeout; default 60 s.
	Timeout time.Duration
	// FunctionARN names the function an event goes to, in its failure
	// record; default none.
	FunctionARN func(e events.S3Event) string
	// Failed, if set, is told of each event sent to the failed-events queue.
	Failed func(FailedEvent)
	Logger *slog.Logger // default slog.Default()
}

// FailedEvent is what Lambda sends to an asynchronous invocation's
// OnFailure destination (an SQS queue: template.yaml's FailedEventsQueue)
// once its retries are exhausted: the invocation record, field for field.
type FailedEvent struct {
	Version         string          `json:"version"`
	Timestamp       string          `json:"timestamp"`
	RequestContext  FailedContext   `json:"requestContext"`
	RequestPayload  events.S3Event  `json:"requestPayload"`
	ResponseContext FailedResponse  `json:"responseContext"`
	ResponsePayload FailedErrorBody `json:"responsePayload"`
}

// FailedContext is a FailedEvent's requestContext.
type FailedContext struct {
	RequestID              string `json:"requestId"`
	FunctionARN            string `json:"functionArn"`
	Condition              string `json:"condition"` // RetriesExhausted
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// FailedResponse is a FailedEvent's responseContext.
type FailedResponse struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError"`
}

// FailedErrorBody is the function's error, as Lambda reports it.
type FailedErrorBody struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// Async invokes a function asynchronously as Lambda does for S3: an
// attempt now; on an error, the retries after their delays; then the
// event goes to the failed-events queue, from which Redrive sends it
// again. Use its Invoke as S3Options.Notify.
type Async struct {
	fn   func(ctx context.Context, e events.S3Event) error
	opts AsyncOptions

	ctx    context.Context // parent of the retries; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	failed []FailedEvent
}

// NewAsync returns an Async that runs fn.
func NewAsync(fn func(ctx context.Context, e events.S3Event) error, opts AsyncOptions) *Async {
	if opts.Retries == 0 {
		opts.Retries = 2
	}
	if len(opts.Delays) == 0 {
		opts.Delays = []time.Duration{time.Minute, 2 * time.Minute}
	}
	if opts.TimeScale <= 0 {
		opts.TimeScale = 1
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Async{fn: fn, opts: opts, ctx: ctx, cancel: cancel}
}

// Invoke runs the first attempt within ctx and, if it fails, schedules
// the retries; it reports nil, as Lambda accepts an asynchronous
// invocation, and logs what becomes of it.
func (a *Async) Invoke(ctx context.Context, e events.S3Event) error {
	a.attempt(ctx, e, NewUUID(), 1)
	return nil
}

// attempt runs attempt n of e, then schedules the next or gives up.
func (a *Async) attempt(ctx context.Context, e events.S3Event, id string, n int) {
	err := a.fn(ctx, e)
	if err == nil {
		if n > 1 {
			a.opts.Logger.Info("async invocation succeeded on retry", "request_id", id, "attempt", n, "keys", keys(e))
		}
		return
	}
	retries := max(a.opts.Retries, 0)
	if n > retries {
		a.fail(e, id, n, err)
		return
	}
	delay := a.delay(n)
	a.opts.Logger.Warn("async invocation failed; Lambda retries it", "request_id", id, "attempt", n,
		"retry", n, "of", retries, "in", delay.String(), "keys", keys(e), "error", err.Error())
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
		actx, cancel := context.WithTimeout(a.ctx, a.opts.Timeout)
		defer cancel()
		a.attempt(actx, e, id, n+1)
	}()
}

// delay is the wait before retry n (1-based), scaled.
func (a *Async) delay(n int) time.Duration {
	d := a.opts.Delays[min(n, len(a.opts.Delays))-1]
	return time.Duration(float64(d) * a.opts.TimeScale)
}

// fail sends e to the failed-events queue after n attempts.
func (a *Async) fail(e events.S3Event, id string, n int, err error) {
	arn := ""
	if a.opts.FunctionARN != nil {
		arn = a.opts.FunctionARN(e) + ":$LATEST"
	}
	f := FailedEvent{Version: "1.0", Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		RequestContext:  FailedContext{RequestID: id, FunctionARN: arn, Condition: "RetriesExhausted", ApproximateInvokeCount: n},
		RequestPayload:  e,
		ResponseContext: FailedResponse{StatusCode: 200, ExecutedVersion: "$LATEST", FunctionError: "Unhandled"},
		ResponsePayload: FailedErrorBody{ErrorMessage: err.Error(), ErrorType: "errorString"}}
	a.mu.Lock()
	a.failed = append(a.failed, f)
	a.mu.Unlock()
	a.opts.Logger.Error("async invocation failed after its retries; sent to the failed-events queue", "request_id", id,
		"attempts", n, "keys", keys(e), "error", err.Error())
	if a.opts.Failed != nil {
		a.opts.Failed(f)
	}
}

// Failed answers the events in the failed-events queue, oldest first.
func (a *Async) Failed() []FailedEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]FailedEvent(nil), a.failed...)
}

// Redrive takes every event out of the failed-events queue and invokes
// the function with it again, asynchronously (with its retries), as a
// redrive of the queue into the function does; it answers how many.
func (a *Async) Redrive() int {
	a.mu.Lock()
	failed := a.failed
	a.failed = nil
	a.mu.Unlock()
	for _, f := range failed {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			ctx, cancel := context.WithTimeout(a.ctx, a.opts.Timeout)
			defer cancel()
			a.opts.Logger.Info("failed event redriven", "request_id", f.RequestContext.RequestID, "keys", keys(f.RequestPayload))
			a.attempt(ctx, f.RequestPayload, NewUUID(), 1)
		}()
	}
	return len(failed)
}

// Close cancels the retries still waiting or running and waits for them.
func (a *Async) Close() {
	a.cancel()
	a.wg.Wait()
}

// Wait waits for the retries scheduled so far, and those they schedule.
func (a *Async) Wait() { a.wg.Wait() }

// keys are the object keys of e, for the log.
func keys(e events.S3Event) []string {
	var ks []string
	for _, r := range e.Records {
		ks = append(ks, r.S3.Object.URLDecodedKey)
	}
	return ks
}

// MarshalNDJSON writes events one JSON object a line.
func MarshalNDJSON[T any](vs []T) []byte {
	var out []byte
	for _, v := range vs {
		line, _ := json.Marshal(v)
		out = append(append(out, line...), '\n')
	}
	return out
}
