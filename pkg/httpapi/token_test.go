package httpapi_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/stacktest"
	"github.com/wxmedia/wxmedia/pkg/media"
)

// SDKs fetch their own token first: both token routes answer a
// placeholder that names the app, never WeChat's token nor an AppSecret,
// and a media call carrying it is that app's, without a path prefix.
func TestTokenRoutesAnswerAPlaceholderThatNamesItsApp(t *testing.T) {
	logs := &stacktest.Logs{}
	st := stacktest.Start(t, stacktest.Options{Secret: stacktest.TwoApps, Logs: logs})
	const sent = "the-secret-an-sdk-sends-9f8e7d"
	byToken := do(t, "GET", st.URL+"/cgi-bin/token?grant_type=client_credential&appid="+stacktest.AppID+"&secret="+sent, "", nil)
	byStable := do(t, "POST", st.URL+"/cgi-bin/stable_token", "application/json",
		[]byte(`{"grant_type":"client_credential","appid":"`+stacktest.OtherAppID+`","secret":"`+sent+`","force_refresh":false}`))
	defTok, _ := byToken.body["access_token"].(string)
	otherTok, _ := byStable.body["access_token"].(string)
	for _, a := range []answer{byToken, byStable} {
		if a.status != 200 || a.body["expires_in"] != float64(7200) || a.header.Get("Content-Type") != "application/json; encoding=utf-8" {
			t.Fatalf("got %d %s %v, want 200 {access_token, expires_in: 7200} as WeChat answers", a.status, a.raw, a.header)
		}
	}
	if !strings.HasPrefix(defTok, "wxmedia."+stacktest.AppID+".") || !strings.HasPrefix(otherTok, "wxmedia."+stacktest.OtherAppID+".") {
		t.Fatalf("placeholders %q, %q: want each to name its app", defTok, otherTok)
	}

	// Each app's upload, by its placeholder alone, lands on that app at WeChat.
	for app, tok := range map[string]string{stacktest.AppID: defTok, stacktest.OtherAppID: otherTok} {
		ct, body := form("a.jpg", mediatest.Sample(media.JPEG, 2000))
		up := do(t, "POST", st.URL+"/cgi-bin/media/upload?type=image&access_token="+url.QueryEscape(tok), ct, body)
		id, _ := up.body["media_id"].(string)
		if got, _ := st.Sim.MediaApp(id); up.status != 200 || got != app {
			t.Fatalf("upload with %s's placeholder: %d %s, stored for %q; want %s's", app, up.status, up.raw, got, app)
		}
		if strings.Contains(up.raw, tok) {
			t.Errorf("the answer echoes the access_token: %s", up.raw)
		}
	}

	// Canary: no placeholder is a token WeChat issued or holds an AppSecret,
	// and the secret an SDK sends is kept nowhere.
	issued := st.Sim.IssuedTokens()
	if len(issued) == 0 {
		t.Fatal("the simulator issued no token: the canary checks nothing")
	}
	for _, tok := range []string{defTok, otherTok} {
		for _, w := range issued {
			if tok == w || strings.Contains(tok, w) {
				t.Errorf("placeholder %q is WeChat's token", tok)
			}
		}
		for _, s := range []string{stacktest.AppSecret, stacktest.OtherAppSecret} {
			if strings.Contains(tok, s) {
				t.Errorf("placeholder %q holds an AppSecret", tok)
			}
		}
	}
	if strings.Contains(logs.String(), sent) || strings.Contains(byToken.raw+byStable.raw, sent) {
		t.Error("the secret an SDK sent is in the logs or an answer")
	}
}

func TestTokenRefusals(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{Secret: stacktest.TwoApps})
	other := do(t, "GET", st.URL+"/cgi-bin/token?grant_type=client_credential&appid="+stacktest.OtherAppID+"&secret=x", "", nil)
	otherTok, _ := other.body["access_token"].(string)
	up := st.URL + "/cgi-bin/media/upload?type=image&access_token="
	tests := []struct {
		name, method, url, ct, body string
		errcode                     float64
	}{
		{"UnknownApp", "GET", "/cgi-bin/token?grant_type=client_credential&appid=wx-nobody&secret=x", "", "", 40013},
		{"MalformedAppID", "GET", "/cgi-bin/token?appid=wx%2F..&secret=x", "", "", 40013},
		{"GrantType", "GET", "/cgi-bin/token?grant_type=authorization_code&appid=" + stacktest.AppID, "", "", 40002},
		{"StableTokenNotJSON", "POST", "/cgi-bin/stable_token", "application/json", "appid=x", 47001},
		{"PathAndAppDisagree", "GET", "/" + stacktest.OtherAppID + "/cgi-bin/token?appid=" + stacktest.AppID, "", "", 40013},
		{"PlaceholderOfAnUnknownApp", "POST", strings.TrimPrefix(up, st.URL) + "wxmedia.wx-nobody.AAAAAAAAAAAAAAAAAAAAAAAA", "", "", 40013},
		{"ForgedPlaceholder", "POST", strings.TrimPrefix(up, st.URL) + "wxmedia." + stacktest.OtherAppID + ".AAAAAAAAAAAAAAAAAAAAAAAA", "", "", 40001},
		{"PlaceholderAndPathDisagree", "POST", "/" + stacktest.AppID + "/cgi-bin/media/upload?type=image&access_token=" + url.QueryEscape(otherTok), "", "", 40013},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, body := tt.ct, []byte(tt.body)
			if tt.method == "POST" && ct == "" {
				ct, body = form("a.jpg", mediatest.Sample(media.JPEG, 500))
			}
			before := st.Sim.Stats()
			a := do(t, tt.method, st.URL+tt.url, ct, body)
			if a.status != 200 || a.body["errcode"] != tt.errcode {
				t.Fatalf("got %d %s, want errcode %v", a.status, a.raw, tt.errcode)
			}
			if after := st.Sim.Stats(); after.Upload != before.Upload {
				t.Errorf("a refused request reached WeChat")
			}
		})
	}
	// The prefix alone names the app, as the path does for media.
	if a := do(t, "GET", st.URL+"/"+stacktest.OtherAppID+"/cgi-bin/token", "", nil); a.body["access_token"] != otherTok {
		t.Errorf("token under %s's prefix: %s, want %q", stacktest.OtherAppID, a.raw, otherTok)
	}
}
