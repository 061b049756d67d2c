package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/logging"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/reply"
	"github.com/wxmedia/wxmedia/pkg/transfer"
)

// Large files go straight to S3: upload-url answers a presigned POST for a
// new key under the trigger prefix, the client sends the file with it
// (no payload ceiling), the S3 trigger uploads it to WeChat, and result
// answers its recorded outcome.

// uploadForm answers POST /cgi-bin/media/upload-url?type=T.
func (a *api) uploadForm(w http.ResponseWriter, r *http.Request) error {
	t, err := media.ParseType(r.URL.Query().Get("type"))
	if err != nil {
		return err
	}
	return a.form(w, r, t)
}

// uploadImgForm answers POST /cgi-bin/media/uploadimg-url.
func (a *api) uploadImgForm(w http.ResponseWriter, r *http.Request) error {
	return a.form(w, r, media.ArticleImage)
}

func (a *api) form(w http.ResponseWriter, r *http.Request, t media.Type) error {
	f, err := a.svc.UploadForm(r.Context(), t)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	reply.JSON(w, http.StatusOK, f)
	return nil
}

// MaxWait bounds result's &wait: a few seconds, for the outcome of a file
// just sent; longer waits belong to the completion events. A wait holds
// its function's container throughout: deployed, result runs in a function
// of its own (template.yaml's ResultFunction), so waits never hold get's.
const MaxWait = 10 * time.Second

// pollEvery is how often result looks again while it waits: from the
// first to the last, doubling.
var pollEvery = [2]time.Duration{200 * time.Millisecond, time.Second}

// result answers GET /cgi-bin/media/result?key=K[&wait=N]: the outcome
// recorded for the object's current version, as results/<key>.json holds
// it; or, while there is none after waiting up to N seconds, 202 with
// {"key","etag","pending":true}.
func (a *api) result(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	wait, err := strconv.Atoi(q.Get("wait"))
	if q.Get("wait") == "" {
		wait, err = 0, nil
	}
	if err != nil || wait < 0 || time.Duration(wait)*time.Second > MaxWait {
		return failure.New(failure.Caller, failure.CodeInvalidParam, "invalid wait: want whole seconds from 0 to %d", int(MaxWait/time.Second))
	}
	key := q.Get("key")
	ctx := logging.With(r.Context(), slog.String("key", key))
	deadline := time.Now().Add(time.Duration(wait) * time.Second)
	delay := pollEvery[0]
	for {
		res, err := a.svc.Outcome(ctx, key)
		switch {
		case err == nil:
			reply.JSON(w, http.StatusOK, res)
			return nil
		case !errors.Is(err, transfer.ErrPending):
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			reply.JSON(w, http.StatusAccepted, map[string]any{"key": res.Key, "etag": res.ETag, "pending": true})
			return nil
		}
		select {
		case <-time.After(min(delay, left)):
		case <-ctx.Done():
			return failure.Wrap(failure.Internal, failure.CodeSystem, ctx.Err(), "system error: out of time")
		}
		delay = min(2*delay, pollEvery[1])
	}
}
