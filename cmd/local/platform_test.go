package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/wechatsim"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/routes"
	"github.com/wxmedia/wxmedia/pkg/wxcrypt"
)

// simPost posts to a simulator control endpoint and decodes its answer.
func simPost(t *testing.T, u string) wechatsim.PushResult {
	t.Helper()
	resp, err := client.Post(u, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r wechatsim.PushResult
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %v", u, resp.StatusCode, err)
	}
	return r
}

// faults sets the simulator's faults (its /_sim/faults JSON).
func (l *local) faults(t *testing.T, f string) {
	t.Helper()
	resp, err := client.Post(l.wechat+"/_sim/faults", "application/json", strings.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("set faults %s: %s", f, resp.Status)
	}
}

func simStats(t *testing.T, l *local) wechatsim.Stats {
	t.Helper()
	resp, err := client.Get(l.wechat + "/_sim/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s wechatsim.Stats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// waitResult polls results/<key>.json until the S3 trigger wrote it.
func waitResult(t *testing.T, c *s3.Client, key string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		data, err := getObject(context.Background(), c, "results/"+key+".json")
		if err == nil {
			var r map[string]any
			if err := json.Unmarshal(data, &r); err != nil {
				t.Fatalf("result of %s: %v", key, err)
			}
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("no result for %s after 20 s: %v", key, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The "done when", against make local as a newcomer runs it: the
// simulator authorises two accounts to the platform and pushes a ticket
// through the real event route; uploads for each authorizer through
// /<authorizer-appid>/cgi-bin/media/upload and through an S3 put with
// appid metadata succeed, all of it costing one component token fetch and
// one authorizer token fetch per authorizer; tampered pushes change
// nothing; and two apps configured directly work side by side.
func testPlatform(t *testing.T, bin string) {
	const second = "wx-local-second"
	l := start(t, bin, EnvApps+"="+second+"=local-second-secret")
	authorizers := []string{"wx-local-authorizer-a", "wx-local-authorizer-b"}
	jpeg := mediatest.Sample(media.JPEG, 4096)
	s3c := s3Client(l.s3URL)

	// A ticket through the real route (make local also pushed one at start).
	if r := simPost(t, l.wechat+"/_sim/component/push"); r.Status != 200 || r.Body != "success" {
		t.Fatalf("ticket push: %+v, want 200 success", r)
	}
	for _, a := range authorizers {
		if r := simPost(t, l.wechat+"/_sim/component/authorize?appid="+a); r.Status != 200 || r.Body != "success" {
			t.Fatalf("authorize %s: %+v, want 200 success", a, r)
		}
	}
	for _, a := range authorizers {
		for i := range 3 { // the token is fetched once, then reused
			up := do(t, multipartUpload(t, l.api+"/"+a+"/cgi-bin/media/upload?type=image", "photo.jpg", jpeg))
			if up.ErrCode != 0 || up.MediaID == "" {
				t.Fatalf("upload %d for %s: %+v", i, a, up)
			}
			// It is the authorizer's media: fetched for it, refused for the other.
			if i == 0 {
				resp, err := client.Get(l.api + "/" + a + "/cgi-bin/media/get?media_id=" + up.MediaID)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !bytes.Equal(body, jpeg) {
					t.Errorf("get for %s: %q, want its file", a, body[:min(len(body), 80)])
				}
			}
		}
		key := "upload/image/" + a + ".jpg"
		_, err := s3c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(DefaultBucket), Key: aws.String(key),
			Body: bytes.NewReader(jpeg), Metadata: map[string]string{"appid": a}})
		if err != nil {
			t.Fatal(err)
		}
		if r := waitResult(t, s3c, key); r["appid"] != a || r["media_id"] == nil {
			t.Errorf("S3 put for %s: result %v, want its media_id, recorded with its appid", a, r)
		}
	}
	// A large file by presigned POST for an authorizer: the form carries its appid.
	resp, err := client.Post(l.api+"/"+authorizers[1]+"/cgi-bin/media/upload-url?type=image", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var form struct {
		URL    string            `json:"url"`
		Fields map[string]string `json:"fields"`
		Key    string            `json:"key"`
	}
	json.NewDecoder(resp.Body).Decode(&form)
	resp.Body.Close()
	if form.Fields["x-amz-meta-appid"] != authorizers[1] {
		t.Fatalf("upload form for %s: fields %v, want x-amz-meta-appid", authorizers[1], form.Fields)
	}
	if status, body := postForm(t, form.URL, form.Fields, jpeg); status != 204 {
		t.Fatalf("POST form: %d %s", status, body)
	}
	if r := waitResult(t, s3c, form.Key); r["appid"] != authorizers[1] || r["media_id"] == nil {
		t.Errorf("form upload for %s: result %v, want its media_id", authorizers[1], r)
	}
	st := simStats(t, l)
	if st.ComponentToken != 1 || st.AuthorizerToken != int64(len(authorizers)) || st.QueryAuth != int64(len(authorizers)) {
		t.Errorf("stats %+v: want 1 api_component_token, and 1 api_authorizer_token and 1 api_query_auth per authorizer", st)
	}

	// Tampered pushes: each would withdraw authorizer a's authorization
	// if it were acted on. Each is refused, and a still uploads.
	seal := func(token, appID, inner string, ts time.Time) (url.Values, []byte) {
		c, err := wxcrypt.New(token, DefaultComponentAESKey, appID)
		if err != nil {
			t.Fatal(err)
		}
		msg := "<xml><AppId>" + appID + "</AppId><CreateTime>" + strconv.FormatInt(ts.Unix(), 10) + "</CreateTime>" +
			"<InfoType>unauthorized</InfoType><AuthorizerAppid>" + authorizers[0] + "</AuthorizerAppid></xml>"
		if inner != "" {
			msg = strings.Replace(msg, "<AppId>"+appID, "<AppId>"+inner, 1)
		}
		e, _ := c.Seal([]byte(msg), strconv.FormatInt(ts.Unix(), 10), "n0nce")
		return url.Values{"timestamp": {e.Timestamp}, "nonce": {e.Nonce}, "msg_signature": {e.Signature}, "encrypt_type": {"aes"}}, e.Body
	}
	now := time.Now()
	tampered := map[string]func() (url.Values, []byte){
		"BadSignature": func() (url.Values, []byte) {
			q, b := seal(DefaultComponentToken, DefaultComponentAppID, "", now)
			q.Set("nonce", "another")
			return q, b
		},
		"OtherToken": func() (url.Values, []byte) { return seal("not-the-token", DefaultComponentAppID, "", now) },
		"OtherAppID": func() (url.Values, []byte) { return seal(DefaultComponentToken, "wx-other-component", "", now) },
		"OtherAppInside": func() (url.Values, []byte) {
			return seal(DefaultComponentToken, DefaultComponentAppID, "wx-other-component", now)
		},
		"Stale": func() (url.Values, []byte) {
			return seal(DefaultComponentToken, DefaultComponentAppID, "", now.Add(-10*time.Minute))
		},
	}
	for name, mk := range tampered {
		q, body := mk()
		resp, err := client.Post(l.api+routes.PathPlatformEvents+"?"+q.Encode(), "text/xml", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 || string(b) == "success" {
			t.Errorf("%s: got %d %q, want it refused", name, resp.StatusCode, b)
		}
	}
	if up := do(t, multipartUpload(t, l.api+"/"+authorizers[0]+"/cgi-bin/media/upload?type=image", "photo.jpg", jpeg)); up.ErrCode != 0 {
		t.Errorf("after the tampered pushes, %s's upload: %+v, want it still authorised", authorizers[0], up)
	}
	if after := simStats(t, l); after.ComponentToken != st.ComponentToken || after.AuthorizerToken != st.AuthorizerToken {
		t.Errorf("the tampered pushes cost token fetches: %+v -> %+v", st, after)
	}

	// An account that never authorised the platform: 40013.
	if up := do(t, multipartUpload(t, l.api+"/wx-local-stranger/cgi-bin/media/upload?type=image", "photo.jpg", jpeg)); up.ErrCode != 40013 {
		t.Errorf("an unknown appid: %+v, want errcode 40013", up)
	}
	// Two apps configured directly, side by side.
	for _, path := range []string{"/cgi-bin/media/upload?type=image", "/" + second + "/cgi-bin/media/upload?type=image"} {
		if up := do(t, multipartUpload(t, l.api+path, "photo.jpg", jpeg)); up.ErrCode != 0 || up.MediaID == "" {
			t.Errorf("%s: %+v", path, up)
		}
	}
	if got := simStats(t, l).StableToken; got != 2 {
		t.Errorf("stable_token calls: %d, want 2, one per app configured directly", got)
	}
	// What the functions logged holds no secret of the platform's.
	for _, s := range []string{DefaultComponentAESKey, DefaultComponentAppSecret, "refreshtoken@@@", "ticket@@@", "queryauthcode@@@"} {
		if strings.Contains(l.stderr.String(), s) {
			t.Errorf("the logs show %q", s)
		}
	}
}
