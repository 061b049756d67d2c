// Package s3event handles S3 object-created notifications: an object put under upload/<type>/
// is sent to WeChat as temporary media of that type, one under uploadimg/
// as an article image, and the outcome of each is recorded under results/.
package s3event

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/wxmedia/wxmedia/pkg/apierror"
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/logging"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/transfer"
)

// The trigger prefixes.
const (
	UploadPrefix    = "upload/"    // upload/<type>/<anything>
	UploadImgPrefix = "uploadimg/" // uploadimg/<anything>
)

// Uploader is what the handler calls for each object.
type Uploader interface {
	UploadObject(ctx context.Context, t media.Type, key string) (transfer.Result, error)
}

// Handler handles S3 events for the media bucket.
type Handler struct {
	svc    Uploader
	bucket string
	log    *slog.Logger
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

// RecordsError lists the records that failed in a way a retry may mend.
// Lambda retries the whole event; records already done are then answered
// from their recorded result, with no second upload.
type RecordsError struct {
	Failed []string // "key: reason"
}

func (e *RecordsError) Error() string {
	return fmt.Sprintf("%d record(s) failed and will be retried: %s", len(e.Failed), strings.Join(e.Failed, "; "))
}

// ErrNoRecords is an event without records.
var ErrNoRecords = errors.New("malformed S3 event: no records")

// Handle processes the records one by one. It fails the invocation only if
// some record failed in a way a retry may mend (WeChat busy, a timeout, a
// result that could not be written); refusals such as a wrong format are
// recorded under results/ and count as done.
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
		t, ok := TypeOf(key)
		switch {
		case rec.S3.Bucket.Name != h.bucket:
			h.log.WarnContext(rctx, "skipped record of another bucket", "bucket", rec.S3.Bucket.Name)
			sum.Skipped = append(sum.Skipped, key)
			continue
		case !strings.HasPrefix(rec.EventName, "ObjectCreated:"):
			sum.Skipped = append(sum.Skipped, key)
			continue
		case !ok:
			h.log.WarnContext(rctx, "skipped key outside the trigger prefixes")
			sum.Skipped = append(sum.Skipped, key)
			continue
		}
		res, err := h.svc.UploadObject(rctx, t, key)
		switch {
		case err == nil:
			sum.Done = append(sum.Done, res)
		case errors.Is(err, bucket.ErrNotFound):
			h.log.WarnContext(rctx, "object gone before it was processed")
			sum.Skipped = append(sum.Skipped, key)
		default:
			o := apierror.Classify(err)
			h.log.ErrorContext(rctx, "record failed", "errcode", o.Code, "retry", o.Retry || transfer.ErrInProgress(err), "error", err.Error())
			if o.Retry || transfer.ErrInProgress(err) || errors.Is(err, transfer.ErrNotRecorded) {
				failed = append(failed, fmt.Sprintf("%s: %v", key, err)) // for the operator: errors carry no token or secret
			} else {
				sum.Done = append(sum.Done, res)
			}
		}
	}
	if len(failed) > 0 {
		return sum, &RecordsError{Failed: failed}
	}
	return sum, nil
}

// TypeOf returns the media type an object's key asks for: upload/<type>/…
// or uploadimg/…. Keys that are folders (ending in /) ask for nothing.
func TypeOf(key string) (media.Type, bool) {
	if strings.HasSuffix(key, "/") {
		return "", false
	}
	if rest, ok := strings.CutPrefix(key, UploadImgPrefix); ok && rest != "" {
		return media.ArticleImage, true
	}
	rest, ok := strings.CutPrefix(key, UploadPrefix)
	if !ok {
		return "", false
	}
	typ, name, ok := strings.Cut(rest, "/")
	if !ok || name == "" {
		return "", false
	}
	return media.Type(typ), true // an unknown type is refused, and recorded, as 40004
}
