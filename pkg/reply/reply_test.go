package reply_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
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
// errmsg, never its cause.
func TestError(t *testing.T) {
	rec := httptest.NewRecorder()
	reply.Error(rec, failure.Wrap(failure.S3, failure.CodeSystem, errors.New("GET s3://b/k: AccessDenied"), "system error: S3 failed"))
	if got, want := rec.Body.String(), "{\"errcode\":-1,\"errmsg\":\"system error: S3 failed\"}\n"; rec.Code != 200 || got != want ||
		rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("got %d %q %v, want 200 %q as application/json, no-store", rec.Code, got, rec.Header(), want)
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
