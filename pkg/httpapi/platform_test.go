package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/httpapi"
	"github.com/wxmedia/wxmedia/pkg/platform"
	"github.com/wxmedia/wxmedia/pkg/routes"
	"github.com/wxmedia/wxmedia/pkg/token"
	"github.com/wxmedia/wxmedia/pkg/tokentable"
	"github.com/wxmedia/wxmedia/pkg/wxcrypt"
)

// pushes answers every push with err, noting the body it was handed.
type pushes struct {
	err  error
	body []byte
}

func (p *pushes) Receive(_ context.Context, _ url.Values, body []byte) (platform.Push, error) {
	p.body = body
	return platform.Push{InfoType: "component_verify_ticket"}, p.err
}

var _ httpapi.Pushes = (*pushes)(nil)

// push posts body to the push route and answers the response.
func push(t *testing.T, h http.Handler, method, body string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, routes.PathPlatformEvents+"?timestamp=1&nonce=n&encrypt_type=aes&msg_signature=s",
		strings.NewReader(body)))
	return rec
}

// WeChat reads "success" and pushes again after anything else: each
// refusal is answered with the status that says why.
func TestPlatformEventsStatus(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
	}{
		{"OK", nil, http.StatusOK},
		{"Seen", fmt.Errorf("push: %w", platform.ErrSeen), http.StatusOK},
		{"ErrSignature", wxcrypt.ErrSignature, http.StatusUnauthorized},
		{"ErrCrypterAppID", wxcrypt.ErrAppID, http.StatusForbidden},
		{"ErrAppID", platform.ErrAppID, http.StatusForbidden},
		{"ErrStale", fmt.Errorf("%w: 6m0s off", platform.ErrStale), http.StatusForbidden},
		{"ErrCrypterMalformed", wxcrypt.ErrMalformed, http.StatusBadRequest},
		{"ErrMalformed", fmt.Errorf("%w: no ComponentVerifyTicket", platform.ErrMalformed), http.StatusBadRequest},
		{"ErrInProgress", platform.ErrInProgress, http.StatusServiceUnavailable},
		{"Caller", failure.New(failure.Caller, failure.CodeInvalidAppID, "invalid appid"), http.StatusBadRequest},
		{"Config", failure.New(failure.Config, failure.CodeSystem, "system error: no component"), http.StatusNotFound},
		{"DynamoDB", failure.New(failure.DynamoDB, failure.CodeSystem, "system error"), http.StatusServiceUnavailable},
		{"Unclassified", errors.New("boom"), http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := push(t, httpapi.PlatformEvents(&pushes{err: tt.err}, slog.New(slog.DiscardHandler)), http.MethodPost, "<xml/>")
			want := "fail\n"
			if tt.status == http.StatusOK {
				want = "success"
			}
			if rec.Code != tt.status || rec.Body.String() != want {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tt.status, want)
			}
		})
	}
	t.Run("ErrMethod", func(t *testing.T) {
		rec := push(t, httpapi.PlatformEvents(&pushes{}, slog.New(slog.DiscardHandler)), http.MethodGet, "")
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != http.MethodPost {
			t.Errorf("got %d, Allow %q; want 405, Allow POST", rec.Code, rec.Header().Get("Allow"))
		}
	})
	t.Run("BodyBounded", func(t *testing.T) {
		p := &pushes{}
		push(t, httpapi.PlatformEvents(p, slog.New(slog.DiscardHandler)), http.MethodPost, strings.Repeat("x", 2*platform.MaxPush))
		if len(p.body) != platform.MaxPush+1 {
			t.Errorf("the platform was handed %d bytes, want %d: enough to refuse it, no more", len(p.body), platform.MaxPush+1)
		}
	})
}

type componentSecret struct{ s token.Secret }

func (c componentSecret) Secret(context.Context) (token.Secret, error) { return c.s, nil }

// The route over a real platform: a ticket pushed is acted on, the same
// push tampered with is refused, and an oversized one is malformed.
func TestPlatformEvents(t *testing.T) {
	const appID, aesKey = "wx-test-component", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	now := time.Now()
	p := platform.New(platform.Options{Store: tokentable.NewMemory(time.Now), Logger: slog.New(slog.DiscardHandler),
		Secrets: componentSecret{token.Secret{Component: token.NewComponent(appID, "component-secret", "component-token", aesKey)}}})
	h := httpapi.PlatformEvents(p, slog.New(slog.DiscardHandler))
	c, _ := wxcrypt.New("component-token", aesKey, appID)
	e, err := c.Seal([]byte("<xml><AppId>"+appID+"</AppId><CreateTime>"+strconv.FormatInt(now.Unix(), 10)+"</CreateTime><InfoType>component_verify_ticket</InfoType>"+
		"<ComponentVerifyTicket>T-1</ComponentVerifyTicket></xml>"), strconv.FormatInt(now.Unix(), 10), "n0nce")
	if err != nil {
		t.Fatal(err)
	}
	post := func(e wxcrypt.Envelope) (int, string) {
		q := url.Values{"timestamp": {e.Timestamp}, "nonce": {e.Nonce}, "msg_signature": {e.Signature}, "encrypt_type": {"aes"}}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, routes.PathPlatformEvents+"?"+q.Encode(), strings.NewReader(string(e.Body))))
		body, _ := io.ReadAll(rec.Body)
		return rec.Code, string(body)
	}
	tampered := e
	tampered.Nonce = "other-nonce"
	if status, body := post(tampered); status != http.StatusUnauthorized || body == "success" {
		t.Errorf("tampered: got %d %q, want 401", status, body)
	}
	big := e
	big.Body = []byte(strings.Repeat("x", platform.MaxPush+1))
	if status, body := post(big); status != http.StatusBadRequest || body == "success" {
		t.Errorf("oversized: got %d %q, want 400", status, body)
	}
	if status, body := post(e); status != http.StatusOK || body != "success" {
		t.Errorf("got %d %q, want 200 success", status, body)
	}
}
