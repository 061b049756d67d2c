package wechatsim_test

import (
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/internal/wechatsim"
)

func TestToken(t *testing.T) {
	_, base := setup(t)
	tests := []struct {
		name  string
		query string
		want  int
	}{
		{"OK", "grant_type=client_credential&appid=" + testAppID + "&secret=" + testSecret, 0},
		{"ErrGrantTypeMissing", "appid=" + testAppID + "&secret=" + testSecret, 40002},
		{"ErrGrantTypeWrong", "grant_type=password&appid=" + testAppID + "&secret=" + testSecret, 40002},
		{"ErrAppIDMissing", "grant_type=client_credential&secret=" + testSecret, 41002},
		{"ErrAppID", "grant_type=client_credential&appid=wxother&secret=" + testSecret, 40013},
		{"ErrSecretMissing", "grant_type=client_credential&appid=" + testAppID, 41004},
		{"ErrSecret", "grant_type=client_credential&appid=" + testAppID + "&secret=wrong", 40001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, base+"/cgi-bin/token?"+tt.query)
			if resp.StatusCode != 200 {
				t.Fatalf("status: got %d, want 200", resp.StatusCode)
			}
			a := decode(t, body)
			if a.Errcode != tt.want {
				t.Fatalf("errcode: got %d (%s), want %d", a.Errcode, a.Errmsg, tt.want)
			}
			if tt.want != 0 {
				if a.AccessToken != "" {
					t.Errorf("access_token: got %q, want none", a.AccessToken)
				}
				return
			}
			if len(a.AccessToken) < 32 || a.ExpiresIn != 7200 {
				t.Errorf("got token of %d chars expiring in %d, want >= 32 chars and 7200", len(a.AccessToken), a.ExpiresIn)
			}
		})
	}
}

func TestTokenLifecycle(t *testing.T) {
	tests := []struct {
		name string
		// run returns the token under test after acting on the simulator.
		run  func(t *testing.T, sim *wechatsim.Server, base string) string
		want int
	}{
		{"Fresh", func(t *testing.T, _ *wechatsim.Server, base string) string { return token(t, base) }, 41006},
		{"Missing", func(*testing.T, *wechatsim.Server, string) string { return "" }, 41001},
		{"Unknown", func(*testing.T, *wechatsim.Server, string) string { return "0123456789abcdef0123456789abcdef" }, 40001},
		{"PreviousWithinOverlap", func(t *testing.T, sim *wechatsim.Server, base string) string {
			old := token(t, base)
			token(t, base)
			sim.Advance(wechatsim.TokenOverlap - time.Second)
			return old
		}, 41006},
		{"PreviousAfterOverlap", func(t *testing.T, sim *wechatsim.Server, base string) string {
			old := token(t, base)
			token(t, base)
			sim.Advance(wechatsim.TokenOverlap)
			return old
		}, 40001},
		{"LatestAfterOverlap", func(t *testing.T, sim *wechatsim.Server, base string) string {
			token(t, base)
			latest := token(t, base)
			sim.Advance(wechatsim.TokenOverlap)
			return latest
		}, 41006},
		{"BeforeLifetime", func(t *testing.T, sim *wechatsim.Server, base string) string {
			tok := token(t, base)
			sim.Advance(7199 * time.Second)
			return tok
		}, 41006},
		{"AfterLifetime", func(t *testing.T, sim *wechatsim.Server, base string) string {
			tok := token(t, base)
			sim.Advance(7200 * time.Second)
			return tok
		}, 42001},
		{"ExpireTokens", func(t *testing.T, sim *wechatsim.Server, base string) string {
			tok := token(t, base)
			sim.ExpireTokens()
			return tok
		}, 42001},
		{"ExpireTokensStable", func(t *testing.T, sim *wechatsim.Server, base string) string {
			tok := stableToken(t, base, stableBody(false)).AccessToken
			sim.ExpireTokens()
			return tok
		}, 42001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, base := setup(t)
			tok := tt.run(t, sim, base)
			if got := tokenErrcode(t, base, tok); got != tt.want {
				t.Errorf("errcode: got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestTokenUnique(t *testing.T) {
	_, base := setup(t)
	seen := map[string]bool{}
	for range 20 {
		tok := token(t, base)
		if seen[tok] {
			t.Fatalf("token %q issued twice", tok)
		}
		seen[tok] = true
	}
}

func TestStableTokenErrors(t *testing.T) {
	_, base := setup(t)
	tests := []struct {
		name string
		body string
		want int
	}{
		{"ErrBadJSON", `{"grant_type":`, 47001},
		{"ErrEmptyBody", ``, 47001},
		{"ErrWrongJSONType", `{"grant_type":"client_credential","appid":"` + testAppID + `","secret":"` + testSecret + `","force_refresh":"yes"}`, 47001},
		{"ErrGrantType", `{"grant_type":"x","appid":"` + testAppID + `","secret":"` + testSecret + `"}`, 40002},
		{"ErrAppID", `{"grant_type":"client_credential","appid":"wxother","secret":"` + testSecret + `"}`, 40013},
		{"ErrSecret", `{"grant_type":"client_credential","appid":"` + testAppID + `","secret":"wrong"}`, 40125},
		{"OK", stableBody(false), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a := stableToken(t, base, tt.body); a.Errcode != tt.want {
				t.Errorf("errcode: got %d (%s), want %d", a.Errcode, a.Errmsg, tt.want)
			}
		})
	}
}

func TestStableTokenNormalMode(t *testing.T) {
	sim, base := setup(t)
	first := stableToken(t, base, stableBody(false))
	if first.ExpiresIn != 7200 || len(first.AccessToken) < 32 {
		t.Fatalf("first: got %+v, want a token expiring in 7200", first)
	}
	plain := token(t, base) // /token is independent of /stable_token
	if plain == first.AccessToken {
		t.Fatalf("/token returned the stable token")
	}
	sim.Advance(100 * time.Second)
	again := stableToken(t, base, stableBody(false))
	if again.AccessToken != first.AccessToken || again.ExpiresIn != 7100 {
		t.Errorf("after 100s: got token same=%v expires_in=%d, want same=true 7100", again.AccessToken == first.AccessToken, again.ExpiresIn)
	}
	sim.Advance(6800*time.Second + time.Second) // 299 s left: inside the last 5 minutes
	renewed := stableToken(t, base, stableBody(false))
	if renewed.AccessToken == first.AccessToken || renewed.ExpiresIn != 7200 {
		t.Errorf("5 minutes before expiry: got same=%v expires_in=%d, want a new token expiring in 7200", renewed.AccessToken == first.AccessToken, renewed.ExpiresIn)
	}
	if got := tokenErrcode(t, base, first.AccessToken); got != 41006 {
		t.Errorf("the old stable token in its last minutes: got errcode %d, want 41006 (still valid)", got)
	}
	sim.Advance(300 * time.Second)
	if got := tokenErrcode(t, base, plain); got != 42001 {
		t.Errorf("/token token after 7200s: got errcode %d, want 42001", got)
	}
}

func TestStableTokenForceRefresh(t *testing.T) {
	_, base := setup(t)
	old := stableToken(t, base, stableBody(false)).AccessToken
	fresh := stableToken(t, base, stableBody(true))
	if fresh.Errcode != 0 || fresh.AccessToken == old || fresh.ExpiresIn != 7200 {
		t.Fatalf("force refresh: got %+v, want a new token expiring in 7200", fresh)
	}
	if got := stableToken(t, base, stableBody(false)).AccessToken; got != fresh.AccessToken {
		t.Errorf("normal mode after force refresh: got another token, want the refreshed one")
	}
	if got := tokenErrcode(t, base, old); got != 40001 {
		t.Errorf("old token after a force refresh: got errcode %d, want 40001 (invalid at once)", got)
	}
	if a := stableToken(t, base, stableBody(true)); a.Errcode != 0 || a.AccessToken != fresh.AccessToken {
		t.Errorf("second force refresh within 30s: got %+v, want the same token, not refreshed", a)
	}
	if got := tokenErrcode(t, base, fresh.AccessToken); got != 41006 {
		t.Errorf("refreshed token: got errcode %d, want 41006 (valid)", got)
	}
}

func TestStableTokenDailyLimit(t *testing.T) {
	sim, base := setup(t)
	for i := range wechatsim.ForceRefreshPerDay {
		if a := stableToken(t, base, stableBody(true)); a.Errcode != 0 {
			t.Fatalf("force refresh %d: got errcode %d, want 0", i+1, a.Errcode)
		}
		sim.Advance(wechatsim.ForceRefreshInterval)
	}
	if a := stableToken(t, base, stableBody(true)); a.Errcode != 45009 {
		t.Errorf("force refresh %d: got errcode %d, want 45009", wechatsim.ForceRefreshPerDay+1, a.Errcode)
	}
	if a := stableToken(t, base, stableBody(false)); a.Errcode != 0 {
		t.Errorf("normal mode over the force limit: got errcode %d, want 0", a.Errcode)
	}
	sim.Advance(24 * time.Hour)
	if a := stableToken(t, base, stableBody(true)); a.Errcode != 0 {
		t.Errorf("force refresh the next day: got errcode %d, want 0", a.Errcode)
	}
}
