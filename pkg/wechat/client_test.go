package wechat_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/wechatsim"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/token"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

const appID, appSecret = "wx-test-app", "test-app-secret-do-not-leak"

type fixture struct {
	sim    *wechatsim.Server
	base   string
	tokens *token.Source
	client *wechat.Client
}

// setup starts a simulator and a client that talks to it.
func setup(t *testing.T) *fixture {
	t.Helper()
	sim, base := wechatsim.NewTestServer(t, wechatsim.Options{AppID: appID, AppSecret: appSecret})
	tokens := token.New(token.Options{WeChat: wechat.New(wechat.Options{BaseURL: base}), Credentials: token.Static(appID, appSecret)})
	client := wechat.New(wechat.Options{BaseURL: base, Tokens: tokens, Backoff: 10 * time.Millisecond})
	return &fixture{sim: sim, base: base, tokens: tokens, client: client}
}

// countingBody is a Body over data that counts how often it was opened.
func countingBody(f media.Format, data []byte, opens *atomic.Int32) wechat.Body {
	b := wechat.BytesBody(f.Filename(), f.ContentType(), data)
	open := b.Open
	b.Open = func(ctx context.Context) (io.ReadCloser, error) {
		opens.Add(1)
		return open(ctx)
	}
	return b
}

func TestUploadThenGetEachType(t *testing.T) {
	fx := setup(t)
	ctx := context.Background()
	tests := []struct {
		typ    string
		format media.Format
		size   int
	}{
		{"image", media.JPEG, 200 << 10},
		{"image", media.PNG, 1000},
		{"voice", media.AMR, 50 << 10},
		{"voice", media.MP3, 50 << 10},
		{"thumb", media.JPEG, 60 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+string(tt.format), func(t *testing.T) {
			data := mediatest.Sample(tt.format, tt.size)
			up, err := fx.client.Upload(ctx, tt.typ, wechat.BytesBody(tt.format.Filename(), tt.format.ContentType(), data))
			if err != nil {
				t.Fatalf("Upload: %v", err)
			}
			if up.MediaID == "" || up.Type != tt.typ {
				t.Fatalf("Upload = %+v, want a media_id of type %s", up, tt.typ)
			}
			if life := up.ExpiresAt().Sub(up.CreatedAt); life != 72*time.Hour {
				t.Errorf("expires after %v, want 72h", life)
			}
			m, err := fx.client.Get(ctx, up.MediaID)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			defer m.Body.Close()
			got, err := io.ReadAll(m.Body)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("got %d bytes back, want the %d uploaded", len(got), len(data))
			}
			if m.ContentType != tt.format.ContentType() {
				t.Errorf("content type = %q, want %q", m.ContentType, tt.format.ContentType())
			}
			if m.Size != int64(len(data)) || m.Filename != up.MediaID+tt.format.Ext() {
				t.Errorf("size %d, filename %q; want %d, %q", m.Size, m.Filename, len(data), up.MediaID+tt.format.Ext())
			}
		})
	}
}

func TestGetVideoAnswersVideoURL(t *testing.T) {
	fx := setup(t)
	ctx := context.Background()
	data := mediatest.Sample(media.MP4, 300<<10)
	up, err := fx.client.Upload(ctx, "video", wechat.BytesBody("media.mp4", "video/mp4", data))
	if err != nil {
		t.Fatal(err)
	}
	m, err := fx.client.Get(ctx, up.MediaID)
	if err != nil {
		t.Fatal(err)
	}
	if m.VideoURL == "" || m.Body != nil {
		t.Fatalf("Get(video) = %+v, want a video_url and no body", m)
	}
	resp, err := http.Get(m.VideoURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if !bytes.Equal(got, data) {
		t.Errorf("video_url served %d bytes, want the %d uploaded", len(got), len(data))
	}
}

func TestUploadImg(t *testing.T) {
	fx := setup(t)
	url, err := fx.client.UploadImg(context.Background(), wechat.BytesBody("media.png", "image/png", mediatest.Sample(media.PNG, 5000)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "http") {
		t.Errorf("url = %q, want an http URL", url)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	jpeg := mediatest.Sample(media.JPEG, 1000)
	tests := []struct {
		name     string
		call     func(c *wechat.Client) error
		wantCode int
	}{
		{"ErrInvalidMediaID", func(c *wechat.Client) error { _, err := c.Get(ctx, "no-such-media"); return err }, 40007},
		{"ErrInvalidType", func(c *wechat.Client) error {
			_, err := c.Upload(ctx, "sticker", wechat.BytesBody("media.jpg", "image/jpeg", jpeg))
			return err
		}, 40004},
		{"ErrExtensionDecidesType", func(c *wechat.Client) error {
			_, err := c.Upload(ctx, "voice", wechat.BytesBody("media.jpg", "image/jpeg", jpeg))
			return err
		}, 40005},
		{"ErrThumbTooLarge", func(c *wechat.Client) error {
			_, err := c.Upload(ctx, "thumb", wechat.BytesBody("media.jpg", "image/jpeg", mediatest.Sample(media.JPEG, 65<<10)))
			return err
		}, 40012},
		{"ErrUploadImgGIF", func(c *wechat.Client) error {
			_, err := c.UploadImg(ctx, wechat.BytesBody("media.gif", "image/gif", mediatest.Sample(media.GIF, 100)))
			return err
		}, 40005},
		{"ErrEmpty", func(c *wechat.Client) error {
			_, err := c.Upload(ctx, "image", wechat.BytesBody("media.jpg", "image/jpeg", nil))
			return err
		}, 41005},
	}
	fx := setup(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(fx.client)
			if failure.As(err) == nil || failure.CodeOf(err) != tt.wantCode {
				t.Fatalf("error = %v, want wechat errcode %d", err, tt.wantCode)
			}
		})
	}
}

func TestNonASCIIFilenameRefusedBeforeAnyCall(t *testing.T) {
	fx := setup(t)
	_, err := fx.client.Upload(context.Background(), "image", wechat.BytesBody("图片.jpg", "image/jpeg", mediatest.Sample(media.JPEG, 100)))
	if err == nil || !strings.Contains(err.Error(), "non-ASCII") {
		t.Fatalf("error = %v, want a non-ASCII file name error", err)
	}
	if got := fx.sim.Stats().Upload; got != 0 {
		t.Errorf("upload calls = %d, want 0", got)
	}
}

func TestGetExpiresAfterThreeDays(t *testing.T) {
	fx := setup(t)
	ctx := context.Background()
	up, err := fx.client.Upload(ctx, "image", wechat.BytesBody("media.jpg", "image/jpeg", mediatest.Sample(media.JPEG, 100)))
	if err != nil {
		t.Fatal(err)
	}
	fx.sim.Advance(72*time.Hour + time.Second)
	fx.sim.ExpireTokens() // three days on, the cached token is long gone too
	_, err = fx.client.Get(ctx, up.MediaID)
	if failure.As(err) == nil || failure.CodeOf(err) != failure.CodeInvalidMediaID {
		t.Fatalf("Get after 3 days = %v, want errcode 40007", err)
	}
}

func TestRetries(t *testing.T) {
	data := mediatest.Sample(media.JPEG, 100<<10)
	tests := []struct {
		name        string
		faults      wechatsim.Faults
		expire      bool // expire every token before the call
		wantCode    int  // 0 for success
		wantUploads int64
		wantOpens   int32
		wantTokens  int64 // stable_token calls
	}{
		{"OKFirstTry", wechatsim.Faults{}, false, 0, 1, 1, 1},
		{"OKBusyOnce", wechatsim.Faults{Busy: 1}, false, 0, 2, 2, 1},
		{"OK5xxOnce", wechatsim.Faults{ServerError: 1}, false, 0, 2, 2, 1},
		// WeChat read the body, then the connection dropped: it may have
		// stored the file, so the call is not sent again in process.
		{"ErrDroppedAfterTheBodyWasSent", wechatsim.Faults{Drop: 1}, false, -1, 1, 1, 1},
		{"OKTokenExpiredReopensBody", wechatsim.Faults{}, true, 0, 2, 2, 2},
		{"ErrBusyEveryTime", wechatsim.Faults{Busy: 10}, false, -1, 3, 3, 1},
		{"ErrQuotaNotRetried", wechatsim.Faults{Quota: 1}, false, 45009, 1, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := setup(t)
			ctx := context.Background()
			if _, err := fx.tokens.Token(ctx); err != nil { // warm the token cache
				t.Fatal(err)
			}
			if tt.expire {
				fx.sim.ExpireTokens()
			}
			fx.sim.SetFaults(tt.faults)
			var opens atomic.Int32
			up, err := fx.client.Upload(ctx, "image", countingBody(media.JPEG, data, &opens))
			if tt.wantCode == 0 {
				if err != nil {
					t.Fatalf("Upload: %v", err)
				}
				got, _ := fx.sim.Media(up.MediaID)
				if !bytes.Equal(got, data) {
					t.Errorf("WeChat stored %d bytes, want the %d sent", len(got), len(data))
				}
			} else {
				if failure.As(err) == nil || failure.CodeOf(err) != tt.wantCode {
					t.Fatalf("Upload error = %v, want errcode %d", err, tt.wantCode)
				}
			}
			st := fx.sim.Stats()
			if st.Upload != tt.wantUploads || opens.Load() != tt.wantOpens || st.StableToken != tt.wantTokens {
				t.Errorf("uploads %d, opens %d, stable_token %d; want %d, %d, %d",
					st.Upload, opens.Load(), st.StableToken, tt.wantUploads, tt.wantOpens, tt.wantTokens)
			}
		})
	}
}

func TestMalformedAnswers(t *testing.T) {
	fx := setup(t)
	ctx := context.Background()
	fx.sim.SetFaults(wechatsim.Faults{MalformedJSON: 1})
	_, err := fx.client.Upload(ctx, "image", wechat.BytesBody("media.jpg", "image/jpeg", mediatest.Sample(media.JPEG, 100)))
	if !errors.Is(err, wechat.ErrBadResponse) {
		t.Errorf("malformed JSON: error = %v, want ErrBadResponse", err)
	}
	// An error JSON labelled text/plain is still an error, not media.
	fx.sim.SetFaults(wechatsim.Faults{WrongContentType: 1})
	_, err = fx.client.Get(ctx, "no-such-media")
	if failure.As(err) == nil || failure.CodeOf(err) != 40007 {
		t.Errorf("error JSON as text/plain: error = %v, want errcode 40007", err)
	}
}

func TestIPNotAllowed(t *testing.T) {
	fx := setup(t)
	fx.sim.SetFaults(wechatsim.Faults{IPBlocked: true})
	_, err := fx.client.Upload(context.Background(), "image", wechat.BytesBody("media.jpg", "image/jpeg", mediatest.Sample(media.JPEG, 100)))
	if failure.As(err) == nil || failure.CodeOf(err) != failure.CodeIPNotAllowed {
		t.Fatalf("error = %v, want errcode 40164", err)
	}
}

func TestDeadlineBoundsRetriesAndSlowAnswers(t *testing.T) {
	fx := setup(t)
	fx.sim.SetFaults(wechatsim.Faults{Slow: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := fx.client.Upload(ctx, "image", wechat.BytesBody("media.jpg", "image/jpeg", mediatest.Sample(media.JPEG, 100)))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("returned after %v, want soon after the 500ms deadline", took)
	}
}

// The body goes out with an exact Content-Length, never chunked, as one
// multipart part named "media" with the ASCII file name given.
func TestUploadBodyIsExactMultipart(t *testing.T) {
	var gotLen int64
	var gotTE []string
	var gotName string
	var gotData []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotLen, gotTE = r.ContentLength, r.TransferEncoding
		f, h, err := r.FormFile("media")
		if err == nil {
			gotName = h.Filename
			gotData, _ = io.ReadAll(f)
		}
		io.WriteString(w, `{"type":"thumb","thumb_media_id":"T1","created_at":1700000000}`)
	}))
	defer srv.Close()
	c := wechat.New(wechat.Options{BaseURL: srv.URL, Tokens: staticToken("tok")})
	data := mediatest.Sample(media.JPEG, 3000)
	up, err := c.Upload(context.Background(), "thumb", wechat.BytesBody("media.jpg", "image/jpeg", data))
	if err != nil {
		t.Fatal(err)
	}
	if up.MediaID != "T1" {
		t.Errorf("media id = %q, want thumb_media_id T1", up.MediaID)
	}
	if up.CreatedAt.Unix() != 1700000000 {
		t.Errorf("created_at = %v", up.CreatedAt)
	}
	if gotLen <= int64(len(data)) || len(gotTE) != 0 {
		t.Errorf("Content-Length %d, Transfer-Encoding %v; want exact length, no chunking", gotLen, gotTE)
	}
	if gotName != "media.jpg" || !bytes.Equal(gotData, data) {
		t.Errorf("part %q with %d bytes, want media.jpg with %d", gotName, len(gotData), len(data))
	}
}

type staticToken string

func (s staticToken) Token(context.Context) (string, error) { return string(s), nil }
func (staticToken) Invalidate(context.Context, string)      {}

// No error carries the access token, even Go's *url.Error, which prints
// the whole URL.
func TestErrorsNeverCarryTheToken(t *testing.T) {
	const secretToken = "ACCESS-TOKEN-THAT-MUST-NOT-LEAK"
	broken := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("connection reset by peer")
	})}
	c := wechat.New(wechat.Options{BaseURL: "http://127.0.0.1:1", HTTPClient: broken, Tokens: staticToken(secretToken), Backoff: time.Millisecond})
	_, uerr := c.Upload(context.Background(), "image", wechat.BytesBody("media.jpg", "image/jpeg", mediatest.Sample(media.JPEG, 10)))
	_, gerr := c.Get(context.Background(), "MEDIA")
	for _, err := range []error{uerr, gerr} {
		if err == nil {
			t.Fatal("want an error from a broken connection")
		}
		if strings.Contains(err.Error(), secretToken) {
			t.Errorf("error leaks the token: %v", err)
		}
		if !strings.Contains(err.Error(), "REDACTED") {
			t.Errorf("error %q: want the URL kept with the token REDACTED", err)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRedact(t *testing.T) {
	got := wechat.Redact("https://api.weixin.qq.com/cgi-bin/media/get?access_token=SECRET&media_id=M")
	if strings.Contains(got, "SECRET") || !strings.Contains(got, "media_id=M") {
		t.Errorf("Redact = %q", got)
	}
}

func Example() {
	sim, base, stop, _ := wechatsim.Start(wechatsim.Options{AppID: appID, AppSecret: appSecret})
	defer stop()
	_ = sim
	tokens := token.New(token.Options{WeChat: wechat.New(wechat.Options{BaseURL: base}), Credentials: token.Static(appID, appSecret)})
	client := wechat.New(wechat.Options{BaseURL: base, Tokens: tokens})

	up, err := client.Upload(context.Background(), "image", wechat.BytesBody("media.jpg", "image/jpeg", mediatest.Sample(media.JPEG, 1024)))
	if err != nil {
		panic(err)
	}
	fmt.Println(up.Type, up.MediaID != "")
	// Output: image true
}

// A file name given as filename*= (RFC 5987) is decoded.
func TestGetFilenameStar(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Content-Disposition", `attachment; filename*=UTF-8''%E5%9B%BE%E7%89%87.png`)
		w.Write(mediatest.Sample(media.PNG, 100))
	}))
	defer srv.Close()
	c := wechat.New(wechat.Options{BaseURL: srv.URL, Tokens: staticToken("tok")})
	m, err := c.Get(context.Background(), "M")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Body.Close()
	if m.Filename != "图片.png" || m.ContentType != "image/png" || m.Size != 100 {
		t.Errorf("got %q %q %d, want 图片.png image/png 100", m.Filename, m.ContentType, m.Size)
	}
}

// A base URL that does not parse, or would send secrets in clear, is
// refused at once, without asking for a token.
func TestBadBaseURLRefusedBeforeAnyCall(t *testing.T) {
	const secretToken = "ACCESS-TOKEN-IN-A-BAD-URL"
	for _, base := range []string{"https://api.weixin.qq.com\t", "http://api.weixin.qq.com", "ftp://api.weixin.qq.com", "https://api.weixin.qq.com?x=1",
		// host.docker.internal is taken over http as that exact name, and no other.
		"http://host.docker.internal.example.com:3001", "http://xhost.docker.internal:3001", "http://gateway.docker.internal:3001",
		"http://HOST.DOCKER.INTERNAL:3001", "http://user@host.docker.internal:3001", "http://host.docker.internal:3001?x=1"} {
		var calls atomic.Int32
		c := wechat.New(wechat.Options{BaseURL: base, Tokens: countingToken{secretToken, &calls}, Backoff: time.Millisecond})
		_, err := c.Get(context.Background(), "MEDIA")
		if failure.KindOf(err) != failure.Config || strings.Contains(err.Error(), secretToken) {
			t.Errorf("base %q: error = %v, want a configuration failure without the token", base, err)
		}
		if n := calls.Load(); n != 0 {
			t.Errorf("base %q: token asked %d times, want 0", base, n)
		}
	}
	for _, ok := range []string{"https://api.weixin.qq.com", "http://127.0.0.1:3001", "http://localhost:3001", "http://[::1]:3001",
		"http://host.docker.internal:3001", "http://host.docker.internal"} {
		if err := wechat.CheckBaseURL(ok); err != nil {
			t.Errorf("CheckBaseURL(%q) = %v, want nil", ok, err)
		}
	}
}

type countingToken struct {
	tok   string
	calls *atomic.Int32
}

func (c countingToken) Token(context.Context) (string, error) { c.calls.Add(1); return c.tok, nil }
func (countingToken) Invalidate(context.Context, string)      {}
