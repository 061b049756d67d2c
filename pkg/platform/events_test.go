package platform

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/pkg/routes"
	"github.com/wxmedia/wxmedia/pkg/tokentable"
	"github.com/wxmedia/wxmedia/pkg/wxcrypt"
)

// post sends a push to the events route and answers its status and body.
func post(t *testing.T, h http.Handler, e wxcrypt.Envelope, encryptType string) (int, string) {
	t.Helper()
	q := url.Values{"timestamp": {e.Timestamp}, "nonce": {e.Nonce}, "msg_signature": {e.Signature}, "encrypt_type": {encryptType}}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, routes.PathPlatformEvents+"?"+q.Encode(), strings.NewReader(string(e.Body))))
	return rec.Code, rec.Body.String()
}

// A push is acted on only if its msg_signature is the platform's, it is
// for the platform's AppID and its timestamp is recent: a tampered one is
// refused and changes nothing.
func TestEventsRefuseTamperedPushes(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	store := &countingStore{Store: tokentable.NewMemory(clock)}
	p := New(Options{Store: store, WeChat: nil, Secrets: platformSecret, Now: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	h := p.Events()
	ours, _ := wxcrypt.New("component-token", aesKey, componentAppID)
	other, _ := wxcrypt.New("component-token", aesKey, "wx-other-component")
	forged, _ := wxcrypt.New("not-the-token", aesKey, componentAppID)
	ticket := func(app string) []byte {
		return []byte("<xml><AppId>" + app + "</AppId><InfoType>component_verify_ticket</InfoType><ComponentVerifyTicket>T-1</ComponentVerifyTicket></xml>")
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	seal := func(c *wxcrypt.Crypter, msg []byte, ts string) wxcrypt.Envelope {
		e, err := c.Seal(msg, ts, "n0nce")
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	good := seal(ours, ticket(componentAppID), ts)
	tampered := good
	tampered.Nonce = "other-nonce"
	tests := []struct {
		name   string
		env    wxcrypt.Envelope
		enc    string
		status int
	}{
		{"ErrBadSignature", tampered, "aes", http.StatusUnauthorized},
		{"ErrForgedWithAnotherToken", seal(forged, ticket(componentAppID), ts), "aes", http.StatusUnauthorized},
		{"ErrOtherAppID", seal(other, ticket("wx-other-component"), ts), "aes", http.StatusForbidden},
		{"ErrOtherAppIDInside", seal(ours, ticket("wx-other-component"), ts), "aes", http.StatusForbidden},
		{"ErrStale", seal(ours, ticket(componentAppID), strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10)), "aes", http.StatusForbidden},
		{"ErrFuture", seal(ours, ticket(componentAppID), strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10)), "aes", http.StatusForbidden},
		{"ErrNotEncrypted", good, "", http.StatusBadRequest},
		{"ErrNotXML", wxcrypt.Envelope{Body: []byte("{}"), Timestamp: ts, Nonce: "n", Signature: "x"}, "aes", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, h, tt.env, tt.enc)
			if status != tt.status || body == "success" {
				t.Errorf("got %d %q, want %d", status, body, tt.status)
			}
			if store.writes != 0 {
				t.Errorf("the store was written %d times", store.writes)
			}
		})
	}
	t.Run("OK", func(t *testing.T) {
		if status, body := post(t, h, good, "aes"); status != 200 || body != "success" {
			t.Fatalf("got %d %q, want 200 success", status, body)
		}
		r, ok, _ := store.Get(context.Background(), ticketKey(componentAppID))
		if !ok || r.Value() != "T-1" {
			t.Errorf("ticket stored: %v %v, want T-1", ok, r)
		}
	})
	// The same push again, within its timestamp's window: WeChat's retry
	// of a push whose answer was lost, or someone replaying a copy after
	// the state changed. Answered, and nothing changes.
	unauthorized := seal(ours, []byte("<xml><AppId>"+componentAppID+"</AppId><InfoType>unauthorized</InfoType><AuthorizerAppid>"+
		authorizer+"</AuthorizerAppid></xml>"), ts)
	for _, tc := range []struct {
		name  string
		push  wxcrypt.Envelope
		key   string // what the push changes, set anew after it
		value string // "" removed
	}{
		{"ReplayedTicket", seal(ours, ticket(componentAppID), ts), ticketKey(componentAppID), "T-1"},
		// The account withdrew its authorization, then gave it again:
		// the old withdrawal replayed leaves the new authorization be.
		{"ReplayedUnauthorized", unauthorized, refreshKey(componentAppID, authorizer), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if err := store.Put(ctx, tokentable.NewRecord(tc.key, "before", time.Time{})); err != nil {
				t.Fatal(err)
			}
			if status, body := post(t, h, tc.push, "aes"); status != 200 || body != "success" {
				t.Fatalf("first delivery: got %d %q, want 200 success", status, body)
			}
			if r, ok, _ := store.Get(ctx, tc.key); r.Value() != tc.value || ok != (tc.value != "") {
				t.Fatalf("after the push: %q (%v), want %q", r.Value(), ok, tc.value)
			}
			if err := store.Put(ctx, tokentable.NewRecord(tc.key, "newer", time.Time{})); err != nil {
				t.Fatal(err)
			}
			writes := store.writes
			upper := tc.push
			upper.Signature = strings.ToUpper(upper.Signature) // checked case-blind: the same push
			for _, again := range []wxcrypt.Envelope{tc.push, upper} {
				if status, body := post(t, h, again, "aes"); status != 200 || body != "success" {
					t.Fatalf("again: got %d %q, want 200 success", status, body)
				}
			}
			if r, _, _ := store.Get(ctx, tc.key); r.Value() != "newer" || store.writes != writes {
				t.Errorf("after the replays: %q, %d writes; want the newer value kept, no write", r.Value(), store.writes-writes)
			}
		})
	}
	// A push another delivery is acting on (its lease held): refused for
	// WeChat to push it again, and nothing changes.
	t.Run("InProgress", func(t *testing.T) {
		ctx := context.Background()
		push := seal(ours, ticket(componentAppID), strconv.FormatInt(now.Unix()-1, 10))
		if got, err := store.Lease(ctx, pushKey(componentAppID, push.Signature), "another container", now, now.Add(time.Minute)); err != nil || !got {
			t.Fatalf("lease: %v %v", got, err)
		}
		if err := store.Put(ctx, tokentable.NewRecord(ticketKey(componentAppID), "current", time.Time{})); err != nil {
			t.Fatal(err)
		}
		status, body := post(t, h, push, "aes")
		if r, _, _ := store.Get(ctx, ticketKey(componentAppID)); status != http.StatusServiceUnavailable || body == "success" || r.Value() != "current" {
			t.Errorf("got %d %q, ticket %q; want 503, the ticket unchanged", status, body, r.Value())
		}
	})
}
