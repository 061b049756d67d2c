// Package compat_test holds the drop-in test: an unmodified, widely used
// third-party WeChat SDK, github.com/silenceper/wechat/v2, with only its
// base URL changed (its own util.SetURIModifier), against `make local`'s
// stack, run as a user runs it. It is a module of its own, so that the
// product's go.mod gains nothing.
package compat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
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
	"github.com/silenceper/wechat/v2/work"
	workconfig "github.com/silenceper/wechat/v2/work/config"
)

// base is the running make local's API, e.g. http://127.0.0.1:34567.
var base string

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
	state := filepath.Join(dir, "local.json")
	cmd := exec.Command(bin)
	cmd.Env = append(cleanEnv(), "WXMEDIA_LOCAL_STATE="+state,
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

// fixedToken is the SDK's access token: wxmedia injects its own, server
// side, and ignores the one a client sends.
type fixedToken struct{}

func (fixedToken) GetAccessToken() (string, error) { return "ANY-CLIENT-TOKEN", nil }
func (fixedToken) GetAccessTokenContext(context.Context) (string, error) {
	return "ANY-CLIENT-TOKEN", nil
}

// officialAccount is the SDK's Official Account client, as an app builds it.
func officialAccount() *material.Material {
	oa := wechat.NewWechat().GetOfficialAccount(&oaconfig.Config{AppID: "wx-app", AppSecret: "unused", Cache: cache.NewMemory()})
	oa.SetAccessTokenHandle(fixedToken{})
	return oa.GetMaterial()
}

// workMaterial is the SDK's client whose media/get answers the bytes.
func workMaterial() interface {
	GetTempFile(mediaID string) ([]byte, error)
} {
	wk := work.NewWork(&workconfig.Config{CorpID: "corp", CorpSecret: "unused", Cache: cache.NewMemory()})
	wk.GetContext().AccessTokenHandle = fixedToken{}
	return wk.GetMaterial()
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

func TestUploadEachType(t *testing.T) {
	m := officialAccount()
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
		t.Run(string(tc.typ)+"/"+tc.name, func(t *testing.T) {
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

func TestNonASCIIFileName(t *testing.T) {
	media, err := officialAccount().MediaUpload(material.MediaTypeImage, file(t, "图片 (1).jpg", jpegData(t)))
	if err != nil || media.MediaID == "" {
		t.Fatalf("MediaUpload of 图片 (1).jpg = %+v, %v; want a media_id", media, err)
	}
}

// A text file named .jpg is refused with WeChat's errcode, which the SDK
// reads because the answer comes with HTTP 200, as WeChat's.
func TestTextNamedJPEGRefused(t *testing.T) {
	_, err := officialAccount().MediaUpload(material.MediaTypeImage, file(t, "notes.jpg", []byte("plain text notes, not a picture\n")))
	if err == nil || !strings.Contains(err.Error(), "errcode=40005") {
		t.Fatalf("MediaUpload of text named .jpg: %v, want the SDK's error with errcode=40005", err)
	}
}

func TestUploadImg(t *testing.T) {
	url, err := officialAccount().ImageUpload(file(t, "article.png", pngData(t)))
	if err != nil || !strings.HasPrefix(url, "http") {
		t.Fatalf("ImageUpload = %q, %v; want a url", url, err)
	}
}

// media/get answers the file itself; the SDK hands back its bytes.
func TestGetImageAsBytes(t *testing.T) {
	data := jpegData(t)
	media, err := officialAccount().MediaUpload(material.MediaTypeImage, file(t, "photo.jpg", data))
	if err != nil {
		t.Fatal(err)
	}
	got, err := workMaterial().GetTempFile(media.MediaID)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GetTempFile = %d bytes, %v; want the %d uploaded", len(got), err, len(data))
	}
}

// An unknown media_id is the SDK's own error type, with WeChat's errcode.
func TestGetUnknownIsTheSDKsError(t *testing.T) {
	_, err := workMaterial().GetTempFile("no-such-media")
	var ce *util.CommonError
	if !errors.As(err, &ce) || ce.ErrCode != 40007 {
		t.Fatalf("GetTempFile(unknown) = %v (%T), want *util.CommonError with errcode 40007", err, err)
	}
}
