package transfer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wxmedia/wxmedia/pkg/apierror"
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

// WeChat is the part of the WeChat client the service uses.
type WeChat interface {
	Upload(ctx context.Context, typ string, b wechat.Body) (wechat.Uploaded, error)
	UploadImg(ctx context.Context, b wechat.Body) (string, error)
	Get(ctx context.Context, mediaID string) (*wechat.Media, error)
}

var _ WeChat = (*wechat.Client)(nil)

// Key prefixes of the media bucket.
const (
	ResultsPrefix = "results/" // outcomes; never a trigger prefix
	MediaPrefix   = "media/"   // media fetched from WeChat
	claimsPrefix  = ResultsPrefix + ".claims/"
)

// Options configure a Service. Zero values take the defaults.
type Options struct {
	Bucket *bucket.Bucket // required
	WeChat WeChat         // required
	Rules  media.Rules    // default media.DefaultRules()
	// AllowedPrefixes narrows the keys the {"key"} routes may name; empty
	// allows any key outside results/.
	AllowedPrefixes []string
	// HTTPClient downloads video from the video_url WeChat answers; default &http.Client{}.
	HTTPClient *http.Client
	Now        func() time.Time // default time.Now
	Logger     *slog.Logger     // default slog.Default()
	// PresignTTL is the life of the links get answers; default 15 minutes.
	PresignTTL time.Duration
	// ReuseMargin is how much life a recorded media_id must have left to
	// be reused; default 1 hour.
	ReuseMargin time.Duration
	// ClaimTTL is how long a claim on an object's upload holds off a
	// concurrent delivery; default 2 minutes (longer than a function's run).
	ClaimTTL time.Duration
}

// Service moves media between the bucket and WeChat.
type Service struct {
	bucket      *bucket.Bucket
	wx          WeChat
	rules       media.Rules
	allowed     []string
	http        *http.Client
	now         func() time.Time
	log         *slog.Logger
	presignTTL  time.Duration
	reuseMargin time.Duration
	claimTTL    time.Duration
}

// New returns a Service.
func New(opts Options) *Service {
	s := &Service{bucket: opts.Bucket, wx: opts.WeChat, rules: opts.Rules, allowed: opts.AllowedPrefixes,
		http: opts.HTTPClient, now: opts.Now, log: opts.Logger, presignTTL: opts.PresignTTL,
		reuseMargin: opts.ReuseMargin, claimTTL: opts.ClaimTTL}
	if s.rules == nil {
		s.rules = media.DefaultRules()
	}
	if s.http == nil {
		s.http = &http.Client{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.presignTTL <= 0 {
		s.presignTTL = 15 * time.Minute
	}
	if s.reuseMargin <= 0 {
		s.reuseMargin = time.Hour
	}
	if s.claimTTL <= 0 {
		s.claimTTL = 2 * time.Minute
	}
	return s
}

// Rules are the media rules in force.
func (s *Service) Rules() media.Rules { return s.rules }

// Result is the outcome of an upload: what a caller is answered, and what
// is recorded at results/<key>.json for an S3 object.
type Result struct {
	Key       string `json:"key,omitempty"`
	ETag      string `json:"etag,omitempty"`
	Type      string `json:"type,omitempty"`
	MediaID   string `json:"media_id,omitempty"`
	CreatedAt int64  `json:"created_at,omitempty"`
	ExpiresAt int64  `json:"expires_at,omitempty"`
	URL       string `json:"url,omitempty"`
	ErrCode   int    `json:"errcode,omitempty"`
	ErrMsg    string `json:"errmsg,omitempty"`
}

// ResultKey is where the outcome of the object at key is recorded.
func ResultKey(key string) string { return ResultsPrefix + key + ".json" }

// CheckKey refuses keys a {"key"} request may not name: outside the media
// bucket, with "..", absolute, under results/, or outside the allowed prefixes.
func (s *Service) CheckKey(key string) error {
	switch {
	case key == "":
		return apierror.BadRequest(apierror.CodeInvalidParam, "key is empty")
	case len(key) > 1024 || !utf8.ValidString(key):
		return apierror.BadRequest(apierror.CodeInvalidParam, "key is not a valid S3 key")
	case strings.HasPrefix(key, "s3://"), strings.HasPrefix(key, "arn:"):
		return apierror.BadRequest(apierror.CodeInvalidParam, "key must name an object of the media bucket, not a bucket or ARN")
	case strings.HasPrefix(key, "/"):
		return apierror.BadRequest(apierror.CodeInvalidParam, "key must be relative to the media bucket, not absolute")
	case strings.ContainsAny(key, "\x00\r\n"):
		return apierror.BadRequest(apierror.CodeInvalidParam, "key has control characters")
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == ".." || seg == "." {
			return apierror.BadRequest(apierror.CodeInvalidParam, "key must not contain . or .. segments")
		}
	}
	if strings.HasPrefix(key, ResultsPrefix) {
		return apierror.BadRequest(apierror.CodeInvalidParam, "key must not be under %s", ResultsPrefix)
	}
	if len(s.allowed) == 0 {
		return nil
	}
	for _, p := range s.allowed {
		if strings.HasPrefix(key, p) {
			return nil
		}
	}
	return &apierror.Error{Status: http.StatusForbidden, Code: apierror.CodeInvalidParam,
		Message: fmt.Sprintf("key is outside the allowed prefixes (%s)", strings.Join(s.allowed, ", "))}
}

// UploadObject streams the object at key to WeChat as type t (media.ArticleImage
// for uploadimg), for an S3 event: the outcome is recorded at
// ResultKey(key), success or failure. A recorded success for the same ETag
// that is still valid is answered again instead of uploading: S3 delivers
// events at least once, and WeChat's quota is finite.
func (s *Service) UploadObject(ctx context.Context, t media.Type, key string) (Result, error) {
	return s.upload(ctx, t, key, true)
}

// UploadKey is UploadObject for a {"key"} request: it reuses recorded
// results the same way and records its successes, so that an S3 delivery
// can reuse them too, but a failure is only answered, and a still valid
// success of another type is never overwritten.
func (s *Service) UploadKey(ctx context.Context, t media.Type, key string) (Result, error) {
	return s.upload(ctx, t, key, false)
}

func (s *Service) upload(ctx context.Context, t media.Type, key string, event bool) (Result, error) {
	obj, err := s.bucket.Stat(ctx, key)
	if errors.Is(err, bucket.ErrNotFound) {
		return Result{Key: key}, err // nothing there to record an outcome for
	}
	if err != nil {
		if !event {
			return Result{Key: key}, err
		}
		return s.record(ctx, Result{Key: key}, err)
	}
	prev, found := s.recorded(ctx, obj)
	if r, ok := s.reusable(t, obj, prev, found); ok {
		s.log.InfoContext(ctx, "reused recorded result", "key", key, "media_type", t, "media_id", r.MediaID)
		return r, nil
	}
	keep := !event && found && s.valid(obj, prev)
	record := func(r Result, err error) (Result, error) {
		if event {
			return s.record(ctx, r, err)
		}
		if err == nil && !keep {
			// Recorded for reuse only: the caller has its answer either way.
			if _, werr := s.record(ctx, r, nil); werr != nil {
				s.log.WarnContext(ctx, "cannot record result for reuse", "key", key, "error", werr.Error())
			}
		}
		return r, err
	}
	base := Result{Key: key, ETag: obj.ETag}
	tookOver, err := s.claim(ctx, obj)
	if err != nil {
		return base, err // another delivery is at work on it: not recorded, retried later
	}
	defer s.release(ctx, obj)
	if tookOver {
		// The claim was another delivery's, finished: it may have recorded a
		// result after this one looked.
		if prev, found := s.recorded(ctx, obj); found {
			if r, ok := s.reusable(t, obj, prev, found); ok {
				return r, nil
			}
		}
	}
	// The format comes from the object's first bytes, read from the stream
	// that then serves the first attempt; a retry opens the object again.
	first := &primed{}
	defer first.close()
	var head []byte
	if obj.Size > 0 {
		src, err := s.bucket.Open(ctx, obj, 0)
		if err != nil {
			return record(base, err)
		}
		head = make([]byte, min(obj.Size, media.SniffLen))
		if _, err := io.ReadFull(src, head); err != nil {
			src.Close()
			return record(base, fmt.Errorf("read s3://%s/%s: %w", s.bucket.Name(), key, err))
		}
		first.rc = readCloser{io.MultiReader(bytes.NewReader(head), src), src}
	}
	f := media.Detect(head)
	if err := s.rules.Check(t, f, obj.Size); err != nil {
		return record(base, err)
	}
	body := wechat.Body{Filename: f.Filename(), ContentType: f.ContentType(), Size: obj.Size,
		Open: func(ctx context.Context) (io.ReadCloser, error) {
			if rc := first.take(); rc != nil {
				return rc, nil
			}
			return s.bucket.Open(ctx, obj, 0)
		}}
	r, err := s.send(ctx, t, body)
	r.Key, r.ETag = key, obj.ETag
	return record(r, err)
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
		return Result{URL: url}, nil
	}
	up, err := s.wx.Upload(ctx, string(t), body)
	if err != nil {
		return Result{}, err
	}
	s.log.InfoContext(ctx, "uploaded temporary media", "media_type", t, "bytes", body.Size, "media_id", up.MediaID, "ms", s.now().Sub(start).Milliseconds())
	return Result{Type: string(t), MediaID: up.MediaID, CreatedAt: up.CreatedAt.Unix(), ExpiresAt: up.ExpiresAt().Unix()}, nil
}

// ErrNotRecorded is wrapped by an error whose outcome could not be written:
// the delivery must be retried so that it is not lost.
var ErrNotRecorded = errors.New("outcome not recorded")

// recordTimeout bounds writing an outcome once the request's own time is up.
const recordTimeout = 1200 * time.Millisecond

// record writes the outcome of an object's upload. A failure is recorded
// too, so nothing fails silently; if the record cannot be written, that
// error is returned so the delivery is retried.
func (s *Service) record(ctx context.Context, r Result, err error) (Result, error) {
	if err != nil {
		o := apierror.Classify(err)
		r.ErrCode, r.ErrMsg = o.Code, o.Message
		r.Type, r.MediaID, r.CreatedAt, r.ExpiresAt, r.URL = "", "", 0, 0, ""
	}
	// The time kept back from the Lambda deadline pays for this write, so a
	// request that ran out of time still records its failure.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if werr := s.bucket.WriteJSON(wctx, ResultKey(r.Key), r, false); werr != nil {
		werr = fmt.Errorf("record result: %w: %w", ErrNotRecorded, werr)
		if err != nil {
			return r, errors.Join(err, werr)
		}
		return r, werr
	}
	return r, err
}

// recorded reads the result recorded for obj's key, if any.
func (s *Service) recorded(ctx context.Context, obj bucket.Object) (Result, bool) {
	var r Result
	if err := s.bucket.ReadJSON(ctx, ResultKey(obj.Key), &r); err != nil {
		if !errors.Is(err, bucket.ErrNotFound) {
			s.log.WarnContext(ctx, "cannot read recorded result; uploading again", "key", obj.Key, "error", err.Error())
		}
		return Result{}, false
	}
	return r, true
}

// valid reports whether r is a success for obj's version that WeChat still
// honours.
func (s *Service) valid(obj bucket.Object, r Result) bool {
	if r.ETag != obj.ETag || r.ErrCode != 0 {
		return false
	}
	if r.URL != "" {
		return true // article image URLs are permanent
	}
	return r.MediaID != "" && s.now().Add(s.reuseMargin).Before(time.Unix(r.ExpiresAt, 0))
}

// reusable reports whether the recorded r answers an upload of obj as type t.
func (s *Service) reusable(t media.Type, obj bucket.Object, r Result, found bool) (Result, bool) {
	if !found || !s.valid(obj, r) {
		return Result{}, false
	}
	if t == media.ArticleImage {
		return r, r.URL != ""
	}
	return r, r.Type == string(t) && r.MediaID != ""
}

type claimRecord struct {
	ETag  string `json:"etag"`
	Since int64  `json:"since"` // unix milliseconds
	Done  bool   `json:"done,omitempty"`
}

// errInProgress is a delivery that found another at work on the same object.
var errInProgress = &apierror.Error{Status: http.StatusConflict, Code: apierror.CodeSystem,
	Message: "system error: this object is being uploaded by another request; try again shortly"}

// ErrInProgress reports whether err is a delivery that found another one at
// work on the same object; it should be retried, and is not recorded.
func ErrInProgress(err error) bool { return errors.Is(err, errInProgress) }

// claim makes one delivery of an object version the one that uploads it:
// a conditional write (If-None-Match) of a claim record. A claim that is
// done, older than ClaimTTL, or for another ETag is taken over, and
// tookOver says so.
func (s *Service) claim(ctx context.Context, obj bucket.Object) (tookOver bool, err error) {
	key := claimsPrefix + obj.Key
	mine := claimRecord{ETag: obj.ETag, Since: s.now().UnixMilli()}
	err = s.bucket.WriteJSON(ctx, key, mine, true)
	if err == nil || !errors.Is(err, bucket.ErrExists) {
		return false, err
	}
	var theirs claimRecord
	if rerr := s.bucket.ReadJSON(ctx, key, &theirs); rerr != nil && !errors.Is(rerr, bucket.ErrNotFound) {
		return false, fmt.Errorf("read claim: %w", rerr) // unsure whether another is at work: retry later
	}
	if theirs.ETag == obj.ETag && !theirs.Done && s.now().Sub(time.UnixMilli(theirs.Since)) < s.claimTTL {
		return false, errInProgress
	}
	return true, s.bucket.WriteJSON(ctx, key, mine, false)
}

// releaseTimeout bounds releasing a claim; with recordTimeout it stays
// within the time kept back from the Lambda deadline.
const releaseTimeout = 500 * time.Millisecond

// release marks the claim done once the outcome is recorded. If that fails
// the claim simply expires after ClaimTTL.
func (s *Service) release(ctx context.Context, obj bucket.Object) {
	done := claimRecord{ETag: obj.ETag, Since: s.now().UnixMilli(), Done: true}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := s.bucket.WriteJSON(rctx, claimsPrefix+obj.Key, done, false); err != nil {
		s.log.WarnContext(ctx, "cannot release claim; it expires by itself", "key", obj.Key, "error", err.Error())
	}
}

// Fetched is media fetched from WeChat into the bucket.
type Fetched struct {
	MediaID     string `json:"media_id"`
	Key         string `json:"key"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`
	VideoURL    string `json:"video_url,omitempty"`
}

// Fetch streams temporary media from WeChat into the bucket at
// media/<id><ext>, with memory bounded by one multipart part, and answers
// a presigned link to it. Video, which WeChat answers with a link, is
// downloaded from that link.
func (s *Service) Fetch(ctx context.Context, mediaID string) (Fetched, error) {
	if err := checkMediaID(mediaID); err != nil {
		return Fetched{}, err
	}
	out, err := s.fetch(ctx, mediaID)
	if errors.Is(err, errCutShort) && ctx.Err() == nil {
		// The connection broke mid-file: nothing was stored; fetch it again, once.
		s.log.InfoContext(ctx, "media cut short; fetching again", "media_id", mediaID)
		out, err = s.fetch(ctx, mediaID)
	}
	return out, err
}

// errCutShort marks a media/get answer whose body broke off.
var errCutShort = fmt.Errorf("%w: the media was cut short", wechat.ErrBadResponse)

func (s *Service) fetch(ctx context.Context, mediaID string) (Fetched, error) {
	m, err := s.wx.Get(ctx, mediaID)
	if err != nil {
		return Fetched{}, err
	}
	out := Fetched{MediaID: mediaID, VideoURL: m.VideoURL}
	if m.VideoURL != "" {
		if m, err = s.download(ctx, m.VideoURL); err != nil {
			return Fetched{}, err
		}
	}
	defer m.Body.Close()
	br := bufio.NewReaderSize(m.Body, 4096)
	head, _ := br.Peek(media.SniffLen)
	f := media.Detect(head)
	if f == "" {
		f = media.FormatOf(path.Ext(m.Filename))
	}
	if f == "" {
		f = media.FormatOf(m.ContentType)
	}
	out.ContentType = m.ContentType
	if f != "" {
		out.ContentType = f.ContentType()
	}
	if out.ContentType == "" {
		out.ContentType = "application/octet-stream"
	}
	out.Key = MediaPrefix + mediaID + f.Ext()
	start := s.now()
	out.Size, err = s.bucket.Write(ctx, out.Key, out.ContentType, br)
	var se *bucket.SourceError
	switch {
	case errors.As(err, &se) && ctx.Err() == nil:
		return Fetched{}, fmt.Errorf("%w: %v", errCutShort, se.Err)
	case err != nil:
		return Fetched{}, err
	case m.Size >= 0 && out.Size != m.Size:
		return Fetched{}, fmt.Errorf("%w: %d bytes of media where %d were announced", wechat.ErrBadResponse, out.Size, m.Size)
	}
	s.log.InfoContext(ctx, "stored media", "media_id", mediaID, "key", out.Key, "bytes", out.Size, "ms", s.now().Sub(start).Milliseconds())
	if out.URL, err = s.bucket.PresignGet(ctx, out.Key, s.presignTTL); err != nil {
		return Fetched{}, err
	}
	return out, nil
}

func (s *Service) download(ctx context.Context, url string) (*wechat.Media, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: bad video_url", wechat.ErrBadResponse)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download video: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("download video: %w", &wechat.StatusError{StatusCode: resp.StatusCode})
	}
	m := &wechat.Media{ContentType: resp.Header.Get("Content-Type"), Size: resp.ContentLength, Body: resp.Body}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		m.Filename = params["filename"]
	}
	return m, nil
}

func checkMediaID(id string) error {
	if id == "" {
		return apierror.BadRequest(apierror.CodeMediaIDEmpty, "media_id missing")
	}
	if len(id) > 256 {
		return apierror.BadRequest(wechat.CodeInvalidMediaID, "invalid media_id")
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return apierror.BadRequest(wechat.CodeInvalidMediaID, "invalid media_id")
		}
	}
	return nil
}
