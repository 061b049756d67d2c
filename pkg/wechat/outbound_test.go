package wechat_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

// A redirect from WeChat's host is never followed: it would resend the
// AppSecret (stable_token's body) or the access token to another host.
func TestRedirectsAreNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		io.Copy(io.Discard, r.Body)
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	c := wechat.New(wechat.Options{BaseURL: srv.URL, Tokens: staticToken("tok"), Backoff: time.Millisecond})
	if _, _, err := c.StableToken(context.Background(), appID, appSecret); failure.KindOf(err) != failure.WeChat {
		t.Errorf("StableToken = %v, want WeChat's failure", err)
	}
	if _, err := c.Upload(context.Background(), "image", wechat.BytesBody("media.jpg", "image/jpeg", mediatest.Sample(media.JPEG, 100))); err == nil {
		t.Error("Upload through a redirect succeeded")
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests, want 0", n)
	}
}

// stable_token is retried on -1 and 5xx like media calls, and a wrong
// AppSecret is the configuration's failure, never retried.
func TestStableTokenRetries(t *testing.T) {
	answers := []string{"503", `{"errcode":-1,"errmsg":"system error"}`, `{"access_token":"T","expires_in":7200}`}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := answers[min(int(calls.Add(1))-1, len(answers)-1)]
		if a == "503" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, a)
	}))
	defer srv.Close()
	c := wechat.New(wechat.Options{BaseURL: srv.URL, Backoff: time.Millisecond})
	tok, ttl, err := c.StableToken(context.Background(), appID, appSecret)
	if err != nil || tok != "T" || ttl != 7200*time.Second || calls.Load() != 3 {
		t.Fatalf("StableToken = %q, %v, %v after %d calls; want T, 2h, nil after 3", tok, ttl, err, calls.Load())
	}
	answers = []string{`{"errcode":40125,"errmsg":"invalid appsecret"}`}
	calls.Store(0)
	_, _, err = c.StableToken(context.Background(), appID, "wrong")
	if failure.KindOf(err) != failure.Config || failure.CodeOf(err) != failure.CodeInvalidAppSecret || !wechat.CredentialsRejected(err) || calls.Load() != 1 {
		t.Errorf("wrong secret: %v (kind %v) after %d calls; want a configuration failure 40125 after 1", err, failure.KindOf(err), calls.Load())
	}
}

// WeChat's 40164 message names the function's egress IP: callers get a
// message naming the template's setting instead.
func TestIPNotAllowedMessage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"errcode":40164,"errmsg":"invalid ip 203.0.113.9 ipv6 ::ffff:203.0.113.9, not in whitelist rid: 1"}`)
	}))
	defer srv.Close()
	c := wechat.New(wechat.Options{BaseURL: srv.URL, Tokens: staticToken("tok")})
	_, err := c.Get(context.Background(), "M")
	msg := failure.MessageOf(err)
	if failure.KindOf(err) != failure.Config || strings.Contains(msg, "203.0.113.9") || !strings.Contains(msg, "SubnetIds") {
		t.Errorf("40164: kind %v, message %q; want the configuration's, naming SubnetIds and not the IP", failure.KindOf(err), msg)
	}
}

// An answer lost after the whole body reached WeChat is not sent again in
// process (WeChat may have stored the file); a body the connection broke
// before it was written is.
func TestMaybeStoredIsNotRetried(t *testing.T) {
	var uploads atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uploads.Add(1)
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"type":"image","media_id":`) // cut short
	}))
	defer srv.Close()
	c := wechat.New(wechat.Options{BaseURL: srv.URL, Tokens: staticToken("tok"), Backoff: time.Millisecond})
	_, err := c.Upload(context.Background(), "image", wechat.BytesBody("media.jpg", "image/jpeg", mediatest.Sample(media.JPEG, 1000)))
	if !errors.Is(err, wechat.ErrMaybeStored) || failure.KindOf(err) != failure.WeChat || uploads.Load() != 1 {
		t.Errorf("garbled answer: %v after %d uploads; want ErrMaybeStored after 1", err, uploads.Load())
	}

	// A server that hangs up before reading: a 16 MB body cannot be written
	// whole, so the call is retried with the body opened again.
	var conns atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			buf := make([]byte, 1024)
			conn.Read(buf) // the request line and some headers, no more
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}
	}()
	var opens atomic.Int32
	c = wechat.New(wechat.Options{BaseURL: "http://" + ln.Addr().String(), Tokens: staticToken("tok"), Backoff: time.Millisecond})
	_, err = c.Upload(context.Background(), "image", countingBody(media.JPEG, mediatest.Sample(media.JPEG, 16<<20), &opens))
	if errors.Is(err, wechat.ErrMaybeStored) || failure.KindOf(err) != failure.WeChat || conns.Load() != 3 || opens.Load() != 3 {
		t.Errorf("connection refused mid-body: %v after %d connections and %d opens; want a WeChat failure after 3 of each", err, conns.Load(), opens.Load())
	}
}

// Whatever WeChat refuses in a token call is the deployment's to mend.
func TestTokenCallRefusalsAreTheConfigurations(t *testing.T) {
	for _, answer := range []string{`{"errcode":40243,"errmsg":"AppSecret frozen"}`, `{"errcode":41002,"errmsg":"appid missing"}`, `{"errcode":40164,"errmsg":"invalid ip 203.0.113.9"}`} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, answer) }))
		_, _, err := wechat.New(wechat.Options{BaseURL: srv.URL}).StableToken(context.Background(), appID, appSecret)
		srv.Close()
		if failure.KindOf(err) != failure.Config || strings.Contains(failure.MessageOf(err), "203.0.113.9") {
			t.Errorf("stable_token answered %s: %v (kind %v), want the configuration's failure, no IP", answer, err, failure.KindOf(err))
		}
	}
}

// A gateway error after the whole body went out is an answer lost: not
// resent in process. A 503 is a refusal to start: resent.
func TestGatewayErrorAfterTheBody(t *testing.T) {
	for _, tt := range []struct {
		status  int
		uploads int32
		maybe   bool
	}{{http.StatusGatewayTimeout, 1, true}, {http.StatusBadGateway, 1, true}, {http.StatusServiceUnavailable, 3, false}} {
		var uploads atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			uploads.Add(1)
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(tt.status)
		}))
		c := wechat.New(wechat.Options{BaseURL: srv.URL, Tokens: staticToken("tok"), Backoff: time.Millisecond})
		_, err := c.Upload(context.Background(), "image", wechat.BytesBody("media.jpg", "image/jpeg", mediatest.Sample(media.JPEG, 1000)))
		srv.Close()
		if errors.Is(err, wechat.ErrMaybeStored) != tt.maybe || uploads.Load() != tt.uploads {
			t.Errorf("HTTP %d after the body: %v after %d uploads; want maybe-stored %v after %d", tt.status, err, uploads.Load(), tt.maybe, tt.uploads)
		}
	}
}

// A media call's refusal is final only when WeChat documents it as the
// file's or the parameter's (40005 invalid file type): a code it does not
// document there (44002, say, from a faulty WeChat or a proxy) is
// WeChat's own, and the object is tried again rather than refused for good.
func TestOnlyDocumentedRefusalsAreFinal(t *testing.T) {
	for answer, final := range map[string]bool{`{"errcode":40005,"errmsg":"invalid file type"}`: true, `{"errcode":44002,"errmsg":"empty post data"}`: false} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, answer) }))
		c := wechat.New(wechat.Options{BaseURL: srv.URL, Tokens: staticToken("tok"), Backoff: time.Millisecond})
		_, err := c.Upload(context.Background(), "image", wechat.BytesBody("media.jpg", "image/jpeg", mediatest.Sample(media.JPEG, 100)))
		srv.Close()
		if err == nil || failure.Final(err) != final {
			t.Errorf("upload answered %s: %v (final %v), want final %v", answer, err, failure.Final(err), final)
		}
	}
}
