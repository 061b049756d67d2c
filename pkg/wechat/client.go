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
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
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
	BaseURL    string       // default DefaultBaseURL
	HTTPClient *http.Client // default a client without a global timeout: the context bounds each call
	Tokens     TokenSource  // required
	Logger     *slog.Logger // default slog.Default()

	// Attempts bounds the tries of a call answered busy (-1), 5xx or a broken
	// connection; default 3. Token rejections add one more try.
	Attempts int
	// Backoff is the first retry delay, doubled on each retry and jittered;
	// default 200ms. No retry starts that could not finish before the
	// context's deadline.
	Backoff time.Duration
}

// Client calls WeChat's media APIs.
type Client struct {
	base     string
	http     *http.Client
	tokens   TokenSource
	log      *slog.Logger
	attempts int
	backoff  time.Duration
}

// New returns a Client.
func New(opts Options) *Client {
	c := &Client{
		base:     strings.TrimRight(opts.BaseURL, "/"),
		http:     opts.HTTPClient,
		tokens:   opts.Tokens,
		log:      opts.Logger,
		attempts: opts.Attempts,
		backoff:  opts.Backoff,
	}
	if c.base == "" {
		c.base = DefaultBaseURL
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.attempts <= 0 {
		c.attempts = 3
	}
	if c.backoff <= 0 {
		c.backoff = 200 * time.Millisecond
	}
	return c
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
	err := c.call(ctx, "media/upload", func(token string) (*http.Request, error) {
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
	err := c.call(ctx, "media/uploadimg", func(token string) (*http.Request, error) {
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
	err := c.call(ctx, "media/get", func(token string) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint("/cgi-bin/media/get", q, token), nil)
	}, func(resp *http.Response) error {
		m, err := classify(resp)
		if err != nil {
			return err
		}
		out = m
		return nil
	})
	return out, err
}

// maxReply bounds how much of a JSON answer is read.
const maxReply = 64 << 10

// classify turns a 200 answer of media/get into Media or an error. It takes
// ownership of resp.Body: on success a binary Media holds it.
func classify(resp *http.Response) (*Media, error) {
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
			return nil, fmt.Errorf("read media/get answer: %w: %w", errBroken, redactErr(err))
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("%w: malformed JSON from media/get", ErrBadResponse)
		}
		if r.ErrCode != 0 {
			return nil, &Error{Code: r.ErrCode, Message: r.ErrMsg}
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

// decodeReply reads a JSON answer into v, returning *Error for errcode != 0.
func decodeReply(resp *http.Response, v any) error {
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return fmt.Errorf("read answer: %w: %w", errBroken, redactErr(err))
	}
	var e struct {
		ErrCode int    `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return fmt.Errorf("%w: malformed JSON (%d bytes)", ErrBadResponse, len(data))
	}
	if e.ErrCode != 0 {
		return &Error{Code: e.ErrCode, Message: e.ErrMsg}
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

// multipartRequest builds a multipart/form-data request whose body is the
// part header, the source's bytes and the closing boundary, read in turn: an
// exact Content-Length, no chunked encoding, nothing buffered.
func (c *Client) multipartRequest(ctx context.Context, path string, q url.Values, token string, b Body) (*http.Request, error) {
	if err := checkFilename(b.Filename); err != nil {
		return nil, err
	}
	if b.Size < 0 || b.Open == nil {
		return nil, errors.New("upload body without size or source")
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
	open := func() (io.ReadCloser, error) {
		src, err := b.Open(ctx)
		if err != nil {
			return nil, fmt.Errorf("open upload source: %w", err)
		}
		return readCloser{io.MultiReader(strings.NewReader(head), src, strings.NewReader(tail)), src}, nil
	}
	body, err := open()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(path, q, token), body)
	if err != nil {
		body.Close()
		return nil, redactErr(err)
	}
	req.ContentLength = int64(len(head)) + b.Size + int64(len(tail))
	req.GetBody = open
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
	return req, nil
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
// deadline allows. handle reads a 200 answer; it owns resp.Body only if it
// returns nil (it may keep it open).
func (c *Client) call(ctx context.Context, op string, build func(token string) (*http.Request, error), handle func(*http.Response) error) error {
	tokenRetried := false
	start := time.Now()
	var last error
	for attempt := 1; ; attempt++ {
		token, err := c.tokens.Token(ctx)
		if err != nil {
			return fmt.Errorf("wechat %s: access token: %w", op, err)
		}
		tried := time.Now()
		last = c.once(ctx, build, handle, token)
		took := time.Since(tried)
		if last == nil {
			if c.log.Enabled(ctx, slog.LevelDebug) {
				c.log.DebugContext(ctx, "wechat call", "op", op, "attempts", attempt, "ms", time.Since(start).Milliseconds())
			}
			return nil
		}
		var we *Error
		if errors.As(last, &we) {
			c.log.WarnContext(ctx, "wechat error", "op", op, "errcode", we.Code, "errmsg", we.Message, "attempt", attempt)
		}
		if errors.As(last, &we) && we.TokenRejected() && !tokenRetried {
			tokenRetried = true
			c.tokens.Invalidate(ctx, token)
			attempt-- // a token refresh is not a transient retry
			continue
		}
		if !transient(last) || attempt >= c.attempts || ctx.Err() != nil {
			break
		}
		delay := c.backoff << (attempt - 1)
		delay = delay/2 + rand.N(delay/2+1) // jitter in [d/2, d]
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay+took+time.Second {
			break // another try, as long as the last one, could not finish in time
		}
		c.log.InfoContext(ctx, "wechat retry", "op", op, "attempt", attempt, "delay_ms", delay.Milliseconds(), "error", last.Error())
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return fmt.Errorf("wechat %s: %w", op, last)
		}
	}
	return fmt.Errorf("wechat %s: %w", op, last)
}

func (c *Client) once(ctx context.Context, build func(string) (*http.Request, error), handle func(*http.Response) error, token string) error {
	req, err := build(token)
	if err != nil {
		return redactErr(err) // a URL that does not parse is quoted whole, token included
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return redactErr(err)
	}
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxReply))
		resp.Body.Close()
		return &StatusError{StatusCode: resp.StatusCode}
	}
	if err := handle(resp); err != nil {
		resp.Body.Close()
		return err
	}
	return nil
}

// transient reports whether a failed call may succeed if tried again.
func transient(err error) bool {
	var we *Error
	if errors.As(err, &we) {
		return we.Code == CodeBusy
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.StatusCode >= 500
	}
	if errors.Is(err, ErrBadResponse) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Op == "parse" {
		return false // a malformed base URL: trying again will not mend it
	}
	return errors.As(err, &ue) || errors.Is(err, errBroken) // the connection broke: the source is re-opened
}

// errBroken marks an answer cut short.
var errBroken = errors.New("connection broken")
