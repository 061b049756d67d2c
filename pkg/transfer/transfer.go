package transfer

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/wxmedia/wxmedia/pkg/apps"
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/ledger"
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

// Metrics records what the service moves and what it spares WeChat
// (package metrics' Recorder).
type Metrics interface {
	// SentToWeChat is media WeChat accepted, in bytes.
	SentToWeChat(ctx context.Context, n int64)
	// FetchedFromWeChat is media fetched from WeChat into the bucket, in bytes.
	FetchedFromWeChat(ctx context.Context, n int64)
	// Reused is an answer from a recorded media_id or stored media: WeChat's
	// quota not spent.
	Reused(ctx context.Context)
}

// Options configure a Service. Zero values take the defaults.
type Options struct {
	Bucket *bucket.Bucket // required
	WeChat WeChat         // required
	Ledger Ledger         // required: the bucket's ledger
	// Index holds the media_id index (which object each media_id this
	// deployment uploaded came from): the stack's table (package
	// recordtable); default the bucket, under bucket.MediaIndexPrefix.
	Index ledger.Records
	Rules media.Rules // default media.DefaultRules()
	// AllowedPrefixes are key prefixes the {"key"} routes may read besides
	// the trigger prefixes, matched on a "/" boundary (see NewKeyPolicy).
	AllowedPrefixes []string
	// Downloads fetches the video_url WeChat answers for video; default a
	// client that refuses private, loopback and metadata addresses
	// (NewDownloader).
	Downloads *http.Client
	Now       func() time.Time // default time.Now
	Logger    *slog.Logger     // default slog.Default()
	Metrics   Metrics          // bytes moved and media_ids reused; nil records none
	// PresignTTL is the life of the links get answers; default 15 minutes.
	PresignTTL time.Duration
	// Apps resolves the app each piece of work is for (package apps);
	// nil: everything is the default app's, and results name no app.
	Apps Apps
}

// Apps resolves an AppID ("" for the default app): an unknown one is the
// caller's failure, 40013 (package apps' Registry).
type Apps interface {
	Resolve(ctx context.Context, appID string) (apps.App, error)
}

// Ledger does each piece of work once: it claims, runs, records,
// releases and announces (package ledger's Do).
type Ledger interface {
	Do(ctx context.Context, w ledger.Work, prepare func(context.Context) (ledger.Work, func(context.Context) (ledger.Result, error), error)) (ledger.Result, error)
}

// Service moves media between the bucket and WeChat.
type Service struct {
	bucket     *bucket.Bucket
	mediaIDs   ledger.Records
	ledger     Ledger
	wx         WeChat
	rules      media.Rules
	keys       KeyPolicy
	downloads  *http.Client
	now        func() time.Time
	log        *slog.Logger
	metrics    Metrics
	presignTTL time.Duration
	apps       Apps
}

// New returns a Service.
func New(opts Options) *Service {
	s := &Service{bucket: opts.Bucket, wx: opts.WeChat, rules: opts.Rules, downloads: opts.Downloads,
		now: opts.Now, log: opts.Logger, metrics: opts.Metrics, presignTTL: opts.PresignTTL, apps: opts.Apps, ledger: opts.Ledger, mediaIDs: opts.Index}
	if s.mediaIDs == nil {
		s.mediaIDs = opts.Bucket
	}
	if s.rules == nil {
		s.rules = media.DefaultRules()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.downloads == nil {
		s.downloads = NewDownloader(DownloadOptions{})
	}
	if s.presignTTL <= 0 {
		s.presignTTL = 15 * time.Minute
	}
	s.keys = NewKeyPolicy(opts.AllowedPrefixes)
	return s
}

// Rules are the media rules in force.
func (s *Service) Rules() media.Rules { return s.rules }

// Result is the outcome of an upload: what a caller is answered, and, for
// an object, what its result records (the ledger writes it as it is): a
// success (MediaID or URL) or a failure (ErrCode, ErrMsg; Final when the
// object's own version fails that way every time).
type Result struct {
	Key       string `json:"key"`
	ETag      string `json:"etag"`
	AppID     string `json:"appid,omitempty"` // the app it was done for
	Type      string `json:"type,omitempty"`
	MediaID   string `json:"media_id,omitempty"`
	CreatedAt int64  `json:"created_at,omitempty"`
	ExpiresAt int64  `json:"expires_at,omitempty"`
	URL       string `json:"url,omitempty"`
	ErrCode   int    `json:"errcode,omitempty"`
	ErrMsg    string `json:"errmsg,omitempty"`
	Final     bool   `json:"final,omitempty"`
}

// reused counts an answer that spared WeChat's quota.
func (s *Service) reused(ctx context.Context) {
	if s.metrics != nil {
		s.metrics.Reused(ctx)
	}
}

// app resolves the app named appID ("" for the default) and notes it in
// the context, so that the WeChat calls made with it carry its token.
func (s *Service) app(ctx context.Context, appID string) (context.Context, apps.App, error) {
	if s.apps == nil {
		a := apps.App{Default: true}
		return apps.With(ctx, a), a, nil
	}
	a, err := s.apps.Resolve(ctx, appID)
	if err != nil {
		return ctx, apps.App{}, err
	}
	return apps.With(ctx, a), a, nil
}

// forApp is w for app a.
func forApp(w ledger.Work, a apps.App) ledger.Work {
	w.AppID, w.DefaultApp = a.ID, a.Default
	return w
}
