package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/stacktest"
	"github.com/wxmedia/wxmedia/internal/wechatsim"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/routes"
)

// A third-party platform against moto (the token table in its DynamoDB,
// the secret in its Secrets Manager) and the simulator: authorizers
// upload by path and by S3 metadata; WeChat busy, every token expired and
// a withdrawn authorization are met as documented; a tampered push is
// refused; and no ticket, code, token or key shows anywhere.
func TestPlatformUnderFaults(t *testing.T) {
	logs := &stacktest.Logs{}
	st := stacktest.Start(t, stacktest.Options{Platform: true, Logs: logs})
	ctx := context.Background()
	var seen []string
	push := func(name string, r wechatsim.PushResult, err error) {
		t.Helper()
		if err != nil || r.Status != 200 || r.Body != "success" {
			t.Fatalf("%s: %+v %v, want 200 success", name, r, err)
		}
	}
	r, err := st.Sim.PushTicket(ctx)
	push("ticket", r, err)
	authorizers := []string{"wx-stack-authorizer-a", "wx-stack-authorizer-b"}
	for _, a := range authorizers {
		r, err := st.Sim.Authorize(ctx, a)
		push("authorize "+a, r, err)
	}
	jpeg := mediatest.Sample(media.JPEG, 2500)
	upload := func(appID string) map[string]any {
		t.Helper()
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		fw, _ := mw.CreateFormFile("media", "x.jpg")
		fw.Write(jpeg)
		mw.Close()
		resp, err := http.Post(st.URL+"/"+appID+"/cgi-bin/media/upload?type=image", mw.FormDataContentType(), &b)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		seen = append(seen, string(data))
		var out map[string]any
		json.Unmarshal(data, &out)
		return out
	}
	owner := func(id any) string { s, _ := id.(string); a, _ := st.Sim.MediaApp(s); return a }

	for _, a := range authorizers {
		if got := upload(a); owner(got["media_id"]) != a {
			t.Errorf("upload for %s: %v, want its media", a, got)
		}
		key := "upload/image/" + a + ".jpg"
		etag := st.PutFor(t, a, key, jpeg)
		out, err := st.Functions["upload"].Invoke(ctx, st.S3Event(stacktest.Created{Key: key, ETag: etag}))
		if err != nil {
			t.Fatalf("S3 event for %s: %v", a, err)
		}
		seen = append(seen, string(out))
		res := st.Result(t, key)
		data, _ := json.Marshal(res)
		seen = append(seen, string(data))
		if res["appid"] != a || owner(res["media_id"]) != a {
			t.Errorf("S3 put for %s: result %v", a, res)
		}
	}
	base := st.Sim.Stats()
	if base.ComponentToken != 1 || base.AuthorizerToken != 2 {
		t.Errorf("stats %+v: want 1 api_component_token and 1 api_authorizer_token per authorizer", base)
	}

	t.Run("WeChatBusy", func(t *testing.T) {
		st.Sim.SetFaults(wechatsim.Faults{Busy: 1})
		if got := upload(authorizers[0]); owner(got["media_id"]) != authorizers[0] {
			t.Errorf("got %v, want the upload retried", got)
		}
	})
	// Every token WeChat issued expires early (its clock passed their
	// expiry), the component_access_token too: the authorizer's token is
	// refused, and so is the component token that would fetch a new one;
	// both are dropped and fetched again, without a restart.
	t.Run("TokensExpired", func(t *testing.T) {
		st.Sim.ExpireTokens()
		if got := upload(authorizers[1]); owner(got["media_id"]) != authorizers[1] {
			t.Errorf("got %v, want new tokens and the upload", got)
		}
		now := st.Sim.Stats()
		if a, c := now.AuthorizerToken-base.AuthorizerToken, now.ComponentToken-base.ComponentToken; a != 2 || c != 1 {
			t.Errorf("api_authorizer_token calls: %d, api_component_token calls: %d; want 2 (one refused for the expired "+
				"component token, one with the rotated refresh token) and 1", a, c)
		}
		if got := upload(authorizers[0]); owner(got["media_id"]) != authorizers[0] {
			t.Errorf("the other authorizer: %v, want its upload with the new component token", got)
		}
	})
	t.Run("TamperedPush", func(t *testing.T) {
		resp, err := http.Post(st.URL+routes.PathPlatformEvents+"?timestamp=1&nonce=n&encrypt_type=aes&msg_signature=00", "text/xml",
			strings.NewReader("<xml><AppId>"+stacktest.ComponentAppID+"</AppId><Encrypt>AAAA</Encrypt></xml>"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("a push with a bad signature: %d, want it refused", resp.StatusCode)
		}
	})
	t.Run("Unauthorized", func(t *testing.T) {
		r, err := st.Sim.Unauthorize(ctx, authorizers[0])
		push("unauthorize", r, err)
		if got := upload(authorizers[0]); got["errcode"] != float64(40013) {
			t.Errorf("after its authorization was withdrawn: %v, want 40013", got)
		}
		if got := upload(authorizers[1]); owner(got["media_id"]) != authorizers[1] {
			t.Errorf("the other authorizer: %v, want its upload", got)
		}
	})
	noLeaks(t, st, append(seen, logs.String())...)
}
