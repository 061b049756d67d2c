package apps_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/pkg/apps"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/token"
)

func registryOf(t *testing.T, secret string) *apps.Registry {
	t.Helper()
	sec, err := token.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	return apps.New(apps.Options{Secrets: &secrets{s: sec}, WeChat: &stableToken{calls: map[string]int{}},
		Authorizers: authorizers{map[string]bool{"wxD": true}}})
}

const (
	twoApps      = `{"default":"wxA","apps":{"wxA":"secret-of-app-a-0123456789abcdef","wxB":"secret-of-app-b-0123456789abcdef"}}`
	withPlatform = `{"default":"wxA","apps":{"wxA":"secret-of-app-a-0123456789abcdef"},"component":{"appid":"wxC","appsecret":"secret-of-platform-0123456789","token":"t","encoding_aes_key":"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"}}`
)

// A placeholder names its app, and reads back as that app; it holds no
// AppSecret; another deployment's, or a forged one, is WeChat's 40001; a
// client's own token is no placeholder.
func TestPlaceholder(t *testing.T) {
	ctx := context.Background()
	r := registryOf(t, withPlatform)
	for _, a := range []apps.App{{ID: "wxA", Default: true}, {ID: "wxD", Authorizer: true}} {
		tok, err := r.Placeholder(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok, "wxmedia."+a.ID+".") || strings.Contains(tok, "secret-of") {
			t.Errorf("placeholder of %s = %q: want it to name the app and hold no AppSecret", a.ID, tok)
		}
		if id, ok, err := r.PlaceholderApp(ctx, tok); id != a.ID || !ok || err != nil {
			t.Errorf("PlaceholderApp(%q) = %q, %v, %v; want %s", tok, id, ok, err, a.ID)
		}
	}
	ofA, _ := r.Placeholder(ctx, apps.App{ID: "wxA"})
	other, _ := registryOf(t, strings.ReplaceAll(withPlatform, "secret-of-app-a", "rotated-secret-a")).Placeholder(ctx, apps.App{ID: "wxA"})
	if other == ofA {
		t.Fatalf("two deployments with different AppSecrets made the same placeholder %q", ofA)
	}
	tests := []struct {
		name, tok string
		wantApp   string
		wantOK    bool
		errcode   int
	}{
		{"ClientsOwnToken", "ANY-CLIENT-TOKEN", "", false, 0},
		{"Empty", "", "", false, 0},
		{"AnotherDeployments", other, "", true, 40001},
		{"ForgedMAC", "wxmedia.wxA.AAAAAAAAAAAAAAAAAAAAAAAA", "", true, 40001},
		{"NoMAC", "wxmedia.wxA", "", true, 40001},
		{"OtherAppsMAC", "wxmedia.wxD." + strings.Split(ofA, ".")[2], "", true, 40001},
		{"NoAppID", "wxmedia..x", "", true, 40001},
		{"MalformedAppID", "wxmedia.wx%2F..%2FA.x", "", true, 40001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ok, err := r.PlaceholderApp(ctx, tt.tok)
			if id != tt.wantApp || ok != tt.wantOK || failure.CodeOf(err) != tt.errcode && (err != nil || tt.errcode != 0) {
				t.Fatalf("got %q, %v, %v; want %q, %v, errcode %d", id, ok, err, tt.wantApp, tt.wantOK, tt.errcode)
			}
			if err != nil && strings.Contains(failure.MessageOf(err), tt.tok) {
				t.Errorf("errmsg %q repeats the token", failure.MessageOf(err))
			}
		})
	}
}

// Without a platform to vouch for it, a placeholder of an app this
// deployment does not know reads as that app, for Resolve to refuse with
// 40013, as it refuses a path's.
func TestPlaceholderOfAnUnknownApp(t *testing.T) {
	ctx := context.Background()
	r := registryOf(t, twoApps)
	id, ok, err := r.PlaceholderApp(ctx, "wxmedia.wxZ.whatever")
	if id != "wxZ" || !ok || err != nil {
		t.Fatalf("got %q, %v, %v; want wxZ for Resolve", id, ok, err)
	}
	if _, err := r.Resolve(ctx, id); failure.CodeOf(err) != 40013 {
		t.Errorf("Resolve(%s): %v, want 40013", id, err)
	}
	if _, err := r.Placeholder(ctx, apps.App{ID: "wxZ"}); failure.CodeOf(err) != 40013 {
		t.Errorf("Placeholder(wxZ): %v, want 40013", err)
	}
}
