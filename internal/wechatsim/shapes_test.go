package wechatsim_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/pkg/media"
)

// Each endpoint's answer, pinned as WeChat gives it: status, Content-Type,
// and the JSON fields (or the file and its headers). The tests of the
// service read WeChat through the simulator: these are what they see.
func TestAnswerShapes(t *testing.T) {
	_, base := setup(t)
	tok := token(t, base)
	jpeg := mediatest.Sample(media.JPEG, 2000)
	keys := func(body []byte) []string {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		var k []string
		for key := range m {
			k = append(k, key)
		}
		slices.Sort(k)
		return k
	}
	multipart := func(path, name string, data []byte) ([]byte, string) {
		body, ct := form(t, "media", name, data)
		resp, got := post(t, base+path+"access_token="+tok, ct, body)
		return got, resp.Header.Get("Content-Type")
	}
	const jsonCT = "application/json; encoding=utf-8"
	tests := []struct {
		name        string
		answer      func() ([]byte, string)
		contentType string
		fields      []string
	}{
		{"StableToken", func() ([]byte, string) {
			resp, got := post(t, base+"/cgi-bin/stable_token", "application/json", []byte(stableBody(false)))
			return got, resp.Header.Get("Content-Type")
		}, jsonCT, []string{"access_token", "expires_in"}},
		{"UploadImage", func() ([]byte, string) { return multipart("/cgi-bin/media/upload?type=image&", "a.jpg", jpeg) },
			jsonCT, []string{"created_at", "media_id", "type"}},
		{"UploadThumb", func() ([]byte, string) { return multipart("/cgi-bin/media/upload?type=thumb&", "a.jpg", jpeg) },
			jsonCT, []string{"created_at", "thumb_media_id", "type"}},
		{"UploadImg", func() ([]byte, string) { return multipart("/cgi-bin/media/uploadimg?", "a.jpg", jpeg) },
			jsonCT, []string{"url"}},
		{"UploadError", func() ([]byte, string) { return multipart("/cgi-bin/media/upload?type=sticker&", "a.jpg", jpeg) },
			jsonCT, []string{"errcode", "errmsg"}},
		{"GetError", func() ([]byte, string) {
			resp, got := get(t, base+"/cgi-bin/media/get?access_token="+tok+"&media_id=nope")
			return got, resp.Header.Get("Content-Type")
		}, "text/plain", []string{"errcode", "errmsg"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := tt.answer()
			if ct != tt.contentType || !slices.Equal(keys(body), tt.fields) {
				t.Errorf("got %q %s, want %q with exactly %v", ct, body, tt.contentType, tt.fields)
			}
		})
	}

	t.Run("GetFile", func(t *testing.T) {
		id := upload(t, base, "/cgi-bin/media/upload?type=image&access_token="+tok, "a.jpg", jpeg).MediaID
		resp, got := get(t, base+"/cgi-bin/media/get?access_token="+tok+"&media_id="+id)
		h := resp.Header
		if resp.StatusCode != 200 || string(got) != string(jpeg) || h.Get("Content-Type") != "image/jpeg" ||
			h.Get("Content-Disposition") != `attachment; filename="`+id+`.jpg"` || h.Get("Content-Length") != "2000" {
			t.Errorf("got %d %v, %d bytes; want the file as image/jpeg, attachment %s.jpg, 2000 bytes", resp.StatusCode, h, len(got), id)
		}
	})
	t.Run("GetVideo", func(t *testing.T) {
		id := upload(t, base, "/cgi-bin/media/upload?type=video&access_token="+tok, "a.mp4", mediatest.Sample(media.MP4, 3000)).MediaID
		resp, got := get(t, base+"/cgi-bin/media/get?access_token="+tok+"&media_id="+id)
		if resp.StatusCode != 200 || !slices.Equal(keys(got), []string{"video_url"}) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("got %d %q %s, want {\"video_url\"}", resp.StatusCode, resp.Header.Get("Content-Type"), got)
		}
	})
}
