package platform

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/pkg/tokentable"
	"github.com/wxmedia/wxmedia/pkg/wxcrypt"
)

// receive hands p a push as WeChat posts it: its query and its body.
func receive(t *testing.T, p *Platform, e wxcrypt.Envelope, encryptType string) (Push, error) {
	t.Helper()
	q := url.Values{"timestamp": {e.Timestamp}, "nonce": {e.Nonce}, "msg_signature": {e.Signature}, "encrypt_type": {encryptType}}
	return p.Receive(context.Background(), q, e.Body)
}

// pushFixture is a platform at a fixed time, whose store counts its
// writes, and the crypter that seals the platform's pushes.
type pushFixture struct {
	now   time.Time
	ts    string // now, as a push's timestamp
	store *countingStore
	p     *Platform
	ours  *wxcrypt.Crypter
}

func newPushFixture(t *testing.T) *pushFixture {
	t.Helper()
	now := pushedAt
	clock := func() time.Time { return now }
	store := &countingStore{Store: tokentable.NewMemory(clock)}
	ours, _ := wxcrypt.New("component-token", aesKey, componentAppID)
	return &pushFixture{now: now, ts: strconv.FormatInt(now.Unix(), 10), store: store, ours: ours,
		p: New(Options{Store: store, WeChat: nil, Secrets: platformSecret, Now: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})}
}

// seal is msg pushed by c at timestamp ts.
func seal(t *testing.T, c *wxcrypt.Crypter, msg []byte, ts string) wxcrypt.Envelope {
	t.Helper()
	e, err := c.Seal(msg, ts, "n0nce")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// pushedAt is when the fixtures' pushes were created.
var pushedAt = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

// created is a push's CreateTime element for t.
func created(t time.Time) string {
	return "<CreateTime>" + strconv.FormatInt(t.Unix(), 10) + "</CreateTime>"
}

// ticket is a component_verify_ticket push for platform app.
func ticket(app string) []byte {
	return []byte("<xml><AppId>" + app + "</AppId>" + created(pushedAt) + "<InfoType>component_verify_ticket</InfoType><ComponentVerifyTicket>T-1</ComponentVerifyTicket></xml>")
}

// A push is acted on only if its msg_signature is the platform's, it is
// for the platform's AppID and its timestamp is recent: a tampered one is
// refused with the error that says why (httpapi's push route answers
// each with its status) and changes nothing.
func TestReceiveRefusesTamperedPushes(t *testing.T) {
	f := newPushFixture(t)
	other, _ := wxcrypt.New("component-token", aesKey, "wx-other-component")
	forged, _ := wxcrypt.New("not-the-token", aesKey, componentAppID)
	ts, ours := f.ts, f.ours
	good := seal(t, ours, ticket(componentAppID), ts)
	tampered := good
	tampered.Nonce = "other-nonce"
	tests := []struct {
		name string
		env  wxcrypt.Envelope
		enc  string
		want error
	}{
		{"ErrBadSignature", tampered, "aes", wxcrypt.ErrSignature},
		{"ErrForgedWithAnotherToken", seal(t, forged, ticket(componentAppID), ts), "aes", wxcrypt.ErrSignature},
		{"ErrOtherAppID", seal(t, other, ticket("wx-other-component"), ts), "aes", wxcrypt.ErrAppID},
		{"ErrOtherAppIDInside", seal(t, ours, ticket("wx-other-component"), ts), "aes", ErrAppID},
		{"ErrStale", seal(t, ours, ticket(componentAppID), strconv.FormatInt(f.now.Add(-6*time.Minute).Unix(), 10)), "aes", ErrStale},
		{"ErrFuture", seal(t, ours, ticket(componentAppID), strconv.FormatInt(f.now.Add(6*time.Minute).Unix(), 10)), "aes", ErrStale},
		{"ErrNotEncrypted", good, "", ErrMalformed},
		{"ErrNotXML", wxcrypt.Envelope{Body: []byte("{}"), Timestamp: ts, Nonce: "n", Signature: "x"}, "aes", wxcrypt.ErrMalformed},
		{"ErrTooLarge", wxcrypt.Envelope{Body: make([]byte, MaxPush+1), Timestamp: ts, Nonce: "n", Signature: "x"}, "aes", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := receive(t, f.p, tt.env, tt.enc); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			if f.store.writes != 0 {
				t.Errorf("the store was written %d times", f.store.writes)
			}
		})
	}
	t.Run("OK", func(t *testing.T) {
		if _, err := receive(t, f.p, good, "aes"); err != nil {
			t.Fatalf("got %v, want the push acted on", err)
		}
		r, ok, _ := f.store.Get(context.Background(), ticketKey(componentAppID))
		if !ok || r.Value() != "T-1" {
			t.Errorf("ticket stored: %v %v, want T-1", ok, r)
		}
	})
}

// The same push again, within its timestamp's window: WeChat's retry of a
// push whose answer was lost, or someone replaying a copy after the state
// changed. Answered (ErrSeen: "success"), and nothing changes.
func TestReceiveReplayedPush(t *testing.T) {
	f := newPushFixture(t)
	unauthorized := seal(t, f.ours, unauthorizedPush(pushedAt), f.ts)
	for _, tc := range []struct {
		name  string
		push  wxcrypt.Envelope
		key   string // what the push changes, set anew after it
		value string // "" removed
	}{
		{"ReplayedTicket", seal(t, f.ours, ticket(componentAppID), f.ts), ticketKey(componentAppID), "T-1"},
		// The account withdrew its authorization, then gave it again:
		// the old withdrawal replayed leaves the new authorization be.
		{"ReplayedUnauthorized", unauthorized, refreshKey(componentAppID, authorizer), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, store := context.Background(), f.store
			if err := store.Put(ctx, tokentable.NewRecord(tc.key, "before", time.Time{})); err != nil {
				t.Fatal(err)
			}
			if _, err := receive(t, f.p, tc.push, "aes"); err != nil {
				t.Fatalf("first delivery: got %v, want the push acted on", err)
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
				if _, err := receive(t, f.p, again, "aes"); !errors.Is(err, ErrSeen) {
					t.Fatalf("again: got %v, want ErrSeen (answered success)", err)
				}
			}
			if r, _, _ := store.Get(ctx, tc.key); r.Value() != "newer" || store.writes != writes {
				t.Errorf("after the replays: %q, %d writes; want the newer value kept, no write", r.Value(), store.writes-writes)
			}
		})
	}
}

// unauthorizedPush is authorizer's withdrawal, created at t.
func unauthorizedPush(t time.Time) []byte {
	return []byte("<xml><AppId>" + componentAppID + "</AppId>" + created(t) + "<InfoType>unauthorized</InfoType><AuthorizerAppid>" +
		authorizer + "</AuthorizerAppid></xml>")
}

// msg_signature is a hash of the sorted (token, timestamp, nonce,
// ciphertext): a captured push with its timestamp and nonce swapped still
// verifies. A withdrawal whose nonce reads as a Unix time three days on,
// replayed then with the two swapped after the account authorised the
// platform again, is refused as stale by its signed CreateTime and
// leaves the new authorization's refresh token be.
func TestReceiveSwappedTimestampAndNonce(t *testing.T) {
	now := pushedAt
	clock := func() time.Time { return now }
	store := &countingStore{Store: tokentable.NewMemory(clock)}
	p := New(Options{Store: store, Secrets: platformSecret, Now: clock, Logger: slog.New(slog.DiscardHandler)})
	ours, _ := wxcrypt.New("component-token", aesKey, componentAppID)
	later := pushedAt.Add(72 * time.Hour)
	captured, err := ours.Seal(unauthorizedPush(pushedAt), strconv.FormatInt(pushedAt.Unix(), 10), strconv.FormatInt(later.Unix(), 10))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store.Put(ctx, tokentable.NewRecord(refreshKey(componentAppID, authorizer), "first", time.Time{}))
	if _, err := receive(t, p, captured, "aes"); err != nil {
		t.Fatalf("the withdrawal: %v, want it acted on", err)
	}
	now = later
	store.Put(ctx, tokentable.NewRecord(refreshKey(componentAppID, authorizer), "newer", time.Time{}))
	writes := store.writes
	swapped := captured
	swapped.Timestamp, swapped.Nonce = captured.Nonce, captured.Timestamp
	if _, err := receive(t, p, swapped, "aes"); !errors.Is(err, ErrStale) {
		t.Errorf("the replay with timestamp and nonce swapped: %v, want ErrStale", err)
	}
	if r, ok, _ := store.Get(ctx, refreshKey(componentAppID, authorizer)); !ok || r.Value() != "newer" || store.writes != writes {
		t.Errorf("after the replay: %q (%v), %d writes; want the newer refresh token kept, no write", r.Value(), ok, store.writes-writes)
	}
	// A timestamp that disagrees with CreateTime by more than the skew.
	now = pushedAt
	off, _ := ours.Seal(unauthorizedPush(pushedAt), strconv.FormatInt(pushedAt.Add(6*time.Minute).Unix(), 10), "n")
	if _, err := receive(t, p, off, "aes"); !errors.Is(err, ErrStale) {
		t.Errorf("timestamp 6 minutes off CreateTime: %v, want ErrStale", err)
	}
}

// A push another delivery is acting on (its lease held): refused
// (ErrInProgress: 503) for WeChat to push it again, and nothing changes.
func TestReceiveInProgress(t *testing.T) {
	f := newPushFixture(t)
	ctx := context.Background()
	push := seal(t, f.ours, ticket(componentAppID), strconv.FormatInt(f.now.Unix()-1, 10))
	if got, err := f.store.Lease(ctx, pushKey(componentAppID, push.Signature), "another container", f.now, f.now.Add(time.Minute)); err != nil || !got {
		t.Fatalf("lease: %v %v", got, err)
	}
	if err := f.store.Put(ctx, tokentable.NewRecord(ticketKey(componentAppID), "current", time.Time{})); err != nil {
		t.Fatal(err)
	}
	_, err := receive(t, f.p, push, "aes")
	if r, _, _ := f.store.Get(ctx, ticketKey(componentAppID)); !errors.Is(err, ErrInProgress) || r.Value() != "current" {
		t.Errorf("got %v, ticket %q; want ErrInProgress (answered 503), the ticket unchanged", err, r.Value())
	}
}

// An authorization withdrawn through one container (its unauthorized
// push) stops resolving in every other within Options.Recheck (1
// minute), however long the token it kept for the account would last.
func TestUnauthorizedReachesEveryContainer(t *testing.T) {
	now := pushedAt
	clock := func() time.Time { return now }
	store := tokentable.NewMemory(clock)
	ctx := context.Background()
	handler := New(Options{Store: store, Secrets: platformSecret, Now: clock, Logger: slog.New(slog.DiscardHandler)})
	other := New(Options{Store: store, Secrets: platformSecret, Now: clock, Logger: slog.New(slog.DiscardHandler)})
	if err := handler.Register(ctx, authorizer, "refresh-1"); err != nil {
		t.Fatal(err)
	}
	// The other container resolves the account and keeps its token, good
	// for two hours.
	other.keep(tokentable.NewRecord(authorizerKey(componentAppID, authorizer), "token-1", now.Add(2*time.Hour)))
	if ok, err := other.Authorized(ctx, authorizer); !ok || err != nil {
		t.Fatalf("before: %v %v, want authorised", ok, err)
	}
	ours, _ := wxcrypt.New("component-token", aesKey, componentAppID)
	if _, err := receive(t, handler, seal(t, ours, unauthorizedPush(now), strconv.FormatInt(now.Unix(), 10)), "aes"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := handler.Authorized(ctx, authorizer); ok {
		t.Error("the container that handled the push still resolves the account")
	}
	now = now.Add(time.Minute)
	if ok, err := other.Authorized(ctx, authorizer); ok || err != nil {
		t.Errorf("another container, a minute on: %v %v, want it no longer authorised", ok, err)
	}
	if _, ok := other.cached(authorizerKey(componentAppID, authorizer)); ok {
		t.Error("another container still holds the account's token")
	}
}
