package token_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/wxmedia/wxmedia/internal/wechatsim"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/token"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

const appID, appSecret = "wx-token-test", "app-secret-that-must-not-leak"

// fakeSecrets is an in-process Secrets Manager (the moto-backed test is in
// package integration).
type fakeSecrets struct {
	mu    sync.Mutex
	value *string
	err   error
	calls int
}

var _ token.SecretsAPI = (*fakeSecrets)(nil)

func (f *fakeSecrets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: f.value}, nil
}

func (f *fakeSecrets) set(v string) {
	f.mu.Lock()
	f.value = &v
	f.mu.Unlock()
}

func secretJSON(id, secret string) string {
	return fmt.Sprintf(`{"appid":%q,"appsecret":%q}`, id, secret)
}

func TestConcurrentCallersShareOneFetch(t *testing.T) {
	sim, base := wechatsim.NewTestServer(t, wechatsim.Options{AppID: appID, AppSecret: appSecret})
	src := token.New(token.Options{WeChat: wechat.New(wechat.Options{BaseURL: base}), Credentials: token.Static(appID, appSecret)})
	const callers = 200
	tokens := make([]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			tokens[i], errs[i] = src.Token(context.Background())
		}()
	}
	close(start)
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || tokens[i] != tokens[0] || tokens[0] == "" {
			t.Fatalf("caller %d got a token of %d bytes (the same as caller 0's: %v), error %v; want caller 0's", i, len(tokens[i]), tokens[i] == tokens[0], errs[i])
		}
	}
	if got := sim.Stats().StableToken; got != 1 {
		t.Errorf("stable_token calls = %d, want 1", got)
	}
	if got := sim.Stats().Token; got != 0 {
		t.Errorf("/cgi-bin/token calls = %d, want 0 (stable_token only)", got)
	}
}

func TestCachedUntilMarginBeforeExpiry(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	clock := func() time.Time { return time.Unix(now.Load(), 0) }
	sim, base := wechatsim.NewTestServer(t, wechatsim.Options{AppID: appID, AppSecret: appSecret, Now: clock})
	src := token.New(token.Options{WeChat: wechat.New(wechat.Options{BaseURL: base}), Now: clock, Credentials: token.Static(appID, appSecret)})
	ctx := context.Background()
	first, err := src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now.Add(7200 - 301) // just inside expires_in - 300 s
	if again, _ := src.Token(ctx); again != first || sim.Stats().StableToken != 1 {
		t.Fatalf("token refetched %d times before the margin", sim.Stats().StableToken)
	}
	now.Add(2) // past expires_in - 300 s
	if _, err := src.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sim.Stats().StableToken; got != 2 {
		t.Errorf("stable_token calls = %d, want 2 (refetched after expires_in - 300 s)", got)
	}
}

func TestInvalidateOnlyTheFailingToken(t *testing.T) {
	sim, base := wechatsim.NewTestServer(t, wechatsim.Options{AppID: appID, AppSecret: appSecret})
	src := token.New(token.Options{WeChat: wechat.New(wechat.Options{BaseURL: base}), Credentials: token.Static(appID, appSecret)})
	ctx := context.Background()
	tok, _ := src.Token(ctx)
	src.Invalidate(ctx, "some-older-token") // another caller already replaced it
	if again, _ := src.Token(ctx); again != tok || sim.Stats().StableToken != 1 {
		t.Errorf("a stale Invalidate dropped the current token")
	}
	sim.ExpireTokens()
	src.Invalidate(ctx, tok)
	src.Invalidate(ctx, tok) // a second caller failing with the same token
	fresh, err := src.Token(ctx)
	if err != nil || fresh == tok {
		t.Fatalf("after Invalidate: a new token %v, error %v; want a new token", fresh != tok, err)
	}
	if got := sim.Stats().StableToken; got != 2 {
		t.Errorf("stable_token calls = %d, want 2", got)
	}
}

func TestSecretRotatedWhileWarm(t *testing.T) {
	sim, base := wechatsim.NewTestServer(t, wechatsim.Options{AppID: appID, AppSecret: appSecret})
	secrets := &fakeSecrets{}
	secrets.set(secretJSON(appID, "the-old-secret"))
	store := token.NewSecretStore(secrets, "wxmedia/app", token.StoreOptions{TTL: time.Hour})
	src := token.New(token.Options{WeChat: wechat.New(wechat.Options{BaseURL: base}), Credentials: store})
	ctx := context.Background()
	if _, err := store.Credentials(ctx); err != nil { // warm: the old secret is cached
		t.Fatal(err)
	}
	secrets.set(secretJSON(appID, appSecret)) // rotated
	if _, err := src.Token(ctx); err != nil {
		t.Fatalf("Token after rotation: %v", err)
	}
	if secrets.calls != 2 || sim.Stats().StableToken != 2 {
		t.Errorf("secret reads %d, stable_token calls %d; want 2 and 2 (rejected once, re-read once)", secrets.calls, sim.Stats().StableToken)
	}
}

func TestWrongSecretIsAnErrorWithoutTheSecret(t *testing.T) {
	_, base := wechatsim.NewTestServer(t, wechatsim.Options{AppID: appID, AppSecret: appSecret})
	const wrong = "wrong-secret-value-xyz"
	src := token.New(token.Options{WeChat: wechat.New(wechat.Options{BaseURL: base}), Credentials: token.Static(appID, wrong)})
	_, err := src.Token(context.Background())
	if failure.KindOf(err) != failure.Config || failure.CodeOf(err) != failure.CodeInvalidAppSecret {
		t.Fatalf("error = %v, want errcode 40125", err)
	}
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("error leaks the secret: %v", err)
	}
}

func TestSecretStore(t *testing.T) {
	tests := []struct {
		name    string
		value   *string
		awsErr  error
		wantErr string // "" for success
	}{
		{"OK", aws.String(secretJSON("wx1", "s3cr3t-value")), nil, ""},
		{"ErrMissingAppSecret", aws.String(`{"appid":"wx1"}`), nil, `secret "wxmedia/app": missing field "appsecret"`},
		{"ErrMissingAppID", aws.String(`{"appsecret":"s3cr3t-value"}`), nil, `secret "wxmedia/app": missing field "appid"`},
		{"ErrNotJSON", aws.String(`s3cr3t-value`), nil, `secret "wxmedia/app": it is not JSON`},
		{"ErrBinarySecret", nil, nil, `secret "wxmedia/app": it has no string value`},
		{"ErrAWS", nil, errors.New("AccessDeniedException: not allowed"), `secret "wxmedia/app": cannot read it: AccessDeniedException`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := token.NewSecretStore(&fakeSecrets{value: tt.value, err: tt.awsErr}, "wxmedia/app", token.StoreOptions{})
			c, err := store.Credentials(context.Background())
			if tt.wantErr == "" {
				if err != nil || c.AppID != "wx1" || c.AppSecret() != "s3cr3t-value" {
					t.Fatalf("Credentials = %v, %v", c, err)
				}
				if s := fmt.Sprintf("%v %+v %#v %s", c, c, c, c); strings.Contains(s, "s3cr3t-value") {
					t.Errorf("formatted credentials leak the secret: %s", s)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "s3cr3t-value") {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestSecretCachedForTTL(t *testing.T) {
	secrets := &fakeSecrets{}
	secrets.set(secretJSON("wx1", "s"))
	store := token.NewSecretStore(secrets, "id", token.StoreOptions{TTL: time.Hour})
	for range 5 {
		if _, err := store.Credentials(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if secrets.calls != 1 {
		t.Errorf("GetSecretValue calls = %d, want 1", secrets.calls)
	}
	store.Invalidate()
	store.Credentials(context.Background())
	if secrets.calls != 2 {
		t.Errorf("after Invalidate: calls = %d, want 2", secrets.calls)
	}
}

func ExampleSource() {
	_, base, stop, _ := wechatsim.Start(wechatsim.Options{AppID: appID, AppSecret: appSecret})
	defer stop()
	src := token.New(token.Options{WeChat: wechat.New(wechat.Options{BaseURL: base}), Credentials: token.Static(appID, appSecret)})
	tok, err := src.Token(context.Background())
	fmt.Println(tok != "", err)
	// Output: true <nil>
}
