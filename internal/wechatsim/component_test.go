package wechatsim_test

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/internal/wechatsim"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/wechat"
	"github.com/wxmedia/wxmedia/pkg/wxcrypt"
)

const simAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

// The simulator's third-party platform, by its documented rules: tickets
// pushed encrypted and signed, api_component_token only for a ticket it
// pushed within 12 hours, an authorization code exchanged once, refresh
// tokens rotated, and an authorizer's token good for its own media only.
func TestComponent(t *testing.T) {
	comp := &wechatsim.Component{AppID: "wx-sim-component", AppSecret: "cs", Token: "ct", EncodingAESKey: simAESKey}
	sim, base := wechatsim.NewTestServer(t, wechatsim.Options{Component: comp})
	cr, _ := wxcrypt.New(comp.Token, comp.EncodingAESKey, comp.AppID)
	var last struct {
		Ticket string `xml:"ComponentVerifyTicket"`
		Code   string `xml:"AuthorizationCode"`
		Info   string `xml:"InfoType"`
	}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		q := r.URL.Query()
		msg, err := cr.Open(wxcrypt.Envelope{Body: body, Timestamp: q.Get("timestamp"), Nonce: q.Get("nonce"), Signature: q.Get("msg_signature")})
		if err != nil || q.Get("encrypt_type") != "aes" || q.Get("signature") != wxcrypt.Signature(comp.Token, q.Get("timestamp"), q.Get("nonce")) {
			t.Errorf("push does not open: %v", err)
		}
		xml.Unmarshal(msg, &last)
		io.WriteString(w, "success")
	}))
	defer receiver.Close()
	sim.SetPushURL(receiver.URL)
	ctx := context.Background()
	wx := wechat.New(wechat.Options{BaseURL: base})
	code := func(err error) int { return failure.CodeOf(err) }

	if r, err := sim.PushTicket(ctx); err != nil || r.Body != "success" || last.Info != "component_verify_ticket" {
		t.Fatalf("push: %+v %v %+v", r, err, last)
	}
	if _, _, err := wx.ComponentToken(ctx, comp.AppID, comp.AppSecret, "ticket@@@never-pushed"); code(err) != 61006 {
		t.Errorf("unknown ticket: got %v, want 61006", err)
	}
	if _, _, err := wx.ComponentToken(ctx, comp.AppID, "wrong", last.Ticket); code(err) != 40125 {
		t.Errorf("wrong appsecret: got %v, want 40125", err)
	}
	ctok, ttl, err := wx.ComponentToken(ctx, comp.AppID, comp.AppSecret, last.Ticket)
	if err != nil || ttl != 2*time.Hour {
		t.Fatalf("component token: %v %v", ttl, err)
	}
	if _, err := sim.Authorize(ctx, "wx-authorizer-a"); err != nil || last.Code == "" {
		t.Fatalf("authorize: %v", err)
	}
	at, err := wx.QueryAuth(ctx, ctok, comp.AppID, last.Code)
	if err != nil || at.AppID != "wx-authorizer-a" || at.RefreshToken == "" {
		t.Fatalf("query auth: %+v %v", at.AppID, err)
	}
	if _, err := wx.QueryAuth(ctx, ctok, comp.AppID, last.Code); code(err) != 61009 {
		t.Errorf("a code used twice: got %v, want 61009", err)
	}
	next, err := wx.AuthorizerAccessToken(ctx, ctok, comp.AppID, "wx-authorizer-a", at.RefreshToken)
	if err != nil || next.RefreshToken == at.RefreshToken || next.AccessToken == at.AccessToken {
		t.Fatalf("authorizer token: rotated %v, %v", next.RefreshToken != at.RefreshToken, err)
	}
	if _, err := wx.AuthorizerAccessToken(ctx, ctok, comp.AppID, "wx-authorizer-a", at.RefreshToken); code(err) != 61023 {
		t.Errorf("a rotated-out refresh token: got %v, want 61023", err)
	}
	// Its token uploads for it; another app's media is not its own.
	tokA := wechat.New(wechat.Options{BaseURL: base, Tokens: fixed(next.AccessToken)})
	up, err := tokA.Upload(ctx, "image", wechat.BytesBody("media.jpg", "image/jpeg", []byte("\xff\xd8\xff\xe0 a jpeg")))
	if err != nil {
		t.Fatal(err)
	}
	if app, _ := sim.MediaApp(up.MediaID); app != "wx-authorizer-a" {
		t.Errorf("uploaded as %q, want the authorizer", app)
	}
	if _, err := wechat.New(wechat.Options{BaseURL: base, Tokens: fixed(ctok)}).Upload(ctx, "image", wechat.BytesBody("media.jpg", "image/jpeg", []byte("\xff\xd8\xff"))); err == nil {
		t.Error("the component_access_token uploaded media: want it refused")
	}
	if st := sim.Stats(); st.ComponentToken != 3 || st.QueryAuth != 2 || st.AuthorizerToken != 2 || st.Pushes != 2 {
		t.Errorf("stats %+v", st)
	}
}

type fixed string

func (f fixed) Token(context.Context) (string, error) { return string(f), nil }
func (fixed) Invalidate(context.Context, string)      {}
