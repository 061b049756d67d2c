package transfer

import (
	"bytes"
	"cmp"
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
// caller's (final) and wrap failure.ErrSkipped, which s3event reports as
// skipped.
var (
	// ErrGone is an object deleted before its event was handled.
	ErrGone = fmt.Errorf("the object is gone: %w", failure.ErrSkipped)
	// ErrSuperseded is an object version replaced by a newer one, whose own
	// event records the object's result.
	ErrSuperseded = fmt.Errorf("the object was replaced by a newer version: %w", failure.ErrSkipped)
)

func skipped(err error, msg string) error {
	return failure.Wrap(failure.Caller, failure.CodeInvalidParam, err, "%s", msg)
}

// job is one upload: what is sent (an object version, to one API as one
// type), for which app, and from where.
type job struct {
	work ledger.Work
	from source
}

// source is where an upload's work comes from, and what that changes.
type source interface {
	// unread is the failure to answer when the object could not be read
	// because it is gone or was replaced (nothing is recorded for it), or
	// nil when the read's failure is the work's outcome.
	unread(err error) error
	// admit refuses, before anything is recorded, an object the source
	// may not send.
	admit(ctx context.Context, s *Service, obj bucket.Object) error
	// app is w for its app, given the app the object names (its appid
	// metadata): a failure is w's outcome.
	app(ctx context.Context, s *Service, w ledger.Work, objApp string) (ledger.Work, apps.App, error)
}

// event is an S3 event's work, retried until its outcome is recorded. It
// is for the object's own app; an object deleted or replaced meanwhile is
// skipped; an upload form's key takes one file.
type event struct{}

func (event) unread(err error) error {
	switch {
	case errors.Is(err, bucket.ErrChanged):
		return skipped(errors.Join(ErrSuperseded, err), "the object was replaced by a newer version")
	case errors.Is(err, failure.ErrNotFound):
		return skipped(errors.Join(ErrGone, err), "the object is gone")
	}
	return nil
}

func (event) admit(context.Context, *Service, bucket.Object) error { return nil }

func (event) app(ctx context.Context, s *Service, w ledger.Work, objApp string) (ledger.Work, apps.App, error) {
	_, a, err := s.app(ctx, objApp)
	if err != nil {
		// An unknown app (40013) is the object's final refusal, recorded
		// under the AppID it names (cut as an AppID is) so that no other
		// app's work takes it for its own; a secret that cannot be read is
		// retried.
		w.AppID = token.ShownAppID(objApp)
		return w, apps.App{}, err
	}
	return forApp(w, a), a, nil
}

// request is a {"key"} request's work, answered at once, for the app its
// path names (resolved before anything is read). It sends only that
// app's own objects.
type request struct {
	resolved apps.App
}

func (request) unread(err error) error {
	if errors.Is(err, failure.ErrNotFound) || errors.Is(err, bucket.ErrChanged) {
		return err // no such key, or the version changed mid-request: try again
	}
	return nil
}

func (r request) admit(ctx context.Context, s *Service, obj bucket.Object) error {
	if !s.owns(ctx, r.resolved, obj) {
		return notFound() // another app's object reads as no object at all
	}
	return nil
}

func (r request) app(_ context.Context, _ *Service, w ledger.Work, _ string) (ledger.Work, apps.App, error) {
	return forApp(w, r.resolved), r.resolved, nil
}

// owns reports whether obj is app a's: the app its appid metadata names,
// or the default app's when it names none.
func (s *Service) owns(ctx context.Context, a apps.App, obj bucket.Object) bool {
	_, own, err := s.app(ctx, obj.Metadata[apps.MetadataKey])
	return err == nil && (own.ID == a.ID || own.Default && a.Default)
}

// notFound is the answer for a key that names no object of the caller's
// app, whether it names none at all or another app's: the two read alike,
// to the caller and in the logs and metrics.
func notFound() error {
	return failure.Wrap(failure.Caller, failure.CodeInvalidParam, failure.ErrNotFound, "no such key in the media bucket")
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
	w.MustRecord, w.Once = true, IsFormKey(key) // a form uploads one file
	j := job{work: w, from: event{}}
	if err != nil {
		// A key under a trigger prefix that asks for nothing valid: its
		// result says why.
		return s.refuse(ctx, j, err)
	}
	return s.upload(ctx, j)
}

// UploadKey is the {"key"} request's upload of the object at key as type t
// (media.ArticleImage for uploadimg). It shares the ledger with S3 events:
// the same object asked the same way by both costs one upload, and a
// valid recorded success is answered again.
func (s *Service) UploadKey(ctx context.Context, t media.Type, key string) (Result, error) {
	if err := s.keys.Check(key); err != nil {
		return Result{}, err
	}
	_, a, err := s.app(ctx, apps.Requested(ctx))
	if err != nil {
		return Result{}, err
	}
	return s.upload(ctx, job{work: workFor(t, key, ""), from: request{resolved: a}})
}

// version is j's work with its object's version: the event's, or the
// current one, whose metadata its source then admits (a request names no
// version, so it is always admitted here, before the body is opened).
func (s *Service) version(ctx context.Context, j job) (ledger.Work, error) {
	w := j.work
	if w.ETag != "" {
		return w, nil
	}
	obj, err := s.bucket.Stat(ctx, w.Key)
	if err != nil {
		return w, cmp.Or(j.from.unread(err), err)
	}
	if err := j.from.admit(ctx, s, obj); err != nil {
		return w, err // before its body is opened: another app's object costs what a missing one does
	}
	w.ETag = obj.ETag
	return w, nil
}

// refuse records why j's work is refused before anything is read.
func (s *Service) refuse(ctx context.Context, j job, why error) (Result, error) {
	w, err := s.version(ctx, j)
	if err != nil {
		return Result{Key: w.Key}, err
	}
	r, err := s.ledger.Do(ctx, w, func(context.Context) (ledger.Work, func(context.Context) (ledger.Result, error), error) {
		return w, nil, why
	})
	return Result(r), err
}

// upload does j under the ledger's rules (see package ledger). The
// object's version is pinned (If-Match) and opened before the ledger
// claims the work, so that a read that fails costs no claim.
func (s *Service) upload(ctx context.Context, j job) (Result, error) {
	w, err := s.version(ctx, j)
	if err != nil {
		return Result{Key: w.Key}, err
	}
	src, obj, err := s.bucket.Open(ctx, w.Key, w.ETag)
	if err := j.from.unread(err); err != nil {
		return Result{Key: w.Key, ETag: w.ETag}, err
	}
	a := &attempt{s: s, j: j, w: w, obj: obj, openErr: err}
	if err == nil {
		a.first.rc = src
	}
	defer a.first.close()
	r, err := s.ledger.Do(ctx, w, a.prepare)
	out := Result(r)
	switch {
	case err == nil && a.sent == nil:
		s.reused(ctx) // answered from its record
	case err == nil && out.MediaID != "" && out.MediaID == a.sent.MediaID:
		s.index(ctx, a.w, out, a.format)
	}
	return out, err
}

// attempt is one try at a job's upload: the object opened, and what its
// first bytes say.
type attempt struct {
	s       *Service
	j       job
	w       ledger.Work // as prepared: for its app
	app     apps.App
	obj     bucket.Object
	openErr error
	first   primed // the open object, for the first send
	format  media.Format
	sent    *Result // what WeChat answered, once sent
}

// typ is the media type the attempt's work sends.
func (a *attempt) typ() media.Type {
	if a.w.API == APIUploadImg {
		return media.ArticleImage
	}
	return media.Type(a.w.Type)
}

// prepare resolves the work's app and checks the object's format and size
// from its first bytes, read from the stream that then serves the first
// send; a later send opens it again.
func (a *attempt) prepare(ctx context.Context) (ledger.Work, func(context.Context) (ledger.Result, error), error) {
	if a.openErr != nil {
		return a.w, nil, a.openErr // S3 failed to read it: the outcome, to retry
	}
	w, app, err := a.j.from.app(ctx, a.s, a.w, a.obj.Metadata[apps.MetadataKey])
	a.w, a.app = w, app
	if err != nil {
		return w, nil, err
	}
	src := a.first.take()
	head := make([]byte, min(a.obj.Size, media.SniffLen))
	if _, err := io.ReadFull(src, head); err != nil {
		src.Close()
		return w, nil, fmt.Errorf("read s3://%s/%s: %w", a.s.bucket.Name(), w.Key, err)
	}
	a.first.rc = readCloser{io.MultiReader(bytes.NewReader(head), src), src}
	a.format = media.Detect(head)
	if err := a.s.rules.Check(a.typ(), a.format, a.obj.Size); err != nil {
		return w, nil, err // refused before any claim or WeChat call
	}
	return w, a.send, nil
}

// send uploads the object to WeChat for the work's app.
func (a *attempt) send(ctx context.Context) (ledger.Result, error) {
	body := wechat.Body{Filename: a.format.Filename(), ContentType: a.format.ContentType(), Size: a.obj.Size,
		Open: func(ctx context.Context) (io.ReadCloser, error) {
			if rc := a.first.take(); rc != nil {
				return rc, nil
			}
			rc, _, err := a.s.bucket.Open(ctx, a.w.Key, a.w.ETag)
			return rc, err
		}}
	r, err := a.s.send(apps.With(ctx, a.app), a.typ(), body)
	if errors.Is(err, wechat.ErrMaybeStored) {
		err = errors.Join(failure.ErrMaybeDone, err)
	}
	if err == nil {
		a.sent = &r
	}
	return ledger.Result(r), err
}

// index records which object media_id r was uploaded from. It only spares
// WeChat's quota: a failure is logged, never the upload's.
func (s *Service) index(ctx context.Context, w ledger.Work, r Result, f media.Format) {
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), indexTimeout)
	defer cancel()
	ix := mediaIndex{MediaID: r.MediaID, AppID: w.AppID, Key: w.Key, ETag: w.ETag, Type: w.Type, Ext: f.Ext(), ExpiresAt: r.ExpiresAt}
	if _, err := s.mediaIDs.WriteJSON(ictx, bucket.MediaIndexPrefix+r.MediaID+".json", ix, bucket.Condition{}); err != nil {
		s.log.WarnContext(ctx, "cannot index the media_id; get will ask WeChat", "media_id", r.MediaID, "error", err.Error())
	}
}

// indexTimeout bounds writing the media_id's index once the request's own
// time is up, from the time kept back from the Lambda deadline.
const indexTimeout = 1200 * time.Millisecond

// mediaIndex is a media_id's index record (Options.Index): get
// answers it from the object it names, unchanged, rather than spending
// WeChat's media/get quota.
type mediaIndex struct {
	MediaID   string `json:"media_id"`
	AppID     string `json:"appid,omitempty"`
	Key       string `json:"key"`
	ETag      string `json:"etag"`
	Type      string `json:"type"`
	Ext       string `json:"ext"`
	ExpiresAt int64  `json:"expires_at"`
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
