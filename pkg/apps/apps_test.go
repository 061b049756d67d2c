package apps_test

import (
	"context"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/pkg/apps"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/token"
)

type secrets struct {
	s     token.Secret
	reads int
}

func (f *secrets) Secret(context.Context) (token.Secret, error) { f.reads++; return f.s, nil }
func (f *secrets) Invalidate()                                  {}

// stableToken answers each app its own token and counts the calls.
type stableToken struct{ calls map[string]int }

func (s *stableToken) StableToken(_ context.Context, appID, _ string) (string, time.Duration, error) {
	s.calls[appID]++
	return "token-of-" + appID, 2 * time.Hour, nil
}

type authorizers struct{ known map[string]bool }

func (a authorizers) Authorized(_ context.Context, id string) (bool, error) { return a.known[id], nil }
func (a authorizers) Token(ctx context.Context) (string, error) {
	app, _ := apps.From(ctx)
	return "authorizer-token-of-" + app.ID, nil
}
func (authorizers) Invalidate(context.Context, string) {}

// An AppID resolves to the default app, an app of the secret or an
// authorizer of its platform, and each one's calls carry its own token;
// any other is 40013, the caller's.
func TestResolveAndTokens(t *testing.T) {
	sec, err := token.ParseSecret(`{"default":"wxA","apps":{"wxA":"a","wxB":"b"},"component":{"appid":"wxC","appsecret":"c","token":"t","encoding_aes_key":"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"}}`)
	if err != nil {
		t.Fatal(err)
	}
	wx := &stableToken{calls: map[string]int{}}
	r := apps.New(apps.Options{Secrets: &secrets{s: sec}, WeChat: wx, Authorizers: authorizers{map[string]bool{"wxD": true}}})
	ctx := context.Background()
	tests := []struct {
		name, id, token string
		want            apps.App
		errcode         int
	}{
		{"Default", "", "token-of-wxA", apps.App{ID: "wxA", Default: true}, 0},
		{"DefaultByItsAppID", "wxA", "token-of-wxA", apps.App{ID: "wxA", Default: true}, 0},
		{"Other", "wxB", "token-of-wxB", apps.App{ID: "wxB"}, 0},
		{"Authorizer", "wxD", "authorizer-token-of-wxD", apps.App{ID: "wxD", Authorizer: true}, 0},
		{"ErrUnknown", "wxZ", "", apps.App{}, 40013},
		{"ErrThePlatformItself", "wxC", "", apps.App{}, 40013},
		{"ErrMalformed", "wx/../A", "", apps.App{}, 40013},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := r.Resolve(ctx, tt.id)
			if tt.errcode != 0 {
				if failure.CodeOf(err) != tt.errcode || failure.KindOf(err) != failure.Caller {
					t.Fatalf("got %v, want the caller's %d", err, tt.errcode)
				}
				return
			}
			if err != nil || a != tt.want {
				t.Fatalf("got %+v %v, want %+v", a, err, tt.want)
			}
			if tok, err := r.Token(apps.With(ctx, a)); err != nil || tok != tt.token {
				t.Errorf("token: got %q %v, want %q", tok, err, tt.token)
			}
		})
	}
	if wx.calls["wxA"] != 1 || wx.calls["wxB"] != 1 {
		t.Errorf("stable_token calls %v: want one per app", wx.calls)
	}
}
