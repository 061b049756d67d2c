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

	"github.com/wxmedia/wxmedia/pkg/tokenstore"
	"github.com/wxmedia/wxmedia/pkg/wxcrypt"
)

// post sends a push to the events route and answers its status and body.
func post(t *testing.T, h http.Handler, e wxcrypt.Envelope, encryptType string) (int, string) {
	t.Helper()
	q := url.Values{"timestamp": {e.Timestamp}, "nonce": {e.Nonce}, "msg_signature": {e.Signature}, "encrypt_type": {encryptType}}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, EventsPath+"?"+q.Encode(), strings.NewReader(string(e.Body))))
	return rec.Code, rec.Body.String()
}

// A push is acted on only if its msg_signature is the platform's, it is
// for the platform's AppID and its timestamp is recent: a tampered one is
// refused and changes nothing.
func TestEventsRefuseTamperedPushes(t *testing.T) {
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	store := &countingStore{Store: tokenstore.NewMemory(clock)}
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
	// a newer ticket came. Answered, and nothing changes.
	t.Run("Replayed", func(t *testing.T) {
		if err := store.Put(context.Background(), tokenstore.NewRecord(ticketKey(componentAppID), "T-2", now.Add(TicketLifetime))); err != nil {
			t.Fatal(err)
		}
		writes := store.writes
		if status, body := post(t, h, good, "aes"); status != 200 || body != "success" {
			t.Fatalf("got %d %q, want 200 success", status, body)
		}
		if r, _, _ := store.Get(context.Background(), ticketKey(componentAppID)); r.Value() != "T-2" || store.writes != writes {
			t.Errorf("after the replay: ticket %q, %d writes; want T-2 kept, none", r.Value(), store.writes-writes)
		}
	})
}
