package s3event_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/s3event"
	"github.com/wxmedia/wxmedia/pkg/transfer"
)

// answers fails each key with its error.
type answers map[string]error

func (a answers) UploadObject(_ context.Context, key, _ string) (transfer.Result, error) {
	return transfer.Result{Key: key}, a[key]
}

func event(keys ...string) events.S3Event {
	var e events.S3Event
	for _, k := range keys {
		var r events.S3EventRecord
		r.EventName, r.S3.Bucket.Name, r.S3.Object.Key, r.S3.Object.URLDecodedKey = "ObjectCreated:Put", "b", k, k
		e.Records = append(e.Records, r)
	}
	return e
}

// Only the caller's failures are done; every other kind fails the
// invocation, so that Lambda retries it and keeps it in the failed-events
// queue. The invocation's error carries what a caller may see, no more.
func TestRetryByKind(t *testing.T) {
	cause := errors.New("invalid ip 203.0.113.9, not in whitelist; token ACCESS-TOKEN")
	for _, k := range failure.Kinds() {
		t.Run(k.String(), func(t *testing.T) {
			h := s3event.New(answers{"upload/image/a.jpg": failure.Wrap(k, 40164, cause, "what a caller may see")}, "b", slog.New(slog.DiscardHandler))
			sum, err := h.Handle(context.Background(), event("upload/image/a.jpg"))
			if retried := err != nil; retried != (k != failure.Caller) {
				t.Errorf("kind %s: invocation error %v, want retried: %v", k, err, k != failure.Caller)
			}
			if err != nil && (strings.Contains(err.Error(), "203.0.113.9") || strings.Contains(err.Error(), "ACCESS-TOKEN") || !strings.Contains(err.Error(), "what a caller may see")) {
				t.Errorf("invocation error %q: want the caller's message, not the cause", err)
			}
			if err == nil && len(sum.Done) != 1 {
				t.Errorf("summary %+v, want the record done", sum)
			}
		})
	}
	h := s3event.New(answers{
		"upload/image/gone.jpg": failure.Wrap(failure.Caller, 40035, transfer.ErrGone, "gone"),
		"upload/image/old.jpg":  failure.Wrap(failure.Caller, 40035, transfer.ErrSuperseded, "old"),
		"samples/x.jpg":         failure.Wrap(failure.Caller, 40035, transfer.ErrNotTrigger, "no"),
	}, "b", slog.New(slog.DiscardHandler))
	sum, err := h.Handle(context.Background(), event("upload/image/gone.jpg", "upload/image/old.jpg", "samples/x.jpg", "upload/image/ok.jpg"))
	if err != nil || len(sum.Skipped) != 3 || len(sum.Done) != 1 {
		t.Errorf("Handle = %+v, %v; want 3 skipped and 1 done", sum, err)
	}
}

// sqsEvent is S3 -> SQS -> Lambda: each message's body an S3 notification.
func sqsEvent(bodies ...string) events.SQSEvent {
	var e events.SQSEvent
	for i, b := range bodies {
		e.Records = append(e.Records, events.SQSMessage{MessageId: fmt.Sprint("m", i), Body: b, EventSource: "aws:sqs"})
	}
	return e
}

func notification(key string) string {
	data, _ := json.Marshal(event(key))
	return string(data)
}

// Through SQS, only the messages whose records a retry may mend are
// reported failed: SQS redelivers them (and, after maxReceiveCount, moves
// them to the dead-letter queue) and deletes the others.
func TestSQSReportsPartialBatchFailures(t *testing.T) {
	h := s3event.New(answers{
		"upload/image/wechat-down.jpg": failure.New(failure.WeChat, -1, "system error"),
		"upload/image/refused.jpg":     failure.New(failure.Caller, 40005, "invalid file type"),
	}, "b", slog.New(slog.DiscardHandler))
	resp, err := h.HandleSQS(context.Background(), sqsEvent(
		notification("upload/image/ok.jpg"),
		notification("upload/image/wechat-down.jpg"),
		`{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}`,
		notification("upload/image/refused.jpg"),
		`not JSON at all`,
	))
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	if strings.Join(failed, ",") != "m1,m4" {
		t.Errorf("batch item failures %v, want m1 (WeChat down) and m4 (no S3 notification, for the dead-letter queue); S3's test event dropped", failed)
	}
}

func TestEventBridgeObjectCreated(t *testing.T) {
	var got []string
	h := s3event.New(uploaderFunc(func(key, etag string) { got = append(got, key+" "+etag) }), "b", slog.New(slog.DiscardHandler))
	detail := `{"bucket":{"name":"b"},"object":{"key":"upload/image/a b+c%41.jpg","size":3,"etag":"e1"},"reason":"PutObject"}`
	if _, err := h.HandleEventBridge(context.Background(), events.EventBridgeEvent{Source: "aws.s3", DetailType: "Object Created", Detail: json.RawMessage(detail)}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "upload/image/a b+c%41.jpg e1" {
		t.Errorf("uploaded %q, want the key as EventBridge gives it (not URL-decoded) with its etag", got)
	}
	_, err := h.HandleEventBridge(context.Background(), events.EventBridgeEvent{Source: "aws.s3", DetailType: "Object Deleted", Detail: json.RawMessage(detail)})
	if err != nil || len(got) != 1 {
		t.Errorf("Object Deleted: error %v, %d uploads; want it skipped (a retry would not mend it), none", err, len(got)-1)
	}
}

type uploaderFunc func(key, etag string)

func (f uploaderFunc) UploadObject(_ context.Context, key, etag string) (transfer.Result, error) {
	f(key, etag)
	return transfer.Result{Key: key}, nil
}
