package wechatsim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/internal/wechatsim"
)

const (
	testAppID  = "wxtestappid"
	testSecret = "test-secret"
)

// t0 is the simulator's fixed clock; tests move it with Advance.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// answer holds every field a WeChat JSON answer can carry.
type answer struct {
	Errcode      int    `json:"errcode"`
	Errmsg       string `json:"errmsg"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	Type         string `json:"type"`
	MediaID      string `json:"media_id"`
	ThumbMediaID string `json:"thumb_media_id"`
	CreatedAt    int64  `json:"created_at"`
	URL          string `json:"url"`
	VideoURL     string `json:"video_url"`
}

// setup starts a simulator with a fixed clock on a real listener.
func setup(t *testing.T) (*wechatsim.Server, string) {
	t.Helper()
	return wechatsim.NewTestServer(t, wechatsim.Options{
		AppID:     testAppID,
		AppSecret: testSecret,
		Now:       func() time.Time { return t0 },
		Logf:      t.Logf,
	})
}

// do sends req and returns the response with its whole body.
func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	return resp, body
}

// decode parses a WeChat JSON answer.
func decode(t *testing.T, body []byte) answer {
	t.Helper()
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return a
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func post(t *testing.T, url, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	return do(t, req)
}

// getAnswer GETs url and decodes the JSON answer.
func getAnswer(t *testing.T, url string) answer {
	t.Helper()
	_, body := get(t, url)
	return decode(t, body)
}

// token gets a fresh token from /cgi-bin/token.
func token(t *testing.T, base string) string {
	t.Helper()
	a := getAnswer(t, base+"/cgi-bin/token?grant_type=client_credential&appid="+testAppID+"&secret="+testSecret)
	if a.Errcode != 0 || a.AccessToken == "" {
		t.Fatalf("token: got %+v, want a token", a)
	}
	return a.AccessToken
}

// stableToken POSTs body to /cgi-bin/stable_token.
func stableToken(t *testing.T, base, body string) answer {
	t.Helper()
	_, b := post(t, base+"/cgi-bin/stable_token", "application/json", []byte(body))
	return decode(t, b)
}

func stableBody(force bool) string {
	return `{"grant_type":"client_credential","appid":"` + testAppID + `","secret":"` + testSecret + `","force_refresh":` + map[bool]string{true: "true", false: "false"}[force] + `}`
}

// form builds a multipart/form-data body with one file part.
func form(t *testing.T, field, filename string, data []byte) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile(field, filename)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

// upload POSTs one file to path (with its query) and decodes the answer.
func upload(t *testing.T, base, pathAndQuery, filename string, data []byte) answer {
	t.Helper()
	body, ct := form(t, "media", filename, data)
	resp, b := post(t, base+pathAndQuery, ct, body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload %s: got status %d, want 200", filename, resp.StatusCode)
	}
	return decode(t, b)
}

// tokenErrcode reports the errcode a media call gives for tok: 41006
// (media_id missing) means the token itself was accepted.
func tokenErrcode(t *testing.T, base, tok string) int {
	t.Helper()
	return getAnswer(t, base+"/cgi-bin/media/get?access_token="+tok).Errcode
}
