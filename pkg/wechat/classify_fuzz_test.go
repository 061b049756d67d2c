package wechat

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"
)

// FuzzClassify feeds arbitrary media/get answers to the classifier: it never
// panics, and a binary answer streams exactly the bytes that came.
func FuzzClassify(f *testing.F) {
	f.Add("image/jpeg", []byte{0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3})
	f.Add("application/json", []byte(`{"errcode":40007,"errmsg":"invalid media_id"}`))
	f.Add("text/plain", []byte(`{"errcode":40007,"errmsg":"invalid media_id"}`))
	f.Add("application/json", []byte(`{"video_url":"http://example.invalid/v.mp4"}`))
	f.Add("image/jpeg", []byte(`  {"errcode":-1}`))
	f.Add("", []byte(`{`))
	f.Add("", []byte{})
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {contentType}},
			Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
		m, err := classifyMedia(resp)
		if err != nil {
			var a *Answer
			if !errors.As(err, &a) && !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error %v is neither a WeChat error nor a bad response", err)
			}
			return
		}
		if m.VideoURL != "" {
			return
		}
		got, err := io.ReadAll(m.Body)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("binary answer streamed %q, want %q", got, body)
		}
	})
}
