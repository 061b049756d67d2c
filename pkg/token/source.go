package token

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

// CredentialsProvider gives the app's credentials; Invalidate is called
// when WeChat rejects them.
type CredentialsProvider interface {
	Credentials(ctx context.Context) (Credentials, error)
	Invalidate()
}

// TokenAPI is WeChat's token call (package wechat's Client).
type TokenAPI interface {
	StableToken(ctx context.Context, appID, appSecret string) (string, time.Duration, error)
}

var _ TokenAPI = (*wechat.Client)(nil)

// Options configure a Source. Zero values take the defaults.
type Options struct {
	WeChat      TokenAPI            // required
	Credentials CredentialsProvider // required
	Logger      *slog.Logger        // default slog.Default()
	Metrics     Metrics             // counts the stable_token calls; nil counts none
	Now         func() time.Time    // default time.Now
	// Margin is how long before WeChat's expiry a token is dropped; default 5 minutes.
	Margin time.Duration
	// FetchTimeout bounds one token fetch, retries included, within the
	// deadline of the caller that started it; default 10 s.
	FetchTimeout time.Duration
	// FailureTTL is how long a failed fetch is answered again without
	// another, so that a burst of work with a wrong secret costs one
	// stable_token call, not one each; default 5 s.
	FailureTTL time.Duration
}

// Metrics counts the source's stable_token calls (package metrics' Recorder).
type Metrics interface {
	TokenFetch(ctx context.Context)
}

// Source hands out access tokens from /cgi-bin/stable_token (normal mode,
// so concurrent containers never invalidate each other's tokens). It
// satisfies wechat.TokenSource.
type Source struct {
	wx         TokenAPI
	creds      CredentialsProvider
	log        *slog.Logger
	metrics    Metrics
	now        func() time.Time
	margin     time.Duration
	timeout    time.Duration
	failureTTL time.Duration

	group   singleflight.Group
	mu      sync.RWMutex
	token   string
	until   time.Time
	err     error // the last fetch's failure, answered again until errTill
	errTill time.Time
}

var _ wechat.TokenSource = (*Source)(nil)

// New returns a Source.
func New(opts Options) *Source {
	s := &Source{
		wx: opts.WeChat, creds: opts.Credentials, log: opts.Logger, metrics: opts.Metrics, now: opts.Now,
		margin: opts.Margin, timeout: opts.FetchTimeout, failureTTL: opts.FailureTTL,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.margin <= 0 {
		s.margin = 5 * time.Minute
	}
	if s.timeout <= 0 {
		s.timeout = 10 * time.Second
	}
	if s.failureTTL <= 0 {
		s.failureTTL = 5 * time.Second
	}
	return s
}

// Token returns the cached token, or fetches one: a single fetch serves every
// concurrent caller.
func (s *Source) Token(ctx context.Context) (string, error) {
	s.mu.RLock()
	tok, until, ferr, errTill := s.token, s.until, s.err, s.errTill
	s.mu.RUnlock()
	if tok != "" && s.now().Before(until) {
		return tok, nil
	}
	if ferr != nil && s.now().Before(errTill) {
		return "", ferr
	}
	ch := s.group.DoChan("token", func() (any, error) {
		// The fetch outlives a caller that gives up, so that the others
		// still get its result; it is bounded by its own timeout and by
		// the deadline of the caller that started it.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		defer cancel()
		if dl, ok := ctx.Deadline(); ok {
			var cancelDL context.CancelFunc
			fctx, cancelDL = context.WithDeadline(fctx, dl)
			defer cancelDL()
		}
		tok, err := s.fetch(fctx)
		if err != nil && fctx.Err() == nil {
			s.mu.Lock()
			s.err, s.errTill = err, s.now().Add(s.failureTTL)
			s.mu.Unlock()
		}
		return tok, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		return "", failure.Wrap(failure.WeChat, failure.CodeSystem, ctx.Err(), "system error: timed out waiting for the access token (the app's secret, then WeChat's stable_token)")
	}
}

// Invalidate drops token if it is still the cached one, so a token that
// another caller already replaced is not refreshed twice.
func (s *Source) Invalidate(_ context.Context, token string) {
	s.mu.Lock()
	if s.token == token {
		s.token, s.until = "", time.Time{}
	}
	s.mu.Unlock()
}

func (s *Source) fetch(ctx context.Context) (string, error) {
	s.mu.RLock()
	tok, until := s.token, s.until
	s.mu.RUnlock()
	if tok != "" && s.now().Before(until) {
		return tok, nil // filled while this caller waited for the flight
	}
	start := s.now()
	tok, ttl, err := s.stableToken(ctx)
	if wechat.CredentialsRejected(err) {
		// The secret may have been rotated since it was cached: read it again, once.
		s.log.WarnContext(ctx, "wechat rejected the app credentials; re-reading the secret", "errcode", failure.CodeOf(err))
		s.creds.Invalidate()
		tok, ttl, err = s.stableToken(ctx)
	}
	if err != nil {
		return "", err
	}
	life := ttl - s.margin
	if life < ttl/2 {
		life = ttl / 2 // a token near its end (stable_token answers the time left): keep it for half of that
	}
	s.mu.Lock()
	s.token, s.until, s.err = tok, start.Add(life), nil
	s.mu.Unlock()
	s.log.InfoContext(ctx, "access token fetched", "expires_in_s", int(ttl.Seconds()), "ms", s.now().Sub(start).Milliseconds())
	return tok, nil
}

func (s *Source) stableToken(ctx context.Context) (string, time.Duration, error) {
	c, err := s.creds.Credentials(ctx)
	if err != nil {
		return "", 0, err
	}
	if s.metrics != nil {
		s.metrics.TokenFetch(ctx)
	}
	return s.wx.StableToken(ctx, c.AppID, c.AppSecret())
}
