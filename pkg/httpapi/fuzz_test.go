package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/pkg/httpapi"
	"github.com/wxmedia/wxmedia/pkg/logging"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/transfer"
)

// fakeService answers without S3 or WeChat: the HTTP layer alone.
type fakeService struct {
	uploadBytes func(ctx context.Context, t media.Type, data []byte) (transfer.Result, error)
}

var _ httpapi.Service = (*fakeService)(nil)

func (f *fakeService) CheckKey(string) error { return nil }
func (f *fakeService) UploadKey(ctx context.Context, t media.Type, key string) (transfer.Result, error) {
	return transfer.Result{Type: string(t), MediaID: "M"}, nil
}
func (f *fakeService) UploadBytes(ctx context.Context, t media.Type, data []byte) (transfer.Result, error) {
	if f.uploadBytes != nil {
		return f.uploadBytes(ctx, t, data)
	}
	return transfer.Result{Type: string(t), MediaID: "M"}, nil
}
func (f *fakeService) Fetch(ctx context.Context, id string) (transfer.Fetched, error) {
	return transfer.Fetched{MediaID: id, ContentType: "image/jpeg", Filename: id + ".jpg", Size: 3}, nil
}

func (f *fakeService) OpenMedia(context.Context, transfer.Fetched) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("abc")), nil
}

func TestPanicAnswersAGenericSystemError(t *testing.T) {
	var logs bytes.Buffer
	h := httpapi.New(httpapi.Options{Service: &fakeService{uploadBytes: func(context.Context, media.Type, []byte) (transfer.Result, error) {
		panic("internal detail: s3://secret-bucket/key token=abc")
	}}, Logger: logging.New(&logs, "info")})
	ct, body := form("a.jpg", mediatest.Sample(media.JPEG, 100))
	req := httptest.NewRequest("POST", "/cgi-bin/media/upload?type=image", bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"errcode":-1,"errmsg":"system error"}` {
		t.Errorf("got %d %s, want 200 with a generic system error, as WeChat answers", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "internal detail") || !strings.Contains(logs.String(), `"failure_status":500`) {
		t.Error("the panic, and the 500 it stands for, are not in the logs for the operator")
	}
}

// FuzzMultipart feeds arbitrary bodies to the upload route: whatever comes
// in, the answer is WeChat-shaped JSON with a 2xx or 4xx status.
func FuzzMultipart(f *testing.F) {
	ct, body := form("test.jpg", mediatest.Sample(media.JPEG, 64))
	f.Add(ct, body)
	f.Add(ct, body[:len(body)/2])
	f.Add("multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"media\"\r\n\r\nabc\r\n--x--\r\n"))
	f.Add("multipart/form-data", []byte("--\r\n"))
	f.Add("multipart/form-data", []byte("--x\nContent-Disposition: form-data; name=\"media\"\n\nabc\n--x--\n"))
	f.Add("application/json", []byte(`{"key":"samples/test.jpg"}`))
	f.Add("application/json", []byte(`{"key":`))
	h := httpapi.New(httpapi.Options{Service: &fakeService{}, Logger: logging.New(discard{}, "error")})
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		req := httptest.NewRequest("POST", "/cgi-bin/media/upload?type=image", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("answer %q is not JSON", rec.Body)
		}
		if rec.Code != http.StatusOK && out["errcode"] == nil {
			t.Fatalf("error answer %q without errcode", rec.Body)
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func (f *fakeService) UploadForm(_ context.Context, t media.Type) (transfer.Form, error) {
	return transfer.Form{URL: "https://b.s3.amazonaws.com/", Key: "upload/" + string(t) + "/k"}, nil
}

func (f *fakeService) Outcome(_ context.Context, key string) (transfer.Result, error) {
	return transfer.Result{Key: key}, transfer.ErrPending
}
