// Package s3event handles S3 object-created notifications: an object put
// under upload/<type>/ is sent to WeChat as temporary media of that type,
// one under uploadimg/ as an article image, and the outcome of each is
// recorded under results/ (see package ledger). A record that failed in a
// way that is not final (failure.Final) fails the event, so that Lambda
// retries it and, after its retries, puts it in the failed-events queue to
// be redriven: once an operator fixes the secret, the IP allow-list or the
// quota, a redrive uploads what was put meanwhile. A final failure fails
// the same way every time; its result says why, and the record is done.
package s3event

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/logging"
	"github.com/wxmedia/wxmedia/pkg/reply"
	"github.com/wxmedia/wxmedia/pkg/transfer"
)

// Uploader is what the handler calls for each object.
type Uploader interface {
	UploadObject(ctx context.Context, key, etag string) (transfer.Result, error)
}

var _ Uploader = (*transfer.Service)(nil)

// Handler handles S3 events for the media bucket.
type Handler struct {
	svc     Uploader
	bucket  string
	log     *slog.Logger
	metrics Metrics
}

// Metrics measures each record (package metrics' Recorder): Begin starts
// its measurements in its context, End writes them with the errcode
// recorded (0 for a success) and the HTTP status it stands for.
type Metrics interface {
	Begin(ctx context.Context, route string) context.Context
	End(ctx context.Context, errcode, status int)
}

// RouteS3 is the route an S3 event's records are measured under.
const RouteS3 = "s3"

// WithMetrics measures each record with m, a failure's Status dimension
// being the HTTP status it stands for (reply.Status).
func (h *Handler) WithMetrics(m Metrics) *Handler {
	h.metrics = m
	return h
}

// New returns a Handler for events of the named bucket.
func New(svc Uploader, bucketName string, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	return &Handler{svc: svc, bucket: bucketName, log: log}
}

// Summary is what an invocation answers.
type Summary struct {
	Done    []transfer.Result `json:"done"`
	Skipped []string          `json:"skipped,omitempty"`
}

// RecordsError lists the records that failed in a way a retry or an
// operator may mend. Lambda retries the whole event; records already done
// are then answered from their recorded result, with no second upload.
type RecordsError struct {
	Failed []string // "key: reason"
}

func (e *RecordsError) Error() string {
	return fmt.Sprintf("%d record(s) failed and will be retried: %s", len(e.Failed), strings.Join(e.Failed, "; "))
}

// ErrNoRecords is an event without records.
var ErrNoRecords = errors.New("malformed S3 event: no records")

// Handle processes the records one by one. It fails the invocation if any
// record failed in a way that is not final (failure.Final); final refusals
// such as a wrong format are recorded under results/ and count as done.
func (h *Handler) Handle(ctx context.Context, e events.S3Event) (Summary, error) {
	if len(e.Records) == 0 {
		return Summary{}, ErrNoRecords
	}
	var sum Summary
	var failed []string
	for i, rec := range e.Records {
		key := rec.S3.Object.URLDecodedKey
		if key == "" {
			key = rec.S3.Object.Key
		}
		rctx := logging.With(ctx, slog.String("key", key), slog.Int("record", i))
		switch {
		case rec.S3.Bucket.Name != h.bucket:
			h.log.WarnContext(rctx, "skipped record of another bucket", "bucket", rec.S3.Bucket.Name)
			sum.Skipped = append(sum.Skipped, key)
			continue
		case !strings.HasPrefix(rec.EventName, "ObjectCreated:"):
			sum.Skipped = append(sum.Skipped, key)
			continue
		}
		if h.metrics != nil {
			rctx = h.metrics.Begin(rctx, RouteS3)
		}
		res, err := h.svc.UploadObject(rctx, key, rec.S3.Object.ETag)
		h.measured(rctx, err)
		switch {
		case err == nil:
			sum.Done = append(sum.Done, res)
		case errors.Is(err, failure.ErrSkipped):
			h.log.InfoContext(rctx, "skipped record", "reason", failure.MessageOf(err))
			sum.Skipped = append(sum.Skipped, key)
		case !failure.Final(err):
			h.log.ErrorContext(rctx, "record failed; the event is retried", "kind", failure.KindOf(err).String(), "errcode", failure.CodeOf(err), "error", err.Error())
			// The invocation's error travels (the failed-events queue, a direct
			// caller): what a caller may see, no more; the log line has the rest.
			failed = append(failed, fmt.Sprintf("%s: %s failure, errcode %d: %s", key, failure.KindOf(err), failure.CodeOf(err), failure.MessageOf(err)))
		default:
			h.log.InfoContext(rctx, "record refused", "errcode", failure.CodeOf(err), "errmsg", failure.MessageOf(err))
			sum.Done = append(sum.Done, res)
		}
	}
	if len(failed) > 0 {
		return sum, &RecordsError{Failed: failed}
	}
	return sum, nil
}

// measured writes a record's measurements.
func (h *Handler) measured(ctx context.Context, err error) {
	if h.metrics == nil {
		return
	}
	code := 0
	if err != nil {
		code = failure.CodeOf(err)
	}
	h.metrics.End(ctx, code, reply.Status(err))
}

// HandleSQS handles S3 notifications delivered through SQS (S3 -> SQS ->
// Lambda, the event source mapping reporting batch item failures), each
// message an S3 event. A message whose records failed in a way a retry may
// mend is reported in BatchItemFailures, so that SQS delivers it again
// (and, after the queue's maxReceiveCount, moves it to its dead-letter
// queue) while the others are deleted. S3's test event is dropped; any
// other message that is no S3 notification (an SNS envelope, another
// sender's) is failed too, so that it lands in the dead-letter queue
// rather than being deleted unread.
func (h *Handler) HandleSQS(ctx context.Context, e events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, m := range e.Records {
		mctx := logging.With(ctx, slog.String("sqs_message_id", m.MessageId))
		var n struct {
			events.S3Event
			Event string `json:"Event"` // s3:TestEvent
		}
		switch err := json.Unmarshal([]byte(m.Body), &n); {
		case err == nil && n.Event == "s3:TestEvent":
			h.log.InfoContext(mctx, "dropped S3's test event")
			continue
		case err != nil || len(n.Records) == 0:
			h.log.ErrorContext(mctx, "an SQS message that is no S3 notification: failed, for the dead-letter queue")
		default:
			if _, err := h.Handle(mctx, n.S3Event); err == nil {
				continue
			}
		}
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
	}
	return resp, nil
}

// objectCreated is the detail of EventBridge's "Object Created" event.
type objectCreated struct {
	Bucket struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key  string `json:"key"` // not URL-encoded, unlike S3's own notifications
		Size int64  `json:"size"`
		ETag string `json:"etag"`
	} `json:"object"`
	Reason string `json:"reason"`
}

// HandleEventBridge handles an S3 "Object Created" event delivered by
// EventBridge (S3 -> EventBridge rule -> Lambda). A failure that a retry
// may mend fails the invocation, so that EventBridge retries it and, after
// its retry policy, sends it to the target's dead-letter queue.
func (h *Handler) HandleEventBridge(ctx context.Context, e events.EventBridgeEvent) (Summary, error) {
	if e.Source != "aws.s3" || e.DetailType != "Object Created" {
		// A rule broader than the template's: retrying would not mend it.
		h.log.WarnContext(ctx, "skipped an EventBridge event that is no S3 Object Created", "source", e.Source, "detail_type", e.DetailType)
		return Summary{}, nil
	}
	var d objectCreated
	if err := json.Unmarshal(e.Detail, &d); err != nil {
		return Summary{}, fmt.Errorf("malformed Object Created detail: %w", err)
	}
	var n events.S3Event
	var r events.S3EventRecord
	r.EventSource, r.EventName, r.AWSRegion = "aws:s3", "ObjectCreated:"+d.Reason, e.Region
	r.S3.Bucket.Name = d.Bucket.Name
	r.S3.Object.Key, r.S3.Object.URLDecodedKey, r.S3.Object.ETag, r.S3.Object.Size = d.Object.Key, d.Object.Key, d.Object.ETag, d.Object.Size
	n.Records = append(n.Records, r)
	return h.Handle(logging.With(ctx, slog.String("eventbridge_id", e.ID)), n)
}
