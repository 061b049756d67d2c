package wechatsim_test

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/internal/wechatsim"
)

const (
	mb = 1 << 20
	kb = 1 << 10
)

func TestUpload(t *testing.T) {
	sim, base := setup(t)
	tok := token(t, base)
	tests := []struct {
		name     string
		query    string // after access_token
		filename string
		size     int
		want     int
	}{
		{"OKImageJPG", "&type=image", "a.jpg", 100, 0},
		{"OKImageJPEGUpper", "&type=image", "A.JPEG", 100, 0},
		{"OKImagePNG", "&type=image", "a.png", 100, 0},
		{"OKImageGIF", "&type=image", "a.gif", 100, 0},
		{"OKImageBMP", "&type=image", "a.bmp", 100, 0},
		{"OKImageAtLimit", "&type=image", "a.jpg", 10 * mb, 0},
		{"OKVoiceAMR", "&type=voice", "a.amr", 100, 0},
		{"OKVoiceMP3", "&type=voice", "a.mp3", 100, 0},
		{"OKVideo", "&type=video", "a.mp4", 100, 0},
		{"OKThumb", "&type=thumb", "a.jpg", 64 * kb, 0},
		{"ErrTypeMissing", "", "a.jpg", 100, 40004},
		{"ErrTypeUnknown", "&type=file", "a.jpg", 100, 40004},
		{"ErrFileTypeImage", "&type=image", "a.webp", 100, 40005},
		{"ErrFileTypeNoExt", "&type=image", "jpg", 100, 40005},
		{"ErrFileTypeVoice", "&type=voice", "a.wav", 100, 40005},
		{"ErrFileTypeVideo", "&type=video", "a.mov", 100, 40005},
		{"ErrFileTypeThumbPNG", "&type=thumb", "a.png", 100, 40005},
		{"ErrNonASCIIName", "&type=image", "图片.jpg", 100, 41005},
		{"ErrEmpty", "&type=image", "a.jpg", 0, 41005},
		{"ErrImageSize", "&type=image", "a.jpg", 10*mb + 1, 40009},
		{"ErrVoiceSize", "&type=voice", "a.mp3", 2*mb + 1, 40010},
		{"ErrVideoSize", "&type=video", "a.mp4", 10*mb + 1, 40011},
		{"ErrThumbSize", "&type=thumb", "a.jpg", 64*kb + 1, 40012},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := bytes.Repeat([]byte{0xA5}, tt.size)
			a := upload(t, base, "/cgi-bin/media/upload?access_token="+tok+tt.query, tt.filename, data)
			if a.Errcode != tt.want {
				t.Fatalf("errcode: got %d (%s), want %d", a.Errcode, a.Errmsg, tt.want)
			}
			if tt.want != 0 {
				if a.MediaID != "" || a.ThumbMediaID != "" {
					t.Errorf("got a media id on error: %+v", a)
				}
				return
			}
			typ := strings.TrimPrefix(tt.query, "&type=")
			id := a.MediaID
			if typ == "thumb" {
				// WeChat names the id thumb_media_id for thumbs.
				id = a.ThumbMediaID
				if a.MediaID != "" {
					t.Errorf("thumb: got media_id %q, want only thumb_media_id", a.MediaID)
				}
			}
			if a.Type != typ || len(id) < 32 || a.CreatedAt != t0.Unix() {
				t.Errorf("got type=%q id=%q created_at=%d, want type=%q an id of >= 32 chars created_at=%d", a.Type, id, a.CreatedAt, typ, t0.Unix())
			}
			if got, ok := sim.Media(id); !ok || !bytes.Equal(got, data) {
				t.Errorf("stored: got %d bytes (found %v), want the %d uploaded", len(got), ok, len(data))
			}
		})
	}
}

func TestUploadBadRequests(t *testing.T) {
	_, base := setup(t)
	tok := token(t, base)
	jpeg := []byte("\xff\xd8\xff\xe0 not really a jpeg")
	wrongField, wrongFieldCT := form(t, "file", "a.jpg", jpeg)
	noFilename := []byte("--B\r\nContent-Disposition: form-data; name=\"media\"\r\n\r\nxyz\r\n--B--\r\n")
	encodedName := []byte("--B\r\nContent-Disposition: form-data; name=\"media\"; filename*=UTF-8''%E5%9B%BE.jpg\r\n\r\nxyz\r\n--B--\r\n")
	truncated := []byte("--B\r\nContent-Disposition: form-data; name=\"media\"; filename=\"a.jpg\"\r\n\r\nxyz")
	tests := []struct {
		name        string
		path        string
		token       string
		contentType string
		body        []byte
		want        int
	}{
		{"ErrTokenMissing", "/cgi-bin/media/upload?type=image", "", wrongFieldCT, wrongField, 41001},
		{"ErrTokenUnknown", "/cgi-bin/media/upload?type=image", "nope", wrongFieldCT, wrongField, 40001},
		{"ErrWrongField", "/cgi-bin/media/upload?type=image", tok, wrongFieldCT, wrongField, 41005},
		{"ErrNotMultipart", "/cgi-bin/media/upload?type=image", tok, "image/jpeg", jpeg, 41005},
		{"ErrNoBoundary", "/cgi-bin/media/upload?type=image", tok, "multipart/form-data", wrongField, 41005},
		{"ErrNoFilename", "/cgi-bin/media/upload?type=image", tok, "multipart/form-data; boundary=B", noFilename, 41005},
		{"ErrEncodedNonASCIIName", "/cgi-bin/media/upload?type=image", tok, "multipart/form-data; boundary=B", encodedName, 41005},
		{"ErrTruncated", "/cgi-bin/media/upload?type=image", tok, "multipart/form-data; boundary=B", truncated, 41005},
		{"ErrEmptyBody", "/cgi-bin/media/upload?type=image", tok, "multipart/form-data; boundary=B", nil, 41005},
		{"UploadImgErrTokenMissing", "/cgi-bin/media/uploadimg?", "", wrongFieldCT, wrongField, 41001},
		{"UploadImgErrWrongField", "/cgi-bin/media/uploadimg?", tok, wrongFieldCT, wrongField, 41005},
		{"UploadImgErrNotMultipart", "/cgi-bin/media/uploadimg?", tok, "image/jpeg", jpeg, 41005},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := base + tt.path
			if tt.token != "" {
				url += "&access_token=" + tt.token
			}
			resp, body := post(t, url, tt.contentType, tt.body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status: got %d, want 200", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json; encoding=utf-8" {
				t.Errorf("Content-Type: got %q, want %q", got, "application/json; encoding=utf-8")
			}
			if a := decode(t, body); a.Errcode != tt.want {
				t.Errorf("errcode: got %d (%s), want %d", a.Errcode, a.Errmsg, tt.want)
			}
		})
	}
}

func TestUploadChunked(t *testing.T) {
	sim, base := setup(t)
	tok := token(t, base)
	body, ct := form(t, "media", "a.jpg", []byte("jpeg bytes"))
	for _, tt := range []struct{ name, path string }{
		{"Upload", "/cgi-bin/media/upload?type=image&access_token=" + tok},
		{"UploadImg", "/cgi-bin/media/uploadimg?access_token=" + tok},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			go func() {
				_, err := pw.Write(body)
				pw.CloseWithError(err)
			}()
			req, err := http.NewRequest(http.MethodPost, base+tt.path, pr)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = -1 // sent chunked
			req.Header.Set("Content-Type", ct)
			resp, _ := do(t, req)
			if resp.StatusCode != http.StatusPreconditionFailed {
				t.Errorf("status: got %d, want 412", resp.StatusCode)
			}
		})
	}
	if got := sim.Stats(); got.Upload != 1 || got.UploadImg != 1 {
		t.Errorf("stats: got upload=%d uploadimg=%d, want 1 and 1 (rejected calls count)", got.Upload, got.UploadImg)
	}
}

func TestGet(t *testing.T) {
	sim, base := setup(t)
	tok := token(t, base)
	tests := []struct {
		name, typ, filename, wantType, wantExt string
	}{
		{"ImageJPEG", "image", "photo.jpg", "image/jpeg", ".jpg"},
		{"ImagePNG", "image", "photo.png", "image/png", ".png"},
		{"ImageGIF", "image", "anim.GIF", "image/gif", ".gif"},
		{"VoiceAMR", "voice", "v.amr", "audio/amr", ".amr"},
		{"VoiceMP3", "voice", "v.mp3", "audio/mpeg", ".mp3"},
		{"Thumb", "thumb", "t.jpeg", "image/jpeg", ".jpeg"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := bytes.Repeat([]byte{byte(i), 0, 0xff}, 1000+i)
			a := upload(t, base, "/cgi-bin/media/upload?type="+tt.typ+"&access_token="+tok, tt.filename, data)
			id := a.MediaID + a.ThumbMediaID
			resp, body := get(t, base+"/cgi-bin/media/get?access_token="+tok+"&media_id="+id)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
				t.Fatalf("got status %d and %d bytes, want 200 and the %d uploaded", resp.StatusCode, len(body), len(data))
			}
			for k, want := range map[string]string{
				"Content-Type":        tt.wantType,
				"Content-Disposition": `attachment; filename="` + id + tt.wantExt + `"`,
				"Content-Length":      strconv.Itoa(len(data)),
				"Cache-Control":       "no-cache, must-revalidate",
			} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s: got %q, want %q", k, got, want)
				}
			}
		})
	}
	if got := sim.Stats(); got.Get != int64(len(tests)) {
		t.Errorf("stats get: got %d, want %d", got.Get, len(tests))
	}
}

func TestGetErrors(t *testing.T) {
	_, base := setup(t)
	tok := token(t, base)
	tests := []struct {
		name, query string
		want        int
	}{
		{"ErrTokenMissing", "media_id=x", 41001},
		{"ErrTokenUnknown", "access_token=nope&media_id=x", 40001},
		{"ErrMediaIDMissing", "access_token=" + tok, 41006},
		{"ErrMediaIDUnknown", "access_token=" + tok + "&media_id=unknown", 40007},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, base+"/cgi-bin/media/get?"+tt.query)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status: got %d, want 200", resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != "text/plain" {
				t.Errorf("Content-Type: got %q, want %q, as WeChat labels media/get's errors", got, "text/plain")
			}
			if a := decode(t, body); a.Errcode != tt.want {
				t.Errorf("errcode: got %d (%s), want %d", a.Errcode, a.Errmsg, tt.want)
			}
		})
	}
}

func TestGetVideo(t *testing.T) {
	_, base := setup(t)
	tok := token(t, base)
	data := bytes.Repeat([]byte("mp4!"), 5000)
	id := upload(t, base, "/cgi-bin/media/upload?type=video&access_token="+tok, "clip.mp4", data).MediaID
	resp, body := get(t, base+"/cgi-bin/media/get?access_token="+tok+"&media_id="+id)
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type: got %q, want application/json", got)
	}
	a := decode(t, body)
	if want := base + "/_sim/video/" + id; a.VideoURL != want {
		t.Fatalf("video_url: got %q, want %q", a.VideoURL, want)
	}
	resp, body = get(t, a.VideoURL) // no token needed
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) || resp.Header.Get("Content-Type") != "video/mp4" {
		t.Errorf("video_url: got status %d, %d bytes, %q, want 200, the %d uploaded, video/mp4", resp.StatusCode, len(body), resp.Header.Get("Content-Type"), len(data))
	}
}

func TestMediaExpiry(t *testing.T) {
	tests := []struct {
		name    string
		advance time.Duration
		want    int
	}{
		{"JustBefore", wechatsim.MediaLifetime - time.Second, 0},
		{"AtThreeDays", wechatsim.MediaLifetime, 40007},
		{"Later", 10 * wechatsim.MediaLifetime, 40007},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, base := setup(t)
			tok := token(t, base)
			image := upload(t, base, "/cgi-bin/media/upload?type=image&access_token="+tok, "a.png", []byte("png")).MediaID
			video := upload(t, base, "/cgi-bin/media/upload?type=video&access_token="+tok, "a.mp4", []byte("mp4")).MediaID
			sim.Advance(tt.advance)
			tok = token(t, base)
			resp, body := get(t, base+"/cgi-bin/media/get?access_token="+tok+"&media_id="+image)
			got := 0
			if ct := resp.Header.Get("Content-Type"); ct == "text/plain" || strings.HasPrefix(ct, "application/json") {
				got = decode(t, body).Errcode
			}
			if got != tt.want {
				t.Errorf("get image: got errcode %d, want %d", got, tt.want)
			}
			if _, ok := sim.Media(image); ok != (tt.want == 0) {
				t.Errorf("Media: got found=%v, want %v", ok, tt.want == 0)
			}
			if resp, _ := get(t, base+"/_sim/video/"+video); (resp.StatusCode == http.StatusOK) != (tt.want == 0) {
				t.Errorf("video_url: got status %d, want 200 only before expiry", resp.StatusCode)
			}
		})
	}
}

func TestUploadImg(t *testing.T) {
	sim, base := setup(t)
	tests := []struct {
		name, filename string
		size           int
		want           int
	}{
		{"OKJPG", "a.jpg", 100, 0},
		{"OKJPEG", "a.jpeg", 100, 0},
		{"OKPNG", "a.png", 100, 0},
		{"OKAtLimit", "a.jpg", mb, 0},
		{"ErrFileTypeGIF", "a.gif", 100, 40005},
		{"ErrFileTypeBMP", "a.bmp", 100, 40005},
		{"ErrImageSize", "a.png", mb + 1, 40009},
		{"ErrNonASCIIName", "é.jpg", 100, 41005},
		{"ErrEmpty", "a.jpg", 0, 41005},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := bytes.Repeat([]byte{byte(i)}, tt.size)
			tok := token(t, base) // the clock moves on in each case
			a := upload(t, base, "/cgi-bin/media/uploadimg?access_token="+tok, tt.filename, data)
			if a.Errcode != tt.want {
				t.Fatalf("errcode: got %d (%s), want %d", a.Errcode, a.Errmsg, tt.want)
			}
			if tt.want != 0 {
				return
			}
			if !strings.HasPrefix(a.URL, base+"/_sim/img/") || !strings.HasSuffix(a.URL, ".jpg") {
				t.Fatalf("url: got %q, want %s/_sim/img/<id>.jpg", a.URL, base)
			}
			sim.Advance(30 * 24 * time.Hour) // uploadimg images never expire
			resp, body := get(t, a.URL)
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
				t.Errorf("url: got status %d and %d bytes, want 200 and the %d uploaded", resp.StatusCode, len(body), len(data))
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	sim, base := setup(t)
	tok := token(t, base)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			data := bytes.Repeat([]byte{byte(i)}, 4096)
			body, ct := form(t, "media", "a.jpg", data)
			req, _ := http.NewRequest(http.MethodPost, base+"/cgi-bin/media/upload?type=image&access_token="+tok, bytes.NewReader(body))
			req.Header.Set("Content-Type", ct)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("upload %d: %v", i, err)
				return
			}
			resp.Body.Close()
			sim.Stats()
			sim.SetFaults(wechatsim.Faults{})
		})
	}
	wg.Wait()
	if got := sim.Stats().Upload; got != 8 {
		t.Errorf("stats upload: got %d, want 8", got)
	}
}
