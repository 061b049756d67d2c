// Package compat_test holds the drop-in tests: unmodified, widely used
// third-party WeChat SDKs, each with its stock token handling and only its
// base URL changed, against `make local`'s stack, run as a user runs them:
// github.com/silenceper/wechat/v2 here (its own util.SetURIModifier), and
// the Node SDKs of node/ (node_test.go runs them, and the cloud call
// through the Lambda RIE). It is a module of its own, so that the
// product's go.mod gains nothing.
package compat_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2"
	"github.com/silenceper/wechat/v2/cache"
	oaconfig "github.com/silenceper/wechat/v2/officialaccount/config"
	"github.com/silenceper/wechat/v2/officialaccount/material"
	"github.com/silenceper/wechat/v2/util"
)

// base is the running make local's API, e.g. http://127.0.0.1:34567;
// state its state file (localaws.State), naming its backends.
var base, state string

// The apps make local serves: its default and a second one, both reached
// through the one base URL. The SDKs are configured with a secret of
// their own: wxmedia neither checks nor needs it.
const (
	defaultApp = "wx-local-appid"
	secondApp  = "wx-compat-second"
	sdkSecret  = "not-the-appsecret"
)

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

// run builds and starts cmd/local on free ports, points the SDK at it and
// runs the tests.
func run(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "wxmedia-compat-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "local")
	build := exec.Command("go", "build", "-C", "..", "-o", bin, "./cmd/local")
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("build cmd/local: %v\n%s", err, out)
	}
	var ports [4]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return 0, err
		}
	}
	state = filepath.Join(dir, "local.json")
	cmd := exec.Command(bin)
	cmd.Env = append(cleanEnv(), "WXMEDIA_LOCAL_STATE="+state, "LOCAL_WECHAT_APPS="+secondApp+"=compat-second-appsecret",
		fmt.Sprintf("LOCAL_PORT=%d", ports[0]), fmt.Sprintf("LOCAL_S3_PORT=%d", ports[1]),
		fmt.Sprintf("LOCAL_SM_PORT=%d", ports[2]), fmt.Sprintf("LOCAL_WECHAT_PORT=%d", ports[3]))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	}()
	base = fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	if err := waitUp(state, 60*time.Second); err != nil {
		return 0, fmt.Errorf("%v\n%s", err, logs.String())
	}

	// The one change a user makes: WeChat's base URL, through the SDK's own hook.
	util.SetURIModifier(func(uri string) string {
		for _, host := range []string{"https://api.weixin.qq.com", "https://qyapi.weixin.qq.com"} {
			uri = strings.Replace(uri, host, base, 1)
		}
		return uri
	})
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "make local's output:\n%s\n", logs.String())
	}
	return code, nil
}

// cleanEnv is this environment without what would point the local stack
// elsewhere.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "WECHAT_") || strings.HasPrefix(k, "LOCAL_") ||
			k == "MEDIA_BUCKET" || k == "ALLOWED_PREFIXES" || k == "MEDIA_LIMITS" || k == "GET_INLINE_LIMIT" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitUp waits for make local's state file and its API.
func waitUp(state string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if data, err := os.ReadFile(state); err == nil && json.Valid(data) {
			if resp, err := http.Get(base + "/cgi-bin/media/get"); err == nil {
				resp.Body.Close()
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("make local did not come up")
}

// officialAccount is the SDK's Official Account client of app appID, as
// an app builds it, with its stock token handling: GET /cgi-bin/token, or
// POST /cgi-bin/stable_token with UseStableAK.
func officialAccount(appID string, stable bool) *material.Material {
	return wechat.NewWechat().GetOfficialAccount(&oaconfig.Config{AppID: appID, AppSecret: sdkSecret, Cache: cache.NewMemory(),
		UseStableAK: stable}).GetMaterial()
}

// getMedia is media/get as the SDK serves it: GetMediaURL, fetched with
// its own util.HTTPGet and read with util.HandleFileResponse, as its work
// client's GetTempFile does.
func getMedia(m *material.Material, mediaID string) ([]byte, error) {
	u, err := m.GetMediaURL(mediaID)
	if err != nil {
		return nil, err
	}
	resp, err := util.HTTPGet(u)
	if err != nil {
		return nil, err
	}
	return util.HandleFileResponse(resp, "GetMedia")
}

func picture() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 90, 255})
		}
	}
	return img
}

// file writes data under a test's directory, named name.
func file(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func jpegData(t *testing.T) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, picture(), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func pngData(t *testing.T) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, picture()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// mp3 and mp4 are files of those formats as far as their first bytes say.
func mp3() []byte { return append([]byte("ID3\x04\x00\x00\x00\x00\x00\x00"), make([]byte, 4000)...) }
func mp4() []byte {
	return append([]byte{0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'm', 'p', '4', '2', 0, 0, 0, 0}, make([]byte, 8000)...)
}

// Each test runs against both token routes: the default app through
// /cgi-bin/token, the second through /cgi-bin/stable_token.
var clients = []struct {
	name   string
	appID  string
	stable bool
}{{"token", defaultApp, false}, {"stable_token", secondApp, true}}

func TestUploadEachType(t *testing.T) {
	for _, c := range clients {
		m := officialAccount(c.appID, c.stable)
		for _, tc := range []struct {
			typ  material.MediaType
			name string
			data []byte
		}{
			{material.MediaTypeImage, "photo.jpg", jpegData(t)},
			{material.MediaTypeImage, "banner.png", pngData(t)},
			{material.MediaTypeVoice, "hello.mp3", mp3()},
			{material.MediaTypeVideo, "clip.mp4", mp4()},
			{material.MediaTypeThumb, "thumb.jpg", jpegData(t)},
		} {
			t.Run(c.name+"/"+string(tc.typ)+"/"+tc.name, func(t *testing.T) {
				media, err := m.MediaUpload(tc.typ, file(t, tc.name, tc.data))
				if err != nil {
					t.Fatalf("MediaUpload: %v", err)
				}
				id := media.MediaID
				if tc.typ == material.MediaTypeThumb {
					id = media.ThumbMediaID // as WeChat answers a thumb
				}
				if id == "" || media.Type != tc.typ || media.CreatedAt == 0 {
					t.Errorf("MediaUpload = %+v, want a media_id of type %s", media, tc.typ)
				}
			})
		}
	}
}

func TestNonASCIIFileName(t *testing.T) {
	media, err := officialAccount(defaultApp, false).MediaUpload(material.MediaTypeImage, file(t, "图片 (1).jpg", jpegData(t)))
	if err != nil || media.MediaID == "" {
		t.Fatalf("MediaUpload of 图片 (1).jpg = %+v, %v; want a media_id", media, err)
	}
}

// A text file named .jpg is refused with WeChat's errcode, which the SDK
// reads because the answer comes with HTTP 200, as WeChat's.
func TestTextNamedJPEGRefused(t *testing.T) {
	_, err := officialAccount(defaultApp, false).MediaUpload(material.MediaTypeImage, file(t, "notes.jpg", []byte("plain text notes, not a picture\n")))
	if err == nil || !strings.Contains(err.Error(), "errcode=40005") {
		t.Fatalf("MediaUpload of text named .jpg: %v, want the SDK's error with errcode=40005", err)
	}
}

func TestUploadImg(t *testing.T) {
	for _, c := range clients {
		url, err := officialAccount(c.appID, c.stable).ImageUpload(file(t, "article.png", pngData(t)))
		if err != nil || !strings.HasPrefix(url, "http") {
			t.Fatalf("%s: ImageUpload = %q, %v; want a url", c.name, url, err)
		}
	}
}

// media/get answers the file itself; the SDK hands back its bytes. Each
// app's media is its own: the one base URL serves both, each app's calls
// by the token it fetched.
func TestGetImageAsBytes(t *testing.T) {
	data := jpegData(t)
	for _, c := range clients {
		m := officialAccount(c.appID, c.stable)
		media, err := m.MediaUpload(material.MediaTypeImage, file(t, "photo.jpg", data))
		if err != nil {
			t.Fatal(err)
		}
		got, err := getMedia(m, media.MediaID)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: get = %d bytes, %v; want the %d uploaded", c.name, len(got), err, len(data))
		}
		other := officialAccount(defaultApp, false)
		if c.appID == defaultApp {
			other = officialAccount(secondApp, true)
		}
		var ce *util.CommonError
		if _, err := getMedia(other, media.MediaID); !errors.As(err, &ce) || ce.ErrCode != 40007 {
			t.Errorf("%s's media_id got by the other app: %v, want errcode 40007", c.name, err)
		}
	}
}

// A video's media/get answers {"video_url"}, a link to its bytes.
func TestGetVideo(t *testing.T) {
	m := officialAccount(secondApp, true)
	data := mp4()
	media, err := m.MediaUpload(material.MediaTypeVideo, file(t, "clip.mp4", data))
	if err != nil {
		t.Fatal(err)
	}
	got, err := getMedia(m, media.MediaID)
	var v struct {
		VideoURL string `json:"video_url"`
	}
	if err != nil || json.Unmarshal(got, &v) != nil || v.VideoURL == "" {
		t.Fatalf("get video = %q, %v; want {\"video_url\"}", got, err)
	}
	resp, err := http.Get(v.VideoURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); !bytes.Equal(b, data) {
		t.Errorf("video_url served %d bytes, want the %d uploaded", len(b), len(data))
	}
}

// An unknown media_id is the SDK's own error type, with WeChat's errcode.
func TestGetUnknownIsTheSDKsError(t *testing.T) {
	_, err := getMedia(officialAccount(defaultApp, false), "no-such-media")
	var ce *util.CommonError
	if !errors.As(err, &ce) || ce.ErrCode != 40007 {
		t.Fatalf("get(unknown) = %v (%T), want *util.CommonError with errcode 40007", err, err)
	}
}
