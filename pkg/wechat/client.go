package wechat

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/tracing"
)

// DefaultBaseURL is WeChat's API host.
const DefaultBaseURL = "https://api.weixin.qq.com"

// TokenSource hands out access tokens.
type TokenSource interface {
	// Token returns a valid access token.
	Token(ctx context.Context) (string, error)
	// Invalidate reports that WeChat rejected token; the source drops it if it
	// is still the one it holds.
	Invalidate(ctx context.Context, token string)
}

// Options configure a Client. Zero values take the defaults.
type Options struct {
	// BaseURL is WeChat's API host; default DefaultBaseURL. It must be
	// https, or http to a loopback host (the local simulator): see CheckBaseURL.
	BaseURL string
	// HTTPClient sends the calls; default a client without a global timeout
	// (the context bounds each call). The client never follows a redirect,
	// whatever this one's CheckRedirect says: a redirect would resend the
	// AppSecret or the access token to another host.
	HTTPClient *http.Client
	// Tokens hands out access tokens; required for media calls, unused by
	// StableToken.
	Tokens TokenSource
	Logger *slog.Logger // default slog.Default()
	// Metrics receives each call's measurements; nil records none.
	Metrics Metrics
	// Tracer makes each call a span named WeChat; default a no-op tracer.
	Tracer trace.Tracer

	// Attempts bounds the tries of a call answered busy (-1), 5xx or a broken
	// connection; default 3. Token rejections add one more try.
	Attempts int
	// Backoff is the first retry delay, doubled on each retry and jittered;
	// default 200ms. No retry starts that could not finish before the
	// context's deadline.
	Backoff time.Duration

	// RateLimitBackoff is the first delay after WeChat's per-minute limit
	// (45011, "retry next minute"), doubled on each retry up to
	// RateLimitMaxDelay and jittered; default 1 s, at most 16 s. Such a
	// call is tried again while the context's deadline allows another try,
	// and at most RateLimitAttempts times in all (default 8: about 30 to
	// 60 s of waiting, past the minute).
	RateLimitBackoff  time.Duration
	RateLimitMaxDelay time.Duration
	RateLimitAttempts int

	// Quota is the daily-quota breaker (package quota's Breaker): after
	// WeChat answers 45009 for an API, the client answers the same failure
	// for that API without calling WeChat until the daily reset. Nil: none.
	// One breaker serves the deployment, keyed by QuotaScope and API:
	// WeChat counts each account's quota apart.
	Quota Quota
	// QuotaScope names whose quota a call spends, from its context (the app
	// it is made for: package apps' Scope); nil or "" is the deployment's
	// one app.
	QuotaScope func(ctx context.Context) string

	// Now and Sleep are the client's clock: Now for the deadline arithmetic
	// of retries, Sleep for the waits between tries (it returns early with
	// the context's error). Default the system clock; tests inject theirs.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Quota remembers which APIs have spent their daily quota (package
// quota's Breaker). api is the call's operation ("media/upload",
// "media/uploadimg", "media/get", "stable_token"): WeChat counts a quota
// per API.
type Quota interface {
	// Spent reports whether api's daily quota is known to be spent, and
	// until when.
	Spent(api string) (until time.Time, spent bool)
	// Exhausted records WeChat's 45009 for api; it answers until when no
	// call is made.
	Exhausted(api string) (until time.Time)
}

// Metrics is what the client measures (package metrics' Recorder).
type Metrics interface {
	// WeChatAttempt is the latency of one HTTP exchange with WeChat.
	WeChatAttempt(ctx context.Context, d time.Duration)
	// WeChatRetry is a call sent again.
	WeChatRetry(ctx context.Context)
	// WeChatCall is a call's outcome: failed if WeChat failed it, or the
	// deployment's settings did (not the caller's request).
	WeChatCall(ctx context.Context, failed bool)
}

// Client calls WeChat's media APIs and its token API.
type Client struct {
	base     string
	baseErr  error
	http     *http.Client
	tokens   TokenSource
	log      *slog.Logger
	metrics  Metrics
	tracer   trace.Tracer
	attempts int
	backoff  time.Duration

	rlBackoff  time.Duration
	rlMax      time.Duration
	rlAttempts int
	quota      Quota
	quotaScope func(ctx context.Context) string
	now        func() time.Time
	sleep      func(ctx context.Context, d time.Duration) error
}

// New returns a Client.
func New(opts Options) *Client {
	c := &Client{
		base:     strings.TrimRight(opts.BaseURL, "/"),
		tokens:   opts.Tokens,
		log:      opts.Logger,
		metrics:  opts.Metrics,
		tracer:   opts.Tracer,
		attempts: opts.Attempts,
		backoff:  opts.Backoff,

		rlBackoff:  opts.RateLimitBackoff,
		rlMax:      opts.RateLimitMaxDelay,
		rlAttempts: opts.RateLimitAttempts,
		quota:      opts.Quota,
		quotaScope: opts.QuotaScope,
		now:        opts.Now,
		sleep:      opts.Sleep,
	}
	if c.base == "" {
		c.base = DefaultBaseURL
	}
	if err := CheckBaseURL(c.base); err != nil {
		c.baseErr = failure.Wrap(failure.Config, failure.CodeSystem, err, "system error: the WeChat base URL is not allowed")
	}
	hc := http.Client{}
	if opts.HTTPClient != nil {
		hc = *opts.HTTPClient
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.http = &hc
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.tracer == nil {
		c.tracer = tracing.Noop()
	}
	if c.attempts <= 0 {
		c.attempts = 3
	}
	if c.backoff <= 0 {
		c.backoff = 200 * time.Millisecond
	}
	if c.rlBackoff <= 0 {
		c.rlBackoff = time.Second
	}
	if c.rlMax <= 0 {
		c.rlMax = 16 * time.Second
	}
	if c.rlAttempts <= 0 {
		c.rlAttempts = 8
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleep
	}
	return c
}

// ContainerHost is the name a Docker container has for the machine it runs
// on (Docker Desktop names it; with Linux's Docker Engine, sam local and
// docker run map it with --add-host). `sam local` runs a function in such
// a container, and `make local`'s simulator is on the machine: over http
// this exact name is a base like a loopback host.
const ContainerHost = "host.docker.internal"

// sleep waits d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// CheckBaseURL accepts WeChat base URLs: https with a host and no query,
// or http to a loopback host (127.0.0.0/8, ::1, localhost) or to
// ContainerHost, which is the local simulator. Anything else would send
// the AppSecret and the access tokens in clear over the network.
func CheckBaseURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.RawQuery != "" || u.User != nil || u.Fragment != "":
		return fmt.Errorf("want a URL like %s", DefaultBaseURL)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && (isLoopback(u.Hostname()) || u.Hostname() == ContainerHost):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("http is allowed only to a loopback host or %s (the local simulator); use https for %s", ContainerHost, u.Hostname())
	}
	return fmt.Errorf("want https, got %s", u.Scheme)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Body is the content of an upload: anything that can be opened again (an
// S3 object, a file, bytes), with a known size.
type Body struct {
	// Filename is the part's file name; WeChat decides the type by its
	// extension and refuses non-ASCII names, so it must be plain ASCII
	// ("media.jpg").
	Filename    string
	ContentType string // default application/octet-stream
	Size        int64
	// Open returns the content from its first byte; it is called again for
	// each retry.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// BytesBody is a Body over b.
func BytesBody(filename, contentType string, b []byte) Body {
	return Body{Filename: filename, ContentType: contentType, Size: int64(len(b)),
		Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

// Uploaded is temporary media that WeChat accepted.
type Uploaded struct {
	Type      string
	MediaID   string
	CreatedAt time.Time
}

// TemporaryMediaLifetime is how long WeChat keeps temporary media.
const TemporaryMediaLifetime = 72 * time.Hour

// ExpiresAt is when WeChat forgets the media.
func (u Uploaded) ExpiresAt() time.Time { return u.CreatedAt.Add(TemporaryMediaLifetime) }

// Upload sends temporary media of type typ (image, voice, video, thumb).
func (c *Client) Upload(ctx context.Context, typ string, b Body) (Uploaded, error) {
	var out Uploaded
	q := url.Values{"type": {typ}}
	err := c.call(ctx, "media/upload", func(token string) (*http.Request, *sendTracker, error) {
		return c.multipartRequest(ctx, "/cgi-bin/media/upload", q, token, b)
	}, func(resp *http.Response) error {
		defer resp.Body.Close()
		var r struct {
			Type         string    `json:"type"`
			MediaID      string    `json:"media_id"`
			ThumbMediaID string    `json:"thumb_media_id"`
			CreatedAt    timestamp `json:"created_at"`
		}
		if err := decodeReply(resp, &r); err != nil {
			return err
		}
		id := r.MediaID
		if id == "" {
			id = r.ThumbMediaID // type=thumb answers thumb_media_id
		}
		if id == "" {
			return fmt.Errorf("%w: no media_id in the answer", ErrBadResponse)
		}
		if r.Type == "" {
			r.Type = typ
		}
		created := time.Unix(int64(r.CreatedAt), 0).UTC()
		if r.CreatedAt == 0 {
			created = time.Now().UTC().Truncate(time.Second)
		}
		out = Uploaded{Type: r.Type, MediaID: id, CreatedAt: created}
		return nil
	})
	return out, err
}

// UploadImg sends an article image and returns its permanent URL.
func (c *Client) UploadImg(ctx context.Context, b Body) (string, error) {
	var out string
	err := c.call(ctx, "media/uploadimg", func(token string) (*http.Request, *sendTracker, error) {
		return c.multipartRequest(ctx, "/cgi-bin/media/uploadimg", nil, token, b)
	}, func(resp *http.Response) error {
		defer resp.Body.Close()
		var r struct {
			URL string `json:"url"`
		}
		if err := decodeReply(resp, &r); err != nil {
			return err
		}
		if r.URL == "" {
			return fmt.Errorf("%w: no url in the answer", ErrBadResponse)
		}
		out = r.URL
		return nil
	})
	return out, err
}

// Media is what media/get answered: a file to read, or, for video, a URL.
type Media struct {
	ContentType string
	Filename    string // from Content-Disposition, "" if none
	Size        int64  // -1 if unknown
	// Body streams the file; the caller must close it. Nil for video.
	Body     io.ReadCloser
	VideoURL string // set for video, which WeChat answers with a link
}

// Get fetches temporary media. The answer is classified by its body, not by
// its Content-Type header, which WeChat does not always set right.
func (c *Client) Get(ctx context.Context, mediaID string) (*Media, error) {
	var out *Media
	q := url.Values{"media_id": {mediaID}}
	err := c.call(ctx, "media/get", func(token string) (*http.Request, *sendTracker, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint("/cgi-bin/media/get", q, token), nil)
		return req, nil, err
	}, func(resp *http.Response) error {
		m, err := classifyMedia(resp)
		if err != nil {
			return err
		}
		out = m
		return nil
	})
	return out, err
}

// tokenless are the calls that carry no access_token of the TokenSource:
// the token calls themselves, and a platform's, which carry the
// component_access_token they are given.
var tokenless = map[string]bool{"stable_token": true, opComponentToken: true, opQueryAuth: true, opAuthorizerToken: true}

// credentialCodes are the stable_token answers that blame the app's
// credentials (40001 there is a wrong AppSecret, not a token).
var credentialCodes = map[int]bool{failure.CodeInvalidCredential: true, failure.CodeInvalidAppID: true, failure.CodeInvalidAppSecret: true}

// CredentialsRejected reports whether err is WeChat refusing the app's
// AppID or AppSecret on a token call.
func CredentialsRejected(err error) bool {
	var a *Answer
	return errors.As(err, &a) && credentialCodes[a.Code]
}

// StableToken fetches the app's access token from /cgi-bin/stable_token in
// normal mode (force_refresh false: concurrent fetchers get the same token
// and never invalidate each other's), with the same retries as media calls.
func (c *Client) StableToken(ctx context.Context, appID, appSecret string) (token string, expiresIn time.Duration, err error) {
	err = c.call(ctx, "stable_token", func(string) (*http.Request, *sendTracker, error) {
		body, _ := json.Marshal(map[string]any{
			"grant_type": "client_credential", "appid": appID, "secret": appSecret, "force_refresh": false,
		})
		return jsonRequest(ctx, c.base+"/cgi-bin/stable_token", body)
	}, func(resp *http.Response) error {
		defer resp.Body.Close()
		var r struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int64  `json:"expires_in"`
		}
		if err := decodeReply(resp, &r); err != nil {
			// A token call carries nothing of a caller's: what WeChat refuses
			// in it (the AppID, the AppSecret, a frozen secret, the IP) is the
			// deployment's to mend, never a caller's final failure.
			if fe := failure.As(err); fe != nil && (fe.Kind == failure.Caller || unknownRefusal(fe.Code)) {
				fe.Kind = failure.Config
				if credentialCodes[fe.Code] {
					fe.Message = "system error: WeChat rejected the app's AppID or AppSecret"
				}
			}
			return err
		}
		if r.AccessToken == "" || r.ExpiresIn <= 0 {
			return fmt.Errorf("%w: no access_token in the answer", ErrBadResponse)
		}
		token, expiresIn = r.AccessToken, time.Duration(r.ExpiresIn)*time.Second
		return nil
	})
	return token, expiresIn, err
}

// maxReply bounds how much of a JSON answer is read.
const maxReply = 64 << 10

// classifyMedia turns a 200 answer of media/get into Media or an error. It
// takes ownership of resp.Body: on success a binary Media holds it.
func classifyMedia(resp *http.Response) (*Media, error) {
	br := bufio.NewReaderSize(resp.Body, 512)
	head, _ := br.Peek(512)
	if t := bytes.TrimLeft(head, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		// Media files WeChat stores (jpg, png, gif, amr, mp3, mp4) never start
		// with '{': this is a JSON answer.
		defer resp.Body.Close()
		var r struct {
			ErrCode  int     `json:"errcode"`
			ErrMsg   string  `json:"errmsg"`
			VideoURL *string `json:"video_url"`
		}
		data, err := io.ReadAll(io.LimitReader(br, maxReply))
		if err != nil {
			return nil, fmt.Errorf("read media/get answer: %w: %w", errBroken, err)
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("%w: malformed JSON from media/get", ErrBadResponse)
		}
		if r.ErrCode != 0 {
			return nil, apiError(r.ErrCode, r.ErrMsg)
		}
		if r.VideoURL == nil || *r.VideoURL == "" {
			return nil, fmt.Errorf("%w: JSON from media/get without video_url", ErrBadResponse)
		}
		return &Media{ContentType: "video/mp4", Size: -1, VideoURL: *r.VideoURL}, nil
	}
	m := &Media{ContentType: resp.Header.Get("Content-Type"), Size: resp.ContentLength,
		Body: readCloser{br, resp.Body}}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		m.Filename = params["filename"] // mime decodes filename*= into filename
	}
	return m, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// timestamp decodes created_at, which some WeChat answers send as a string.
type timestamp int64

func (t *timestamp) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil // not a number ("xxx" in one of WeChat's examples): ignore
	}
	*t = timestamp(n)
	return nil
}

// decodeReply is the one check of every JSON answer: it reads it into v,
// or returns WeChat's {"errcode","errmsg"} as a failure of the kind the
// code blames.
func decodeReply(resp *http.Response, v any) error {
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return fmt.Errorf("read answer: %w: %w", errBroken, err)
	}
	var e struct {
		ErrCode int    `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return fmt.Errorf("%w: malformed JSON (%d bytes)", ErrBadResponse, len(data))
	}
	if e.ErrCode != 0 {
		return apiError(e.ErrCode, e.ErrMsg)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	return nil
}

func (c *Client) endpoint(path string, q url.Values, token string) string {
	v := url.Values{}
	for k, vs := range q {
		v[k] = vs
	}
	v.Set("access_token", token)
	return c.base + path + "?" + v.Encode()
}

// sendTracker notes whether a request was written whole: its body handed
// to the connection to its last byte without a write error. WeChat may
// then act on it even if no answer comes back. It also keeps the first
// error of the body's source (S3), which is then the failure, whatever
// the transport makes of it.
type sendTracker struct {
	whole  atomic.Bool
	mu     sync.Mutex
	srcErr error
}

func (t *sendTracker) sourceFailed(err error) {
	t.mu.Lock()
	if t.srcErr == nil {
		t.srcErr = err
	}
	t.mu.Unlock()
}

func (t *sendTracker) sourceErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.srcErr
}

// sourceReader reads a body's source and reports its failures.
type sourceReader struct {
	r  io.Reader
	st *sendTracker
}

func (s sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.st.sourceFailed(err)
	}
	return n, err
}

// trace arms t on req: net/http reports when it wrote the request.
func (t *sendTracker) trace(req *http.Request) *http.Request {
	t.whole.Store(false)
	return req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) { t.whole.Store(info.Err == nil) },
	}))
}

// multipartRequest builds a multipart/form-data request whose body is the
// part header, the source's bytes and the closing boundary, read in turn: an
// exact Content-Length, no chunked encoding, nothing buffered.
func (c *Client) multipartRequest(ctx context.Context, path string, q url.Values, token string, b Body) (*http.Request, *sendTracker, error) {
	if err := checkFilename(b.Filename); err != nil {
		return nil, nil, failure.Wrap(failure.Internal, failure.CodeSystem, err, "system error")
	}
	if b.Size < 0 || b.Open == nil {
		return nil, nil, failure.New(failure.Internal, failure.CodeSystem, "system error: upload body without size or source")
	}
	ct := b.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	boundary := newBoundary()
	head := "--" + boundary + "\r\n" +
		`Content-Disposition: form-data; name="media"; filename="` + b.Filename + `"` + "\r\n" +
		"Content-Type: " + ct + "\r\n\r\n"
	tail := "\r\n--" + boundary + "--\r\n"
	st := &sendTracker{}
	open := func() (io.ReadCloser, error) {
		src, err := b.Open(ctx)
		if err != nil {
			return nil, err // the source's own failure (S3): classified there
		}
		return readCloser{io.MultiReader(strings.NewReader(head), sourceReader{src, st}, strings.NewReader(tail)), src}, nil
	}
	body, err := open()
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(path, q, token), body)
	if err != nil {
		body.Close()
		return nil, nil, err
	}
	req.ContentLength = int64(len(head)) + b.Size + int64(len(tail))
	req.GetBody = open
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
	return req, st, nil
}

func checkFilename(name string) error {
	if name == "" || strings.ContainsAny(name, "\"\\/\r\n") {
		return fmt.Errorf("upload file name %q: want a plain name like media.jpg", name)
	}
	for _, r := range name {
		if r < 0x20 || r > 0x7e {
			return fmt.Errorf("upload file name %q: WeChat refuses non-ASCII names", name)
		}
	}
	return nil
}

func newBoundary() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return "wxmedia-" + hex.EncodeToString(b[:])
}

// call runs one API call with the retry rules: a rejected token is reported
// and the call retried once with a fresh one; busy (-1), 5xx and broken
// connections are retried with jittered backoff while the context's
// deadline allows, but never a body that reached WeChat whole without an
// answer; WeChat's per-minute limit (45011) is retried with a longer
// backoff, also within the deadline. WeChat's daily quota (45009) trips the
// quota breaker, which then answers for the API until the daily reset,
// without a call. handle reads a 200 answer; it owns resp.Body only if it
// returns nil (it may keep it open). Its errors are *failure.Error.
func (c *Client) call(ctx context.Context, op string, build func(token string) (*http.Request, *sendTracker, error), handle func(*http.Response) error) (err error) {
	if c.baseErr != nil {
		return c.baseErr
	}
	quotaKey := c.quotaKey(ctx, op)
	if err := c.quotaOpen(ctx, op, quotaKey); err != nil {
		return err
	}
	ctx, span := c.tracer.Start(ctx, "WeChat", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("wechat.op", op)))
	sent := 0 // HTTP exchanges with WeChat
	defer func() { c.finish(ctx, span, sent, err) }()
	withToken, tokenRetried := !tokenless[op], false
	start := time.Now()
	var last *failure.Error
	var failed tries
	for attempt := 1; ; attempt++ {
		token, err := c.token(ctx, op)
		if err != nil {
			return err
		}
		tried := time.Now()
		last = c.once(ctx, op, build, handle, token)
		took := time.Since(tried)
		sent++
		if c.metrics != nil {
			c.metrics.WeChatAttempt(ctx, took)
		}
		if last == nil {
			if c.log.Enabled(ctx, slog.LevelDebug) {
				c.log.DebugContext(ctx, "wechat call", "op", op, "attempts", attempt, "ms", time.Since(start).Milliseconds())
			}
			return nil
		}
		if err := c.answered(ctx, op, quotaKey, last, attempt); err != nil {
			return err
		}
		if withToken && tokenRejected(last) && !tokenRetried {
			tokenRetried = true
			c.tokens.Invalidate(ctx, token)
			attempt-- // a token refresh is not a transient retry
			c.retried(ctx)
			continue
		}
		delay := c.delay(ctx, last, &failed, took)
		if delay <= 0 {
			break
		}
		c.log.InfoContext(ctx, "wechat retry", "op", op, "attempt", attempt, "errcode", last.Code, "delay_ms", delay.Milliseconds(), "error", last.Error())
		c.retried(ctx)
		if err := c.sleep(ctx, delay); err != nil {
			return last
		}
	}
	return last
}

// quotaKey is whose daily quota of op a call in ctx spends: WeChat counts
// each account's apart.
func (c *Client) quotaKey(ctx context.Context, op string) string {
	if c.quotaScope != nil {
		if scope := c.quotaScope(ctx); scope != "" {
			return scope + " " + op
		}
	}
	return op
}

// quotaOpen is nil while the quota breaker lets calls to op through, else
// the failure answered without a call.
func (c *Client) quotaOpen(ctx context.Context, op, quotaKey string) error {
	if c.quota == nil {
		return nil
	}
	until, spent := c.quota.Spent(quotaKey)
	if !spent {
		return nil
	}
	if c.log.Enabled(ctx, slog.LevelDebug) {
		c.log.DebugContext(ctx, "wechat not called: the API's daily quota is spent", "op", op, "until", until.UTC().Format(time.RFC3339))
	}
	return quotaSpent(until, fmt.Errorf("wechat %s: %w", op, ErrQuotaSpent))
}

// token is the access token a call of op carries: "" for a call without
// one (tokenless).
func (c *Client) token(ctx context.Context, op string) (string, error) {
	if tokenless[op] {
		return "", nil
	}
	if c.tokens == nil {
		return "", failure.New(failure.Internal, failure.CodeSystem, "system error: no access-token source")
	}
	token, err := c.tokens.Token(ctx)
	if err != nil {
		return "", classify(op+": access token", err, false)
	}
	return token, nil
}

// answered logs WeChat's error answer, if last is one, and trips the quota
// breaker on 45009: the failure to answer at once then, else nil.
func (c *Client) answered(ctx context.Context, op, quotaKey string, last *failure.Error, attempt int) error {
	var a *Answer
	if !errors.As(last, &a) {
		return nil
	}
	// WeChat's own errmsg, for operators: it may name the egress IP (40164).
	c.log.WarnContext(ctx, "wechat error", "op", op, "errcode", a.Code, "errmsg", a.Message, "attempt", attempt)
	if a.Code != failure.CodeDailyQuota || c.quota == nil {
		return nil
	}
	until := c.quota.Exhausted(quotaKey)
	c.log.WarnContext(ctx, "wechat daily quota spent: no more calls to this API until the daily reset", "op", op, "until", until.UTC().Format(time.RFC3339))
	return quotaSpent(until, a)
}

// tries counts a call's tries that failed transiently (busy) and those
// WeChat's per-minute limit refused (limited, 45011).
type tries struct{ busy, limited int }

// delay is how long to wait before trying a call again after last, which
// took took, or 0 for no other try: a per-minute limit waits longer than
// a busy answer, each doubling up to its limit of tries, jittered; no try
// starts that could not finish before ctx's deadline.
func (c *Client) delay(ctx context.Context, last *failure.Error, n *tries, took time.Duration) time.Duration {
	var delay time.Duration
	switch {
	case ctx.Err() != nil:
	case rateLimited(last):
		if n.limited++; n.limited < c.rlAttempts {
			delay = min(c.rlBackoff<<min(n.limited-1, 16), c.rlMax)
		}
	case transient(last):
		if n.busy++; n.busy < c.attempts {
			delay = c.backoff << min(n.busy-1, 16)
		}
	}
	if delay <= 0 {
		return 0
	}
	delay = delay/2 + rand.N(delay/2+1) // jitter in [d/2, d]
	if dl, ok := ctx.Deadline(); ok && dl.Sub(c.now()) < delay+took+time.Second {
		return 0 // another try, as long as the last one, could not finish in time
	}
	return delay
}

// quotaSpent is the failure answered for an API whose daily quota is
// spent, by WeChat (cause its answer) or by the breaker in its stead
// (cause ErrQuotaSpent): the same kind, errcode and message either way.
func quotaSpent(until time.Time, cause error) *failure.Error {
	return failure.Wrap(failure.Config, failure.CodeDailyQuota, cause, "%s; not called again before %s (the daily reset)",
		callerMessage[failure.CodeDailyQuota], until.UTC().Format(time.RFC3339))
}

func (c *Client) retried(ctx context.Context) {
	if c.metrics != nil {
		c.metrics.WeChatRetry(ctx)
	}
}

// finish records a call's outcome and ends its span. A call that never
// reached WeChat (the access token failed: its own call or the secret is
// counted where it failed) is no WeChat failure; nor is the caller's.
func (c *Client) finish(ctx context.Context, span trace.Span, sent int, err error) {
	kind := failure.KindOf(err)
	failed := err != nil && sent > 0 && (kind == failure.WeChat || kind == failure.Config)
	if c.metrics != nil {
		c.metrics.WeChatCall(ctx, failed)
	}
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("wechat.attempts", sent))
		if err != nil {
			code := failure.CodeOf(err)
			span.SetAttributes(attribute.Int("wechat.errcode", code), attribute.Bool(tracing.AttrCallerFault, !failed),
				attribute.Bool(tracing.AttrThrottled, code == failure.CodeDailyQuota || code == failure.CodeMinuteQuota))
			// What a caller may be told, never the cause: it may quote WeChat's errmsg.
			span.SetStatus(codes.Error, failure.MessageOf(err))
		}
	}
	span.End()
}

func (c *Client) once(ctx context.Context, op string, build func(string) (*http.Request, *sendTracker, error), handle func(*http.Response) error, token string) *failure.Error {
	req, st, err := build(token)
	if err != nil {
		return classify(op, err, false) // a URL that does not parse is quoted whole, token included: redacted there
	}
	if st != nil {
		req = st.trace(req)
	}
	whole := func() bool { return st != nil && st.whole.Load() }
	resp, err := c.http.Do(req)
	if err != nil {
		if st != nil && st.sourceErr() != nil {
			return classify(op, st.sourceErr(), false) // the source failed mid-body: not WeChat
		}
		return classify(op, err, whole())
	}
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxReply))
		resp.Body.Close()
		// A gateway's 500, 502 or 504 after the whole body went out is an
		// answer lost: WeChat behind it may have stored the file. 503 and
		// 429 are refusals to start.
		lost := resp.StatusCode == http.StatusInternalServerError || resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusGatewayTimeout
		return classify(op, &StatusError{StatusCode: resp.StatusCode}, lost && whole())
	}
	if err := handle(resp); err != nil {
		resp.Body.Close()
		return classify(op, err, whole())
	}
	return nil
}

// jsonRequest is a POST of body, JSON, to u.
func jsonRequest(ctx context.Context, u string, body []byte) (*http.Request, *sendTracker, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil, nil
}
