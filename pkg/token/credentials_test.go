package token_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"

	"github.com/wxmedia/wxmedia/internal/wechatsim"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/token"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

const canary = "CANARY-appsecret-7f3a9"

// The credentials are printed every way Go prints a value; the AppSecret
// never shows.
func TestCredentialsNeverPrintTheSecret(t *testing.T) {
	c := token.NewCredentials("wx-app", canary)
	if c.AppSecret() != canary {
		t.Fatal("AppSecret() does not give the secret back")
	}
	type holder struct {
		Exported   token.Credentials
		unexported token.Credentials
		Ptr        *token.Credentials
	}
	h := holder{c, c, &c}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
		out = append(out, fmt.Sprintf(verb, c), fmt.Sprintf(verb, &c), fmt.Sprintf(verb, h), fmt.Sprintf(verb, &h), fmt.Sprintf(verb, []any{c}))
	}
	out = append(out, fmt.Sprint(c), fmt.Sprintln(c, &c), c.String())
	for _, v := range []any{c, &c, h, map[string]any{"creds": c}} {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(data))
	}
	wrapped := fmt.Errorf("token for %v: %w", c, errors.New("boom"))
	out = append(out, wrapped.Error(), fmt.Sprintf("%+v", wrapped))
	for _, newHandler := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(newHandler(&buf))
		log.Info("creds", "c", c, "p", &c, "h", h, "any", any(c))
		log.With("c", c).Info("with")
		log.Info("group", slog.Group("g", "c", c))
		out = append(out, buf.String())
	}
	for _, s := range out {
		if strings.Contains(s, canary) || strings.Contains(s, fmt.Sprintf("%x", canary)) || strings.Contains(s, fmt.Sprintf("%X", canary)) {
			t.Errorf("the secret shows in %q", s)
		}
	}
	if s := fmt.Sprintf("%v", c); !strings.Contains(s, "wx-app") || !strings.Contains(s, "REDACTED") {
		t.Errorf("%%v = %q, want the appid and REDACTED", s)
	}
}

// A failure to read the secret is the configuration's when the operator can
// mend it, Secrets Manager's otherwise, and is answered again for a few
// seconds without another read.
func TestSecretStoreFailures(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tests := []struct {
		name  string
		value *string
		err   error
		want  failure.Kind
	}{
		{"AccessDenied", nil, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}, failure.Config},
		{"NoSuchSecret", nil, &smithy.GenericAPIError{Code: "ResourceNotFoundException"}, failure.Config},
		{"KMS", nil, &smithy.GenericAPIError{Code: "DecryptionFailure"}, failure.Config},
		{"Throttled", nil, &smithy.GenericAPIError{Code: "ThrottlingException"}, failure.SecretsManager},
		{"Network", nil, errors.New("dial tcp: connection refused"), failure.SecretsManager},
		{"NotJSON", aws.String(canary), nil, failure.Config},
		{"MissingField", aws.String(`{"appid":"wx1"}`), nil, failure.Config},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secrets := &fakeSecrets{value: tt.value, err: tt.err}
			store := token.NewSecretStore(secrets, "wxmedia/app", token.StoreOptions{Now: clock, FailureTTL: 5 * time.Second})
			for range 10 {
				_, err := store.Credentials(context.Background())
				if failure.KindOf(err) != tt.want || strings.Contains(err.Error(), canary) {
					t.Fatalf("error %v (kind %v), want kind %v without the value", err, failure.KindOf(err), tt.want)
				}
				if msg := failure.MessageOf(err); strings.Contains(msg, "wxmedia/app") {
					t.Errorf("caller's message %q names the secret", msg)
				}
			}
			if secrets.calls != 1 {
				t.Errorf("GetSecretValue calls in a burst = %d, want 1", secrets.calls)
			}
			now = now.Add(6 * time.Second)
			store.Credentials(context.Background())
			if secrets.calls != 2 {
				t.Errorf("after the failure TTL: calls = %d, want 2", secrets.calls)
			}
		})
	}
}

// A wrong AppSecret costs one secret re-read and two stable_token calls
// for a whole burst, not for each caller; once fixed, it is picked up.
func TestWrongSecretBurst(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	clock := func() time.Time { return time.Unix(now.Load(), 0) }
	sim, base := wechatsim.NewTestServer(t, wechatsim.Options{AppID: appID, AppSecret: appSecret, Now: clock})
	secrets := &fakeSecrets{}
	secrets.set(secretJSON(appID, "the-wrong-one"))
	store := token.NewSecretStore(secrets, "wxmedia/app", token.StoreOptions{Now: clock})
	src := token.New(token.Options{WeChat: wechat.New(wechat.Options{BaseURL: base}), Credentials: store, Now: clock})
	for range 50 {
		if _, err := src.Token(context.Background()); failure.KindOf(err) != failure.Config {
			t.Fatalf("Token = %v, want the configuration's failure", err)
		}
	}
	if secrets.calls != 2 || sim.Stats().StableToken != 2 {
		t.Errorf("50 callers: %d secret reads and %d stable_token calls; want 2 and 2", secrets.calls, sim.Stats().StableToken)
	}
	secrets.set(secretJSON(appID, appSecret)) // the operator fixes it
	now.Add(6)
	if _, err := src.Token(context.Background()); err != nil {
		t.Fatalf("after the fix: %v", err)
	}
}
