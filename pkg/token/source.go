package token

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/wxmedia/wxmedia/pkg/wechat"
)

// CredentialsProvider gives the app's credentials; Invalidate is called
// when WeChat rejects them.
type CredentialsProvider interface {
	Credentials(ctx context.Context) (Credentials, error)
	Invalidate()
}

// Options configure a Source. Zero values take the defaults.
type Options struct {
	BaseURL     string       // default wechat.DefaultBaseURL
	HTTPClient  *http.Client // default &http.Client{}
	Credentials CredentialsProvider
	Logger      *slog.Logger     // default slog.Default()
	Now         func() time.Time // default time.Now
	// Margin is how long before WeChat's expiry a token is dropped; default 5 minutes.
	Margin time.Duration
	// FetchTimeout bounds one token fetch; default 10 s.
	FetchTimeout time.Duration
}

// Source hands out access tokens from /cgi-bin/stable_token (normal mode,
// so concurrent containers never invalidate each other's tokens). It
// satisfies wechat.TokenSource.
type Source struct {
	base    string
	http    *http.Client
	creds   CredentialsProvider
	log     *slog.Logger
	now     func() time.Time
	margin  time.Duration
	timeout time.Duration

	group singleflight.Group
	mu    sync.RWMutex
	token string
	until time.Time
}

var _ wechat.TokenSource = (*Source)(nil)

// New returns a Source.
func New(opts Options) *Source {
	s := &Source{
		base: strings.TrimRight(opts.BaseURL, "/"), http: opts.HTTPClient, creds: opts.Credentials,
		log: opts.Logger, now: opts.Now, margin: opts.Margin, timeout: opts.FetchTimeout,
	}
	if s.base == "" {
		s.base = wechat.DefaultBaseURL
	}
	if s.http == nil {
		s.http = &http.Client{}
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
	return s
}

// Token returns the cached token, or fetches one: a single fetch serves every
// concurrent caller.
func (s *Source) Token(ctx context.Context) (string, error) {
	s.mu.RLock()
	tok, until := s.token, s.until
	s.mu.RUnlock()
	if tok != "" && s.now().Before(until) {
		return tok, nil
	}
	ch := s.group.DoChan("token", func() (any, error) {
		// The fetch outlives a caller that gives up, so that the others
		// still get its result; it is bounded by its own timeout.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		defer cancel()
		return s.fetch(fctx)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		return "", fmt.Errorf("wait for access token: %w", ctx.Err())
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
	var we *wechat.Error
	if errors.As(err, &we) && credentialsRejected(we.Code) {
		// The secret may have been rotated since it was cached: read it again, once.
		s.log.WarnContext(ctx, "wechat rejected the app credentials; re-reading the secret", "errcode", we.Code)
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
	s.token, s.until = tok, start.Add(life)
	s.mu.Unlock()
	s.log.InfoContext(ctx, "access token fetched", "expires_in_s", int(ttl.Seconds()), "ms", s.now().Sub(start).Milliseconds())
	return tok, nil
}

func credentialsRejected(code int) bool {
	switch code {
	case wechat.CodeInvalidToken, wechat.CodeBadSecret, wechat.CodeInvalidAppID:
		return true
	}
	return false
}

func (s *Source) stableToken(ctx context.Context) (string, time.Duration, error) {
	c, err := s.creds.Credentials(ctx)
	if err != nil {
		return "", 0, fmt.Errorf("app credentials: %w", err)
	}
	body, _ := json.Marshal(map[string]any{
		"grant_type": "client_credential", "appid": c.AppID, "secret": c.AppSecret, "force_refresh": false,
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/cgi-bin/stable_token", bytes.NewReader(body))
	if err != nil {
		return "", 0, fmt.Errorf("stable_token: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("stable_token: %w", err) // the URL has no query: nothing to redact
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", 0, fmt.Errorf("stable_token: %w", &wechat.StatusError{StatusCode: resp.StatusCode})
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", 0, fmt.Errorf("stable_token: read answer: %w", err)
	}
	var r struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		ErrCode     int    `json:"errcode"`
		ErrMsg      string `json:"errmsg"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return "", 0, fmt.Errorf("stable_token: %w: malformed JSON", wechat.ErrBadResponse)
	}
	if r.ErrCode != 0 {
		return "", 0, fmt.Errorf("stable_token: %w", &wechat.Error{Code: r.ErrCode, Message: r.ErrMsg})
	}
	if r.AccessToken == "" || r.ExpiresIn <= 0 {
		return "", 0, fmt.Errorf("stable_token: %w: no access_token in the answer", wechat.ErrBadResponse)
	}
	return r.AccessToken, time.Duration(r.ExpiresIn) * time.Second, nil
}
