package apierror_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"

	"github.com/wxmedia/wxmedia/pkg/apierror"
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/token"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

func TestClassify(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("upload s3://b/k: %w", err) }
	tests := []struct {
		name     string
		err      error
		status   int
		code     int
		retry    bool
		internal bool
	}{
		{"MediaTooLarge", &media.Error{Code: media.CodeVideoSize, Message: "x"}, 413, 40011, false, false},
		{"MediaFileType", &media.Error{Code: media.CodeFileType, Message: "x"}, 415, 40005, false, false},
		{"MediaMissing", &media.Error{Code: media.CodeMissing, Message: "x"}, 400, 41005, false, false},
		{"WeChatBusy", wrap(&wechat.Error{Code: -1, Message: "system error"}), 503, -1, true, false},
		{"WeChatInvalidMediaID", wrap(&wechat.Error{Code: 40007, Message: "invalid media_id"}), 404, 40007, false, false},
		{"WeChatQuota", wrap(&wechat.Error{Code: 45009, Message: "quota"}), 429, 45009, false, false},
		{"WeChatMinuteQuota", wrap(&wechat.Error{Code: 45011, Message: "api minute-quota reach limit"}), 429, 45011, true, false},
		{"WeChatIP", wrap(&wechat.Error{Code: 40164, Message: "invalid ip"}), 502, 40164, false, false},
		{"WeChatHTTP503", wrap(&wechat.StatusError{StatusCode: 503}), 502, -1, true, true},
		{"WeChatNonsense", fmt.Errorf("x: %w", wechat.ErrBadResponse), 502, -1, true, true},
		{"Connection", wrap(&url.Error{Op: "Post", URL: "http://x", Err: errors.New("reset")}), 502, -1, true, true},
		{"Deadline", wrap(context.DeadlineExceeded), 504, -1, true, true},
		{"Secret", wrap(&token.SecretError{SecretID: "wxmedia/app", Reason: "missing field"}), 503, -1, true, true},
		{"NoSuchKey", wrap(bucket.ErrNotFound), 404, 40035, false, false},
		{"Changed", wrap(bucket.ErrChanged), 409, -1, true, false},
		{"Denied", wrap(bucket.ErrDenied), 403, -1, false, true},
		{"Refused", apierror.BadRequest(47001, "data format error"), 400, 47001, false, false},
		{"Unknown", errors.New("something internal at 10.0.0.1"), 500, -1, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := apierror.Classify(tt.err)
			if o.Status != tt.status || o.Code != tt.code || o.Retry != tt.retry || o.Internal != tt.internal {
				t.Errorf("Classify = %+v, want status %d code %d retry %v internal %v", o, tt.status, tt.code, tt.retry, tt.internal)
			}
			if o.Message == "" {
				t.Error("no message")
			}
		})
	}
	if o := apierror.Classify(wrap(&token.SecretError{SecretID: "wxmedia/app", Reason: "x"})); o.Message != "system error: the app credentials are unavailable" {
		t.Errorf("a secret's trouble is shown to callers as %q", o.Message)
	}
}

func ExampleClassify() {
	err := fmt.Errorf("wechat media/get: %w", &wechat.Error{Code: 40007, Message: "invalid media_id"})
	o := apierror.Classify(err)
	fmt.Println(o.Status, o.Code, o.Message)
	// Output: 404 40007 invalid media_id
}
