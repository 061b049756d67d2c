package reply_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"

	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/reply"
)

func TestStatus(t *testing.T) {
	noRoute := &reply.Refusal{Status: http.StatusNotFound, Reason: "no such route"}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"OK", nil, http.StatusOK},
		{"Deadline", fmt.Errorf("upload: %w", context.DeadlineExceeded), http.StatusGatewayTimeout},
		{"Refusal", failure.Wrap(failure.Caller, failure.CodeInvalidParam, noRoute, "no route"), http.StatusNotFound},
		{"NotFound", failure.Wrap(failure.Caller, failure.CodeInvalidParam, failure.ErrNotFound, "no such key"), http.StatusNotFound},
		{"CodeFileType", failure.New(failure.Caller, failure.CodeInvalidFileType, "invalid file type"), http.StatusUnsupportedMediaType},
		{"CodeImageSize", failure.New(failure.Caller, failure.CodeInvalidImageSize, "invalid image size"), http.StatusRequestEntityTooLarge},
		{"CodeMediaID", failure.New(failure.Caller, failure.CodeInvalidMediaID, "invalid media_id"), http.StatusNotFound},
		{"CodeDailyQuota", failure.New(failure.Config, failure.CodeDailyQuota, "api freq out of limit"), http.StatusTooManyRequests},
		{"CodeMinuteQuota", failure.New(failure.WeChat, failure.CodeMinuteQuota, "minute quota"), http.StatusTooManyRequests},
		{"Caller", failure.New(failure.Caller, failure.CodeInvalidParam, "invalid parameter"), http.StatusBadRequest},
		{"Config", failure.New(failure.Config, failure.CodeSystem, "system error"), http.StatusBadGateway},
		{"WeChat", failure.New(failure.WeChat, failure.CodeSystem, "system error"), http.StatusBadGateway},
		{"S3", failure.New(failure.S3, failure.CodeSystem, "system error"), http.StatusServiceUnavailable},
		{"Conflict", failure.New(failure.Conflict, failure.CodeSystem, "system error"), http.StatusConflict},
		{"Unclassified", errors.New("boom"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reply.Status(tt.err); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
	for _, k := range failure.Kinds() {
		if reply.Status(failure.New(k, failure.CodeSystem, "system error")) == 0 {
			t.Errorf("kind %s stands for no status", k)
		}
	}
}

// A failure is answered as WeChat answers it: HTTP 200 and its errcode and
// errmsg, never its cause, byte for byte as WeChat writes it (no trailing
// newline) and labelled as WeChat labels it.
func TestError(t *testing.T) {
	rec := httptest.NewRecorder()
	reply.Error(rec, failure.Wrap(failure.S3, failure.CodeSystem, errors.New("GET s3://b/k: AccessDenied"), "system error: S3 failed"))
	want := `{"errcode":-1,"errmsg":"system error: S3 failed"}`
	if got := rec.Body.String(); rec.Code != 200 || got != want ||
		rec.Header().Get("Content-Type") != "application/json; encoding=utf-8" || rec.Header().Get("Cache-Control") != "no-store" ||
		rec.Header().Get("Content-Length") != strconv.Itoa(len(want)) {
		t.Errorf("got %d %q %v, want 200 %q as application/json; encoding=utf-8, no-store, its length", rec.Code, got, rec.Header(), want)
	}
}

// Every JSON answer is written without the newline json.Encoder adds,
// with < > & as they are, labelled as asked.
func TestNoTrailingNewline(t *testing.T) {
	tests := []struct {
		name, contentType, want string
		write                   func(w http.ResponseWriter)
	}{
		{"JSON", "application/json; encoding=utf-8", `{"url":"http://x/a?b=1&c=<2>"}`,
			func(w http.ResponseWriter) { reply.JSON(w, 200, map[string]string{"url": "http://x/a?b=1&c=<2>"}) }},
		{"VideoURL", "application/json", `{"video_url":"http://v"}`,
			func(w http.ResponseWriter) {
				reply.JSONAs(w, 200, reply.ContentTypeVideoURL, map[string]string{"video_url": "http://v"})
			}},
		{"TextError", "text/plain", `{"errcode":40007,"errmsg":"invalid media_id"}`,
			func(w http.ResponseWriter) {
				reply.ErrorStatus(w, 200, reply.ContentTypeText, failure.New(failure.Caller, failure.CodeInvalidMediaID, "invalid media_id"))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.write(rec)
			if got, ct := rec.Body.String(), rec.Header().Get("Content-Type"); got != tt.want || ct != tt.contentType {
				t.Errorf("got %q as %q, want %q as %q", got, ct, tt.want, tt.contentType)
			}
		})
	}
}

func ExampleError() {
	w := httptest.NewRecorder()
	reply.Error(w, failure.New(failure.Caller, failure.CodeInvalidFileType, "invalid file type: image is <pdf>, want jpeg, png or gif"))
	fmt.Println(w.Code, reply.Status(failure.New(failure.Caller, failure.CodeInvalidFileType, "")))
	os.Stdout.Write(w.Body.Bytes())
	// Output:
	// 200 415
	// {"errcode":40005,"errmsg":"invalid file type: image is <pdf>, want jpeg, png or gif"}
}
