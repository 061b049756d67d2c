package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/stacktest"
	"github.com/wxmedia/wxmedia/pkg/bootstrap"
	"github.com/wxmedia/wxmedia/pkg/httpapi"
	"github.com/wxmedia/wxmedia/pkg/media"
)

// form is the body of `curl -F media=@<name>`.
func form(name string, data []byte) (string, []byte) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="media"; filename="%s"`, name))
	h.Set("Content-Type", "application/octet-stream")
	p, _ := w.CreatePart(h)
	p.Write(data)
	w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

type answer struct {
	status int
	body   map[string]any
	raw    string
	header http.Header
}

func do(t *testing.T, method, url, contentType string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, raw: string(raw), header: resp.Header}
	switch resp.Header.Get("Content-Type") {
	case "application/json; encoding=utf-8", "application/json", "text/plain": // WeChat's labels of its JSON
	default:
		return a // media, or a redirect: no JSON
	}
	if strings.HasSuffix(a.raw, "\n") {
		t.Errorf("%s %s answered JSON with a trailing newline: %q", method, url, raw)
	}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("%s %s answered %d with non-JSON %q", method, url, resp.StatusCode, raw)
	}
	return a
}

func TestUploadEachType(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{})
	tests := []struct {
		typ    string
		format media.Format
		size   int
	}{
		{"image", media.JPEG, 100 << 10},
		{"image", media.PNG, 1000},
		{"image", media.GIF, 1000},
		{"voice", media.AMR, 10 << 10},
		{"voice", media.MP3, 10 << 10},
		{"video", media.MP4, 1 << 20},
		{"thumb", media.JPEG, 64 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+string(tt.format), func(t *testing.T) {
			data := mediatest.Sample(tt.format, tt.size)
			ct, body := form("test"+tt.format.Ext(), data)
			a := do(t, "POST", st.URL+"/cgi-bin/media/upload?type="+tt.typ, ct, body)
			if a.status != 200 || a.body["type"] != tt.typ {
				t.Fatalf("got %d %s", a.status, a.raw)
			}
			idField := "media_id"
			if tt.typ == "thumb" {
				idField = "thumb_media_id" // as WeChat answers
			}
			id, _ := a.body[idField].(string)
			if _, both := a.body["media_id"]; both && idField != "media_id" {
				t.Errorf("a thumb answered media_id too: %s", a.raw)
			}
			if got, _ := st.Sim.Media(id); !bytes.Equal(got, data) {
				t.Errorf("WeChat stored %d bytes, want the %d sent", len(got), len(data))
			}
			created, _ := a.body["created_at"].(float64)
			expires, _ := a.body["expires_at"].(float64)
			if expires-created != 72*3600 {
				t.Errorf("expires_at - created_at = %v, want 3 days", expires-created)
			}
		})
	}
}

// Multipart bodies as clients send them, beyond what net/http reads: each
// is taken, and WeChat gets the file's bytes.
func TestMultipartAsClientsSendIt(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{})
	data := mediatest.Sample(media.JPEG, 3000)
	part := func(nl, boundary, before, after string) []byte {
		var b bytes.Buffer
		if before != "" {
			fmt.Fprintf(&b, "--%s%sContent-Disposition: form-data; name=\"%s\"%s%sx%s", boundary, nl, before, nl, nl, nl)
		}
		fmt.Fprintf(&b, "--%s%sContent-Disposition: form-data; name=\"media\"; filename=\"a.jpg\"%sContent-Type: image/jpeg%s%s", boundary, nl, nl, nl, nl)
		b.Write(data)
		b.WriteString(nl)
		if after != "" {
			fmt.Fprintf(&b, "--%s%sContent-Disposition: form-data; name=\"%s\"%s%sy%s", boundary, nl, after, nl, nl, nl)
		}
		fmt.Fprintf(&b, "--%s--%s", boundary, nl)
		return b.Bytes()
	}
	tests := []struct {
		name, contentType string
		body              []byte
	}{
		// WxJava sends "multipart/form-data" alone; WeChat reads the boundary from the body.
		{"NoBoundaryParameter", "multipart/form-data", part("\r\n", "----WebKitFormBoundary7MA4YWxk", "", "")},
		{"QuotedBoundary", `multipart/form-data; boundary="a:b=c"`, part("\r\n", "a:b=c", "", "")},
		{"PartsAroundMedia", "multipart/form-data; boundary=xyz", part("\r\n", "xyz", "description", "type")},
		{"BareLF", "multipart/form-data; boundary=xyz", part("\n", "xyz", "", "")},
		{"NoBoundaryParameterBareLF", "multipart/form-data", part("\n", "xyz", "description", "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := do(t, "POST", st.URL+"/cgi-bin/media/upload?type=image", tt.contentType, tt.body)
			id, _ := a.body["media_id"].(string)
			if a.status != 200 || id == "" {
				t.Fatalf("got %d %s, want a media_id", a.status, a.raw)
			}
			if got, _ := st.Sim.Media(id); !bytes.Equal(got, data) {
				t.Errorf("WeChat stored %d bytes, want the %d sent", len(got), len(data))
			}
		})
	}
}

func TestNamesPlayNoPart(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{})
	for _, name := range []string{"图片.jpg", "../../etc/passwd", "photo.png"} {
		t.Run(name, func(t *testing.T) {
			ct, body := form(name, mediatest.Sample(media.JPEG, 1000))
			a := do(t, "POST", st.URL+"/cgi-bin/media/upload?type=image", ct, body)
			if a.status != 200 {
				t.Fatalf("a JPEG named %q: got %d %s, want 200 (WeChat gets media.jpg)", name, a.status, a.raw)
			}
		})
	}
}

// get answers as WeChat's media/get: the bytes, with the media's type, length
// and an attachment name; a video's link; an error as text/plain JSON.
// &format=json answers the descriptor, &redirect=true a 302 to the stored
// copy; HEAD the headers alone; another method 405.
func TestGetAnswersTheMedia(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{})
	img := mediatest.Sample(media.JPEG, 5000)
	ct, body := form("photo.jpg", img)
	id, _ := do(t, "POST", st.URL+"/cgi-bin/media/upload?type=image", ct, body).body["media_id"].(string)
	get := st.URL + "/cgi-bin/media/get?media_id=" + id

	a := do(t, "GET", get, "", nil)
	if a.status != 200 || a.raw != string(img) || a.header.Get("Content-Type") != "image/jpeg" ||
		a.header.Get("Content-Length") != "5000" || a.header.Get("Content-Disposition") != `attachment; filename="`+id+`.jpg"` {
		t.Fatalf("get: %d %v, %d bytes; want the 5000 bytes as image/jpeg, attachment %s.jpg", a.status, a.header, len(a.raw), id)
	}
	if h := do(t, "HEAD", get, "", nil); h.status != 200 || h.raw != "" || h.header.Get("Content-Length") != "5000" || h.header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("HEAD: %d %v %q, want the headers alone", h.status, h.header, h.raw)
	}
	if m := do(t, "POST", get, "", nil); m.status != http.StatusMethodNotAllowed || m.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST on get: %d Allow %q, want 405 Allow: GET, HEAD", m.status, m.header.Get("Allow"))
	}
	if m := do(t, "GET", st.URL+"/cgi-bin/media/upload", "", nil); m.status != http.StatusMethodNotAllowed || m.header.Get("Allow") != "POST" {
		t.Errorf("GET on upload: %d Allow %q, want 405 Allow: POST", m.status, m.header.Get("Allow"))
	}
	d := do(t, "GET", get+"&format=json", "", nil)
	if d.body["key"] != "media/"+id+".jpg" || d.body["content_type"] != "image/jpeg" || d.body["size"] != float64(5000) || d.body["url"] == nil {
		t.Errorf("format=json: %s, want the descriptor", d.raw)
	}
	r := do(t, "GET", get+"&redirect=true", "", nil)
	if r.status != http.StatusFound || r.header.Get("Location") == "" {
		t.Fatalf("redirect=true: %d, Location %q", r.status, r.header.Get("Location"))
	}
	resp, err := http.Get(r.header.Get("Location")) // the presigned link serves the bytes
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, img) {
		t.Errorf("presigned url served %d bytes, want %d", len(got), len(img))
	}
	e := do(t, "GET", st.URL+"/cgi-bin/media/get?media_id=no-such-media", "", nil)
	if e.status != 200 || e.header.Get("Content-Type") != "text/plain" || e.body["errcode"] != float64(40007) {
		t.Errorf("unknown media: %d %q %s, want 200 text/plain errcode 40007", e.status, e.header.Get("Content-Type"), e.raw)
	}

	// Video: {"video_url"}, a link to the stored copy.
	vid := mediatest.Sample(media.MP4, 300<<10)
	ct, body = form("clip.mp4", vid)
	vidID, _ := do(t, "POST", st.URL+"/cgi-bin/media/upload?type=video", ct, body).body["media_id"].(string)
	v := do(t, "GET", st.URL+"/cgi-bin/media/get?media_id="+vidID, "", nil)
	link, _ := v.body["video_url"].(string)
	if v.status != 200 || len(v.body) != 1 || link == "" {
		t.Fatalf("get video: %d %s, want {\"video_url\"}", v.status, v.raw)
	}
	resp, err = http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, vid) {
		t.Errorf("video_url served %d bytes, want the %d uploaded", len(got), len(vid))
	}
}

// A file larger than a Lambda response carries answers a redirect to its
// stored copy.
func TestGetLargeFileRedirects(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{Env: map[string]string{bootstrap.EnvInlineLimit: "4KB"}})
	img := mediatest.Sample(media.JPEG, 5000)
	ct, body := form("photo.jpg", img)
	id, _ := do(t, "POST", st.URL+"/cgi-bin/media/upload?type=image", ct, body).body["media_id"].(string)
	r := do(t, "GET", st.URL+"/cgi-bin/media/get?media_id="+id, "", nil)
	if r.status != http.StatusFound || !strings.Contains(r.header.Get("Location"), "X-Amz-Signature") {
		t.Errorf("a 5000-byte file over a 4KB limit: %d Location %q, want 302 to a presigned link", r.status, r.header.Get("Location"))
	}
	if small := do(t, "GET", st.URL+"/cgi-bin/media/get?media_id="+id+"&format=json", "", nil); small.status != 200 {
		t.Errorf("format=json: %d", small.status)
	}
}

// get spends WeChat's media/get quota once: media uploaded by this
// deployment is answered from its object while unchanged, media fetched
// once from the bucket after.
func TestGetSpendsQuotaOnce(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{})
	const key = "upload/image/mine.jpg"
	img := mediatest.Sample(media.JPEG, 3000)
	st.Put(t, key, img)
	up := do(t, "POST", st.URL+"/cgi-bin/media/upload?type=image", "application/json", []byte(`{"key":"`+key+`"}`))
	id, _ := up.body["media_id"].(string)
	for range 3 {
		if a := do(t, "GET", st.URL+"/cgi-bin/media/get?media_id="+id, "", nil); a.raw != string(img) {
			t.Fatalf("get of an uploaded media_id: %d, %d bytes", a.status, len(a.raw))
		}
	}
	if n := st.Sim.Stats().Get; n != 0 {
		t.Errorf("media/get calls = %d, want 0: this deployment uploaded it, from an object still the same", n)
	}
	// The object changes: its bytes are no longer the media's; WeChat's are, once.
	st.Put(t, key, mediatest.Sample(media.JPEG, 4000))
	for range 3 {
		if a := do(t, "GET", st.URL+"/cgi-bin/media/get?media_id="+id, "", nil); a.raw != string(img) {
			t.Fatalf("get after the object changed: %d, %d bytes, want the uploaded 3000", a.status, len(a.raw))
		}
	}
	if n := st.Sim.Stats().Get; n != 1 {
		t.Errorf("media/get calls = %d, want 1: fetched once, then answered from media/", n)
	}
}

// Hostile or wrong input is refused with a WeChat-shaped error and costs no
// WeChat call.
func TestRefusals(t *testing.T) {
	logs := &stacktest.Logs{}
	st := stacktest.Start(t, stacktest.Options{Env: map[string]string{bootstrap.EnvAllowedPrefixes: "incoming"}, Logs: logs})
	st.Put(t, "incoming-x/ok.jpg", mediatest.Sample(media.JPEG, 100))
	st.Put(t, "media/ok.jpg", mediatest.Sample(media.JPEG, 100))
	st.Put(t, "incoming/big.jpg", mediatest.Sample(media.JPEG, 10*media.MB+1))
	st.Put(t, "incoming/empty.jpg", nil)
	st.Put(t, "outside/ok.jpg", mediatest.Sample(media.JPEG, 100))
	up := st.URL + "/cgi-bin/media/upload"
	img := st.URL + "/cgi-bin/media/uploadimg"
	mp := func(name string, data []byte) (string, []byte) { return form(name, data) }
	js := func(v string) (string, []byte) { return "application/json", []byte(v) }
	tests := []struct {
		name       string
		url        string
		body       func() (string, []byte)
		wantStatus int
		wantCode   int
	}{
		{"ErrImageOver10MB", up + "?type=image", func() (string, []byte) { return js(`{"key":"incoming/big.jpg"}`) }, 413, 40009},
		{"ErrVoiceOver2MB", up + "?type=voice", func() (string, []byte) { return mp("a.mp3", mediatest.Sample(media.MP3, 2*media.MB+1)) }, 413, 40010},
		{"ErrThumbOver64KB", up + "?type=thumb", func() (string, []byte) { return mp("a.jpg", mediatest.Sample(media.JPEG, 64*media.KB+1)) }, 413, 40012},
		{"ErrUploadImgOver1MB", img, func() (string, []byte) { return mp("a.png", mediatest.Sample(media.PNG, media.MB+1)) }, 413, 40009},
		{"ErrEmptyImage", up + "?type=image", func() (string, []byte) { return mp("a.jpg", nil) }, 400, 41005},
		{"ErrEmptyObject", up + "?type=image", func() (string, []byte) { return js(`{"key":"incoming/empty.jpg"}`) }, 400, 41005},
		{"ErrEmptyUploadImg", img, func() (string, []byte) { return mp("a.png", nil) }, 400, 41005},
		{"ErrTextNamedJPEG", up + "?type=image", func() (string, []byte) { return mp("a.jpg", []byte("just some text, honest")) }, 415, 40005},
		{"ErrPNGAsThumb", up + "?type=thumb", func() (string, []byte) { return mp("a.jpg", mediatest.Sample(media.PNG, 100)) }, 415, 40005},
		{"ErrGIFAsUploadImg", img, func() (string, []byte) { return mp("a.png", mediatest.Sample(media.GIF, 100)) }, 415, 40005},
		{"ErrMP4AsVoice", up + "?type=voice", func() (string, []byte) { return mp("a.mp3", mediatest.Sample(media.MP4, 100)) }, 415, 40005},
		{"ErrUnknownType", up + "?type=sticker", func() (string, []byte) { return mp("a.jpg", mediatest.Sample(media.JPEG, 100)) }, 400, 40004},
		{"ErrNoType", up, func() (string, []byte) { return mp("a.jpg", mediatest.Sample(media.JPEG, 100)) }, 400, 40004},
		{"ErrKeyDotDot", up + "?type=image", func() (string, []byte) { return js(`{"key":"samples/../secrets/x.jpg"}`) }, 400, 40035},
		{"ErrKeyAbsolute", up + "?type=image", func() (string, []byte) { return js(`{"key":"/samples/test.jpg"}`) }, 400, 40035},
		{"ErrKeyOtherBucket", up + "?type=image", func() (string, []byte) { return js(`{"key":"s3://other-bucket/samples/test.jpg"}`) }, 400, 40035},
		{"ErrBucketField", up + "?type=image", func() (string, []byte) { return js(`{"bucket":"other-bucket","key":"samples/test.jpg"}`) }, 403, 40035},
		{"ErrKeyOutsidePrefixes", up + "?type=image", func() (string, []byte) { return js(`{"key":"outside/ok.jpg"}`) }, 400, 40035},
		{"ErrKeyPrefixWithoutBoundary", up + "?type=image", func() (string, []byte) { return js(`{"key":"incoming-x/ok.jpg"}`) }, 400, 40035},
		{"ErrKeyUnderResults", up + "?type=image", func() (string, []byte) { return js(`{"key":"results/upload/image/test.jpg.json"}`) }, 400, 40035},
		{"ErrKeyUnderMedia", up + "?type=image", func() (string, []byte) { return js(`{"key":"media/ok.jpg"}`) }, 400, 40035},
		{"ErrKeyUnderClaims", up + "?type=image", func() (string, []byte) { return js(`{"key":"claims/0123"}`) }, 400, 40035},
		{"ErrKeyEmpty", up + "?type=image", func() (string, []byte) { return js(`{}`) }, 400, 40035},
		{"ErrNoSuchKey", up + "?type=image", func() (string, []byte) { return js(`{"key":"incoming/missing.jpg"}`) }, 404, 40035},
		{"ErrMalformedJSON", up + "?type=image", func() (string, []byte) { return js(`{"key":`) }, 400, 47001},
		{"ErrMultipartNoBoundaryNoPart", up + "?type=image", func() (string, []byte) { return "multipart/form-data", []byte("--x\r\n") }, 400, 41005},
		{"ErrMultipartNoBoundaryAnywhere", up + "?type=image", func() (string, []byte) { return "multipart/form-data", []byte("hello\r\n") }, 400, 47001},
		{"ErrMultipartBoundaryLineTooLong", up + "?type=image", func() (string, []byte) {
			return "multipart/form-data", []byte("--" + strings.Repeat("b", 200) + "\r\n")
		}, 400, 47001},
		{"ErrMultipartNoMediaPart", up + "?type=image", func() (string, []byte) {
			var buf bytes.Buffer
			w := multipart.NewWriter(&buf)
			w.WriteField("file", "x")
			w.Close()
			return w.FormDataContentType(), buf.Bytes()
		}, 400, 41005},
		{"ErrMultipartTruncated", up + "?type=image", func() (string, []byte) {
			ct, b := mp("a.jpg", mediatest.Sample(media.JPEG, 5000))
			return ct, b[:2000]
		}, 400, 47001},
		{"ErrNotMultipartOrJSON", up + "?type=image", func() (string, []byte) { return "text/plain", []byte("hello") }, 415, 47001},
		{"ErrBodyOverLambdaLimit", up + "?type=video", func() (string, []byte) { return mp("a.mp4", mediatest.Sample(media.MP4, 5*media.MB)) }, 413, 40006},
		{"ErrHugeQuery", up + "?type=image&pad=" + strings.Repeat("x", 10000), func() (string, []byte) { return mp("a.jpg", mediatest.Sample(media.JPEG, 100)) }, 414, 40035},
		{"ErrNoMediaID", st.URL + "/cgi-bin/media/get", nil, 400, 41006},
		{"ErrBadMediaID", st.URL + "/cgi-bin/media/get?media_id=..%2F..%2Fx", nil, 404, 40007},
		{"ErrUnknownRoute", st.URL + "/cgi-bin/menu/get", nil, 404, 40035},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := st.Sim.Stats()
			method, ct, body := "GET", "", []byte(nil)
			if tt.body != nil {
				method = "POST"
				ct, body = tt.body()
			}
			a := do(t, method, tt.url, ct, body)
			if a.status != 200 || a.body["errcode"] != float64(tt.wantCode) {
				t.Fatalf("got %d %s, want 200 errcode %d, as WeChat answers", a.status, a.raw, tt.wantCode)
			}
			if got := lastFailureStatus(t, logs); got != tt.wantStatus {
				t.Errorf("the log line says the failure stands for %d, want %d", got, tt.wantStatus)
			}
			if msg, _ := a.body["errmsg"].(string); msg == "" || strings.Contains(msg, "incoming") {
				t.Errorf("errmsg %q: empty, or lists the configuration", msg)
			}
			if after := st.Sim.Stats(); after.Upload != before.Upload || after.UploadImg != before.UploadImg || after.Get != before.Get {
				t.Errorf("a refused request reached WeChat: %+v -> %+v", before, after)
			}
		})
	}
	t.Run("TooLargePointsToS3", func(t *testing.T) {
		ct, body := mp("a.mp4", mediatest.Sample(media.MP4, 5*media.MB))
		a := do(t, "POST", up+"?type=video", ct, body)
		if msg, _ := a.body["errmsg"].(string); !strings.Contains(msg, `{"key"`) || !strings.Contains(msg, "upload/<type>/") ||
			!strings.Contains(msg, "/cgi-bin/media/upload-url") || !strings.Contains(msg, strconv.Itoa(httpapi.MaxBody)) {
			t.Errorf("errmsg %q should state the %d-byte limit and point to the S3 routes", msg, httpapi.MaxBody)
		}
		if !strings.Contains(a.raw, "upload/<type>/") {
			t.Errorf("answer %q escapes < and >", a.raw)
		}
	})
}

// lastFailureStatus is the failure_status of the last request the log
// says failed or was refused.
func lastFailureStatus(t *testing.T, logs *stacktest.Logs) int {
	t.Helper()
	status := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) == nil && (l["msg"] == "request refused" || l["msg"] == "request failed") {
			f, _ := l["failure_status"].(float64)
			status = int(f)
		}
	}
	return status
}

// The access log records the status sent: a redirect is a 302.
func TestAccessLogStatus(t *testing.T) {
	logs := &stacktest.Logs{}
	st := stacktest.Start(t, stacktest.Options{Logs: logs})
	ct, body := form("a.jpg", mediatest.Sample(media.JPEG, 1000))
	up := do(t, "POST", st.URL+"/cgi-bin/media/upload?type=image", ct, body)
	id, _ := up.body["media_id"].(string)
	if r := do(t, "GET", st.URL+"/cgi-bin/media/get?redirect=true&media_id="+id, "", nil); r.status != http.StatusFound {
		t.Fatalf("got %d, want 302", r.status)
	}
	do(t, "GET", st.URL+"/cgi-bin/media/get?media_id=nope", "", nil)
	var statuses []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) == nil && l["route"] == "get" && (l["msg"] == "request" || l["msg"] == "request refused") {
			statuses = append(statuses, fmt.Sprint(l["status"], "/", l["failure_status"]))
		}
	}
	if strings.Join(statuses, " ") != "302/<nil> 200/404" {
		t.Errorf("get's access log statuses (sent/stands for) %v, want [302/<nil> 200/404]", statuses)
	}
}

func TestClientAccessTokenIgnoredAndNeverEchoed(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{})
	const theirs = "CLIENT-TOKEN-123"
	ct, body := form("a.jpg", mediatest.Sample(media.JPEG, 100))
	a := do(t, "POST", st.URL+"/cgi-bin/media/upload?type=image&access_token="+theirs, ct, body)
	if a.status != 200 {
		t.Fatalf("got %d %s", a.status, a.raw)
	}
	e := do(t, "GET", st.URL+"/cgi-bin/media/get?media_id=nope&access_token="+theirs, "", nil)
	for _, s := range []string{a.raw, e.raw} {
		if strings.Contains(s, theirs) {
			t.Errorf("answer echoes the client's access_token: %s", s)
		}
	}
}
