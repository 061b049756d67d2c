package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/wxmedia/wxmedia/pkg/apps"
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/ledger"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/token"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

// What became of an object that has no outcome to record: both are the
// caller's (final), and s3event tells them apart to report them skipped.
var (
	// ErrGone is an object deleted before its event was handled.
	ErrGone = errors.New("the object is gone")
	// ErrSuperseded is an object version replaced by a newer one, whose own
	// event records the object's result.
	ErrSuperseded = errors.New("the object was replaced by a newer version")
)

func skipped(err error, msg string) error {
	return failure.Wrap(failure.Caller, failure.CodeInvalidParam, err, "%s", msg)
}

// UploadObject sends the object at key, version etag (as the S3 event
// names it; "" to ask S3), to the API its trigger prefix names, and
// records the outcome at results/<key>.json, success or failure. A valid
// success recorded for the same version is answered again instead: S3
// delivers events at least once, and WeChat's quota is finite.
func (s *Service) UploadObject(ctx context.Context, key, etag string) (Result, error) {
	w, err := TriggerWork(key, bucket.QuoteETag(etag))
	if errors.Is(err, ErrNotTrigger) {
		return Result{Key: key}, skipped(err, "not under a trigger prefix")
	}
	if err != nil {
		// A key under a trigger prefix that asks for nothing valid: its
		// result says why.
		if w.ETag == "" {
			obj, serr := s.bucket.Stat(ctx, key)
			if serr != nil {
				return Result{Key: key}, s.statFailed(serr, true)
			}
			w.ETag = obj.ETag
		}
		seen, rerr := s.ledger.Read(ctx, w)
		if rerr != nil {
			return Result{Key: key}, rerr
		}
		r, _, fresh, err := s.record(ctx, w, seen, Result{}, err, true)
		s.announced(ctx, w, r, fresh)
		return r, err
	}
	return s.upload(ctx, w, true)
}

// UploadKey is the {"key"} request's upload of the object at key as type t
// (media.ArticleImage for uploadimg). It shares the ledger with S3 events:
// the same object asked the same way by both costs one upload, and a
// valid recorded success is answered again.
func (s *Service) UploadKey(ctx context.Context, t media.Type, key string) (Result, error) {
	if err := s.keys.Check(key); err != nil {
		return Result{}, err
	}
	return s.upload(ctx, workFor(t, key, ""), false)
}

func (s *Service) statFailed(err error, event bool) error {
	if errors.Is(err, bucket.ErrNotFound) && event {
		return skipped(errors.Join(ErrGone, err), "the object is gone")
	}
	return err
}

// upload does w under the ledger's rules (see package ledger).
func (s *Service) upload(ctx context.Context, w ledger.Work, event bool) (Result, error) {
	if w.ETag == "" {
		obj, err := s.bucket.Stat(ctx, w.Key)
		if err != nil {
			return Result{Key: w.Key}, s.statFailed(err, event)
		}
		w.ETag = obj.ETag
	}
	base := Result{Key: w.Key, ETag: w.ETag}
	if event && IsFormKey(w.Key) {
		// A form uploads one file: S3 takes a form's POST again until it
		// expires, but only its first file is sent to WeChat. The first is
		// told by its version alone: w's app is not resolved yet, and a
		// form's files are all for the app its policy names.
		first, err := s.ledger.Read(ctx, w)
		if err != nil {
			return base, err
		}
		if first.Found() && first.Result.ETag != w.ETag {
			return base, skipped(ErrFormUsed, "the form was used already: only its first file is uploaded")
		}
	}
	var seen ledger.Entry // not read yet: on the happy path, never (see ledger.Begin)
	// The object's version is pinned (If-Match) and opened before the
	// claim, so that a read that fails costs no claim: the format comes from
	// its first bytes, read from the stream that then serves the first
	// attempt; a retry opens it again.
	src, obj, err := s.bucket.Open(ctx, w.Key, w.ETag)
	switch {
	case errors.Is(err, bucket.ErrChanged) && event:
		return base, skipped(errors.Join(ErrSuperseded, err), "the object was replaced by a newer version")
	case errors.Is(err, bucket.ErrNotFound):
		return base, s.statFailed(err, event)
	case errors.Is(err, bucket.ErrChanged):
		return base, err // the caller's version changed mid-request: a conflict, try again
	case err != nil:
		r, _, fresh, err := s.record(ctx, w, seen, Result{}, err, event)
		s.announced(ctx, w, r, fresh)
		return r, err
	}
	// The app: an event's is the object's (its appid metadata, else the
	// default); a request's is the one its path names, and it shares the
	// object's trigger result only if that is the object's own app.
	objApp := obj.Metadata[apps.MetadataKey]
	requested := apps.Requested(ctx)
	if event {
		requested = objApp
	}
	actx, app, err := s.app(ctx, requested)
	if err != nil {
		src.Close()
		if !event {
			return base, err // the request's app, not the object's: nothing to record
		}
		// An unknown app (40013) is the object's final refusal, recorded
		// under the AppID it names (cut as an AppID is) so that no other
		// app's work takes it for its own; a secret that cannot be read is
		// retried.
		w.AppID = token.ShownAppID(requested)
		r, _, fresh, err := s.record(ctx, w, seen, Result{}, err, event)
		s.announced(ctx, w, r, fresh)
		return r, err
	}
	if !event && w.Trigger && objApp != requested {
		if _, own, err := s.app(ctx, objApp); err != nil || own.ID != app.ID {
			w.Trigger = false // another app's object: this app's result lives apart
		}
	}
	ctx, w = actx, forApp(w, app)
	base.AppID = app.ID
	first := &primed{}
	defer first.close()
	head := make([]byte, min(obj.Size, media.SniffLen))
	if _, err := io.ReadFull(src, head); err != nil {
		src.Close()
		r, _, fresh, err := s.record(ctx, w, seen, Result{}, fmt.Errorf("read s3://%s/%s: %w", s.bucket.Name(), w.Key, err), event)
		s.announced(ctx, w, r, fresh)
		return r, err
	}
	first.rc = readCloser{io.MultiReader(bytes.NewReader(head), src), src}
	f := media.Detect(head)
	t := media.Type(w.Type)
	if w.API == ledger.APIUploadImg {
		t = media.ArticleImage
	}
	if err := s.rules.Check(t, f, obj.Size); err != nil {
		r, _, fresh, err := s.record(ctx, w, seen, Result{}, err, event) // refused before any claim or WeChat call
		s.announced(ctx, w, r, fresh)
		return r, err
	}

	claim, seen, err := s.ledger.Begin(ctx, w, func(e ledger.Entry) bool { _, ok := s.ledger.Answers(w, e); return ok })
	if err != nil {
		return base, err // another holds it, or S3 failed: unsure what is recorded, nothing is uploaded
	}
	if claim == nil {
		r, _ := s.ledger.Answers(w, seen)
		s.log.InfoContext(ctx, "reused recorded result", "key", w.Key, "api", w.API, "media_type", w.Type, "errcode", r.ErrCode)
		if r.Success() {
			s.reused(ctx)
		}
		return answer(r)
	}
	if claim.TookOver {
		// The claim was another delivery's: it may have recorded since.
		if seen, err = s.ledger.Read(ctx, w); err != nil {
			s.release(ctx, claim, 0)
			return base, err
		}
		if r, ok := s.ledger.Answers(w, seen); ok {
			if r.Success() {
				s.reused(ctx)
			}
			return answer(r)
		}
	}
	if claim.Unconfirmed >= ledger.MaxUnconfirmed {
		held := failure.New(failure.WeChat, failure.CodeSystem, "system error: WeChat did not confirm %d uploads of this object version, "+
			"which it may have stored: it is not sent again until its claim %s is deleted or expires (3 days), or a changed object is put",
			claim.Unconfirmed, claim.Key())
		out, fresh, err := s.finish(ctx, claim, event, seen, Result{}, held, 0)
		s.announced(ctx, w, out, fresh)
		return out, err
	}
	body := wechat.Body{Filename: f.Filename(), ContentType: f.ContentType(), Size: obj.Size,
		Open: func(ctx context.Context) (io.ReadCloser, error) {
			if rc := first.take(); rc != nil {
				return rc, nil
			}
			rc, _, err := s.bucket.Open(ctx, w.Key, w.ETag)
			return rc, err
		}}
	r, err := s.send(ctx, t, body)
	unconfirmed := 0
	if errors.Is(err, wechat.ErrMaybeStored) {
		unconfirmed = 1
	}
	out, fresh, err := s.finish(ctx, claim, event, seen, r, err, unconfirmed)
	if err == nil && out.MediaID == r.MediaID && r.MediaID != "" {
		s.index(ctx, w, r, f)
	}
	s.announced(ctx, w, out, fresh)
	return out, err
}

// MediaIndexPrefix is where each media_id this deployment uploaded names
// its object: get answers it from that object, unchanged, rather than
// spending WeChat's media/get quota.
const MediaIndexPrefix = "media-ids/"

// mediaIndex is a media_id's index record.
type mediaIndex struct {
	MediaID   string `json:"media_id"`
	AppID     string `json:"appid,omitempty"`
	Key       string `json:"key"`
	ETag      string `json:"etag"`
	Type      string `json:"type"`
	Ext       string `json:"ext"`
	ExpiresAt int64  `json:"expires_at"`
}

// index records which object media_id r was uploaded from. It only spares
// WeChat's quota: a failure is logged, never the upload's.
func (s *Service) index(ctx context.Context, w ledger.Work, r Result, f media.Format) {
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	ix := mediaIndex{MediaID: r.MediaID, AppID: w.AppID, Key: w.Key, ETag: w.ETag, Type: w.Type, Ext: f.Ext(), ExpiresAt: r.ExpiresAt}
	if _, err := s.bucket.WriteJSON(ictx, MediaIndexPrefix+r.MediaID+".json", ix, bucket.Condition{}); err != nil {
		s.log.WarnContext(ctx, "cannot index the media_id; get will ask WeChat", "media_id", r.MediaID, "error", err.Error())
	}
}

// recordTimeout bounds writing an outcome once the request's own time is
// up; releaseTimeout bounds giving the claim up. Both fit in the time kept
// back from the Lambda deadline (invocation.Reserve).
const (
	recordTimeout  = 1200 * time.Millisecond
	releaseTimeout = 500 * time.Millisecond
)

// finish records the outcome of claimed work and, unless it is a
// success, releases the claim so that a retry takes it over at once.
// unconfirmed counts this attempt's upload if it may have reached WeChat
// without an answer.
func (s *Service) finish(ctx context.Context, c *ledger.Claim, event bool, seen ledger.Entry, r Result, err error, unconfirmed int) (_ Result, fresh bool, _ error) {
	out, recorded, fresh, rerr := s.record(ctx, c.Work, seen, r, err, event)
	if err != nil || !recorded {
		if err == nil && !recorded {
			unconfirmed++ // uploaded, but nothing says so: the next one is the extra upload
		}
		s.release(ctx, c, unconfirmed)
	}
	return out, fresh, rerr
}

// record writes w's outcome, r or err. The answer is what stands: r, the
// result that stood instead, or err. If the outcome cannot be written, an
// event's answer says so, so that it is retried and not lost; a {"key"}
// caller gets its media_id all the same (the record only serves reuse).
// fresh says the outcome was written now: it is announced (announced) once
// the claim is settled.
func (s *Service) record(ctx context.Context, w ledger.Work, seen ledger.Entry, r Result, err error, event bool) (_ Result, recorded, fresh bool, _ error) {
	r.Key, r.ETag, r.AppID = w.Key, w.ETag, w.AppID
	if err != nil {
		r = Result{Key: w.Key, ETag: w.ETag, AppID: w.AppID, ErrCode: failure.CodeOf(err), ErrMsg: failure.MessageOf(err), Final: failure.KindOf(err) == failure.Caller}
	}
	// The time kept back from the Lambda deadline pays for this write, so a
	// request that ran out of time still records its failure.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	out, outcome, werr := s.ledger.Record(wctx, w, seen, r)
	switch {
	case werr != nil && err != nil:
		return r, false, false, errors.Join(werr, err) // not recorded comes first: the work is retried
	case werr != nil && (!event || failure.KindOf(werr) == failure.Conflict):
		// The caller has its answer: a {"key"} request, or an event whose
		// slot others keep writing (they settle it).
		s.log.WarnContext(ctx, "uploaded, but the result was not recorded", "key", w.Key, "error", werr.Error())
		return r, false, false, nil
	case werr != nil:
		return r, false, false, werr
	case outcome == ledger.Kept:
		s.log.InfoContext(ctx, "a result of the same work stands", "key", w.Key, "outcome_errcode", r.ErrCode)
		return out, true, false, nil // a valid success stands over this failure, or over a second success
	case outcome == ledger.Superseded:
		s.log.InfoContext(ctx, "not recorded: the object has a newer version", "key", w.Key, "etag", w.ETag)
		return r, true, false, err
	}
	return r, true, true, err
}

// publishBy is how long past the work's deadline its outcome may still be
// announced: the work's deadline is the Lambda deadline less
// invocation.Reserve (2 s), which also pays for recording and releasing.
const publishBy = 1800 * time.Millisecond

// announced tells the announcer of an outcome just recorded, within the
// invocation's time: a publish that cannot finish by then is logged by
// the announcer, and the recorded result stands.
func (s *Service) announced(ctx context.Context, w ledger.Work, r Result, fresh bool) {
	if !fresh || s.announce == nil {
		return
	}
	pctx := context.WithoutCancel(ctx)
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		pctx, cancel = context.WithDeadline(pctx, dl.Add(publishBy))
		defer cancel()
	}
	s.announce.Recorded(pctx, w, r, ledger.ResultKey(w))
}

func (s *Service) release(ctx context.Context, c *ledger.Claim, unconfirmed int) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	s.ledger.Release(rctx, c, unconfirmed)
}

// answer is a recorded result as an answer: a success, or its refusal.
func answer(r Result) (Result, error) {
	if r.Success() {
		return r, nil
	}
	return r, failure.New(failure.Caller, r.ErrCode, "%s", r.ErrMsg)
}

// primed holds a stream already open for the first attempt of an upload.
type primed struct {
	mu sync.Mutex
	rc io.ReadCloser
}

// take hands the stream over, once.
func (p *primed) take() io.ReadCloser {
	p.mu.Lock()
	defer p.mu.Unlock()
	rc := p.rc
	p.rc = nil
	return rc
}

// close closes the stream if no attempt took it.
func (p *primed) close() {
	if rc := p.take(); rc != nil {
		rc.Close()
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}

// UploadBytes sends a file given in a request as type t. Its format is
// detected from its content; the caller's file name plays no part.
func (s *Service) UploadBytes(ctx context.Context, t media.Type, data []byte) (Result, error) {
	f := media.Detect(data)
	if err := s.rules.Check(t, f, int64(len(data))); err != nil {
		return Result{}, err
	}
	ctx, _, err := s.app(ctx, apps.Requested(ctx))
	if err != nil {
		return Result{}, err
	}
	return s.send(ctx, t, wechat.BytesBody(f.Filename(), f.ContentType(), data))
}

func (s *Service) send(ctx context.Context, t media.Type, body wechat.Body) (Result, error) {
	start := s.now()
	if t == media.ArticleImage {
		url, err := s.wx.UploadImg(ctx, body)
		if err != nil {
			return Result{}, err
		}
		s.log.InfoContext(ctx, "uploaded article image", "bytes", body.Size, "ms", s.now().Sub(start).Milliseconds())
		s.sent(ctx, body.Size)
		return Result{URL: url}, nil
	}
	up, err := s.wx.Upload(ctx, string(t), body)
	if err != nil {
		return Result{}, err
	}
	s.log.InfoContext(ctx, "uploaded temporary media", "media_type", t, "bytes", body.Size, "media_id", up.MediaID, "ms", s.now().Sub(start).Milliseconds())
	s.sent(ctx, body.Size)
	return Result{Type: string(t), MediaID: up.MediaID, CreatedAt: up.CreatedAt.Unix(), ExpiresAt: up.ExpiresAt().Unix()}, nil
}

func (s *Service) sent(ctx context.Context, n int64) {
	if s.metrics != nil {
		s.metrics.SentToWeChat(ctx, n)
	}
}
