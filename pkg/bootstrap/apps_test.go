package bootstrap_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/stacktest"
	"github.com/wxmedia/wxmedia/pkg/media"
)

// postFile sends a multipart upload of data to url and decodes the answer.
func postFile(t *testing.T, url string, data []byte) map[string]any {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("media", "photo.jpg")
	fw.Write(data)
	mw.Close()
	return post(t, url, mw.FormDataContentType(), &body)
}

// post sends body to url and decodes the JSON answer.
func post(t *testing.T, url, contentType string, body io.Reader) map[string]any {
	t.Helper()
	resp, err := http.Post(url, contentType, body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	return out
}

func getURL(t *testing.T, url string) (string, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.Header.Get("Content-Type"), data
}

// Two apps configured directly in one secret work side by side: each
// request's path prefix (or an S3 object's appid metadata) picks its app,
// its media is its own, a media_id is reused only for the app it was
// uploaded for, and an AppID the secret does not name is refused with 40013.
func TestTwoAppsSideBySide(t *testing.T) {
	logs := &stacktest.Logs{}
	st := stacktest.Start(t, stacktest.Options{Secret: stacktest.TwoApps, Logs: logs})
	jpeg := mediatest.Sample(media.JPEG, 3000)
	owner := func(t *testing.T, id string) string {
		t.Helper()
		app, ok := st.Sim.MediaApp(id)
		if !ok {
			t.Fatalf("WeChat has no media %s", id)
		}
		return app
	}

	var defaultID, otherID string
	t.Run("PathPrefixPicksTheApp", func(t *testing.T) {
		a := postFile(t, st.URL+"/cgi-bin/media/upload?type=image", jpeg)
		b := postFile(t, st.URL+"/"+stacktest.OtherAppID+"/cgi-bin/media/upload?type=image", jpeg)
		defaultID, _ = a["media_id"].(string)
		otherID, _ = b["media_id"].(string)
		if defaultID == "" || otherID == "" {
			t.Fatalf("got %v and %v, want a media_id each", a, b)
		}
		if got := owner(t, defaultID); got != stacktest.AppID {
			t.Errorf("/cgi-bin/…: uploaded as %s, want the default app %s", got, stacktest.AppID)
		}
		if got := owner(t, otherID); got != stacktest.OtherAppID {
			t.Errorf("/%s/cgi-bin/…: uploaded as %s, want that app", stacktest.OtherAppID, got)
		}
		// The default app named by its own AppID is the default app.
		c := postFile(t, st.URL+"/"+stacktest.AppID+"/cgi-bin/media/upload?type=image", jpeg)
		if id, _ := c["media_id"].(string); id == "" || owner(t, id) != stacktest.AppID {
			t.Errorf("/%s/cgi-bin/…: got %v, want the default app's media_id", stacktest.AppID, c)
		}
		if got := st.Sim.Stats().StableToken; got != 2 {
			t.Errorf("stable_token calls: got %d, want 2 (one per app)", got)
		}
	})

	t.Run("MediaIsTheAppsOwn", func(t *testing.T) {
		ct, data := getURL(t, st.URL+"/"+stacktest.OtherAppID+"/cgi-bin/media/get?media_id="+otherID)
		if !bytes.Equal(data, jpeg) {
			t.Errorf("get of its own media_id: got %s %q, want the file", ct, truncate(data))
		}
		// Another app's media_id through the default path: WeChat's 40007,
		// not the bytes this deployment holds for the other app.
		ct, data = getURL(t, st.URL+"/cgi-bin/media/get?media_id="+otherID)
		if ct != "text/plain" || !strings.Contains(string(data), `"errcode":40007`) {
			t.Errorf("get of another app's media_id: got %s %q, want text/plain errcode 40007", ct, data)
		}
	})

	t.Run("UnknownAppIDIs40013", func(t *testing.T) {
		before := st.Sim.Stats()
		for _, path := range []string{"/wx-nobody/cgi-bin/media/upload?type=image", "/.../cgi-bin/media/upload?type=image"} {
			got := postFile(t, st.URL+path, jpeg)
			if got["errcode"] != float64(40013) || !strings.Contains(got["errmsg"].(string), "invalid appid") {
				t.Errorf("%s: got %v, want errcode 40013 invalid appid", path, got)
			}
		}
		ct, data := getURL(t, st.URL+"/wx-nobody/cgi-bin/media/get?media_id="+otherID)
		if ct != "text/plain" || !strings.Contains(string(data), `"errcode":40013`) {
			t.Errorf("get for an unknown app: got %s %q, want text/plain errcode 40013", ct, data)
		}
		if after := st.Sim.Stats(); after != before {
			t.Errorf("an unknown AppID reached WeChat: %+v -> %+v", before, after)
		}
	})

	t.Run("S3MetadataPicksTheApp", func(t *testing.T) {
		key := "upload/image/for-other.jpg"
		etag := st.PutFor(t, stacktest.OtherAppID, key, jpeg)
		if _, err := st.Functions["upload"].Invoke(context.Background(), st.S3Event(stacktest.Created{Key: key, ETag: etag})); err != nil {
			t.Fatal(err)
		}
		r := st.Result(t, key)
		id, _ := r["media_id"].(string)
		if r["appid"] != stacktest.OtherAppID || id == "" || owner(t, id) != stacktest.OtherAppID {
			t.Fatalf("result %v: want a media_id of %s, recorded with its appid", r, stacktest.OtherAppID)
		}
		uploads := st.Sim.Stats().Upload
		// The same object by {"key"} for its own app: the recorded media_id.
		again := postJSON(t, st.URL+"/"+stacktest.OtherAppID+"/cgi-bin/media/upload?type=image", `{"key":"`+key+`"}`)
		if again["media_id"] != id || st.Sim.Stats().Upload != uploads {
			t.Errorf("{\"key\"} for the object's app: got %v after %d uploads, want %s reused", again, st.Sim.Stats().Upload-uploads, id)
		}
		// For the default app: another app's object reads as no object at
		// all, and nothing is sent.
		mine := postJSON(t, st.URL+"/cgi-bin/media/upload?type=image", `{"key":"`+key+`"}`)
		missing := postJSON(t, st.URL+"/cgi-bin/media/upload?type=image", `{"key":"upload/image/no-such.jpg"}`)
		if mine["errcode"] != float64(40035) || mine["errmsg"] != missing["errmsg"] || st.Sim.Stats().Upload != uploads {
			t.Errorf("{\"key\"} for the default app: got %v (a missing key: %v) after %d uploads, want the missing key's answer and none",
				mine, missing, st.Sim.Stats().Upload-uploads)
		}
		if r := st.Result(t, key); r["media_id"] != id {
			t.Errorf("the object's result became %v, want its own app's %s to stand", r, id)
		}
	})

	t.Run("FormResultIsTheAppsOwn", func(t *testing.T) {
		form := postJSON(t, st.URL+"/"+stacktest.OtherAppID+"/cgi-bin/media/upload-url?type=image", `{}`)
		key, _ := form["key"].(string)
		if fields, _ := form["fields"].(map[string]any); key == "" || fields["x-amz-meta-appid"] != stacktest.OtherAppID {
			t.Fatalf("form %v: want a key, its policy naming %s", form, stacktest.OtherAppID)
		}
		etag := st.PutFor(t, stacktest.OtherAppID, key, jpeg) // what the form's POST does
		if _, err := st.Functions["upload"].Invoke(context.Background(), st.S3Event(stacktest.Created{Key: key, ETag: etag})); err != nil {
			t.Fatal(err)
		}
		result := func(prefix string) (int, map[string]any) {
			resp, err := http.Get(st.URL + prefix + "/cgi-bin/media/result?key=" + url.QueryEscape(key))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out map[string]any
			json.NewDecoder(resp.Body).Decode(&out)
			return resp.StatusCode, out
		}
		if code, got := result("/" + stacktest.OtherAppID); code != 200 || got["media_id"] == nil {
			t.Fatalf("the form's own app: got %d %v, want its media_id", code, got)
		}
		// Another app's result is never answered, nor whether its object
		// exists: for the default app, at once, the answer for no object.
		code, got := result("")
		if code != 200 || got["errcode"] != float64(40035) || got["media_id"] != nil || got["etag"] != nil ||
			strings.Contains(fmt.Sprint(got), stacktest.OtherAppID) {
			t.Errorf("the default app: got %d %v, want 40035 at once, naming no app", code, got)
		}
	})

	t.Run("DirectInvocationNamesTheApp", func(t *testing.T) {
		value := base64.StdEncoding.EncodeToString(jpeg)
		call := func(appid string) (map[string]any, error) {
			out, err := st.Functions["upload"].Invoke(context.Background(),
				[]byte(`{"appid":"`+appid+`","type":"image","media":{"contentType":"image/jpeg","value":"`+value+`"}}`))
			if err != nil {
				return nil, err
			}
			var m map[string]any
			return m, json.Unmarshal(out, &m)
		}
		got, err := call(stacktest.OtherAppID)
		id, _ := got["mediaId"].(string)
		if err != nil || id == "" || owner(t, id) != stacktest.OtherAppID {
			t.Fatalf("direct call with appid %s: got %v, %v; want a media_id of that app", stacktest.OtherAppID, got, err)
		}
		before := st.Sim.Stats()
		if _, err := call("wx-nobody"); err == nil || !strings.Contains(err.Error(), `40013`) {
			t.Errorf("direct call for an unknown app: got %v, want errCode 40013 thrown", err)
		}
		if after := st.Sim.Stats(); after != before {
			t.Errorf("an unknown AppID reached WeChat: %+v -> %+v", before, after)
		}
	})

	t.Run("S3UnknownAppIsRefused", func(t *testing.T) {
		key := "upload/image/for-nobody.jpg"
		etag := st.PutFor(t, "wx-nobody", key, jpeg)
		before := st.Sim.Stats().Upload
		if _, err := st.Functions["upload"].Invoke(context.Background(), st.S3Event(stacktest.Created{Key: key, ETag: etag})); err != nil {
			t.Fatalf("a final refusal fails no invocation: %v", err)
		}
		r := st.Result(t, key)
		if r["errcode"] != float64(40013) || r["final"] != true || r["appid"] != "wx-nobody" || st.Sim.Stats().Upload != before {
			t.Errorf("result %v after %d uploads: want a final 40013 for wx-nobody and no upload", r, st.Sim.Stats().Upload-before)
		}
		// Metadata that is no AppID is recorded and told cut to an AppID's
		// most, 64 bytes: what a caller sends is not repeated at length.
		long := strings.Repeat("not-an-app-id!", 100)
		etag = st.PutFor(t, long, key, jpeg)
		if _, err := st.Functions["upload"].Invoke(context.Background(), st.S3Event(stacktest.Created{Key: key, ETag: etag})); err != nil {
			t.Fatal(err)
		}
		r = st.Result(t, key)
		if r["errcode"] != float64(40013) || r["appid"] != long[:64]+"…" || strings.Contains(r["errmsg"].(string), long[:65]) {
			t.Errorf("result %v: want a final 40013 for the metadata cut to 64 bytes", r)
		}
	})

	for _, s := range []string{stacktest.AppSecret, stacktest.OtherAppSecret} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("an AppSecret is in the logs")
		}
	}
	for _, tok := range st.Sim.IssuedTokens() {
		if strings.Contains(logs.String(), tok) {
			t.Errorf("an access token is in the logs")
		}
	}
}

func postJSON(t *testing.T, url, body string) map[string]any {
	t.Helper()
	return post(t, url, "application/json", strings.NewReader(body))
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
