package s3event_test

import (
	"context"
	"errors"
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
