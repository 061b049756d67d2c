package apierror

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/token"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

// Errcodes of the service's own refusals (WeChat's codes for the same thing).
const (
	CodeSystem       = -1    // system error
	CodeInvalidParam = 40035 // invalid parameter
	CodeDataFormat   = 47001 // data format error (malformed JSON or multipart)
	CodeMediaMissing = 41005 // media data missing
	CodeMediaIDEmpty = 41006 // media_id missing
)

// Error is a request the service refuses itself.
type Error struct {
	Status  int // HTTP status
	Code    int // WeChat-shaped errcode
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("errcode %d: %s", e.Code, e.Message) }

// BadRequest is a 400 with code.
func BadRequest(code int, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

// TooLarge is a 413.
func TooLarge(format string, args ...any) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: media.CodeSize, Message: fmt.Sprintf(format, args...)}
}

// Outcome is what a caller is told of an error.
type Outcome struct {
	Status  int    `json:"-"`
	Code    int    `json:"errcode"`
	Message string `json:"errmsg"`
	// Retry is true when the same request may succeed later (WeChat busy,
	// a timeout, an S3 hiccup): an S3 event is then failed so Lambda retries it.
	Retry bool `json:"-"`
	// Internal is true when Message is generic and the error must be logged in full.
	Internal bool `json:"-"`
}

// Classify maps err to its Outcome.
func Classify(err error) Outcome {
	var (
		ae *Error
		me *media.Error
		we *wechat.Error
		se *wechat.StatusError
		ke *token.SecretError
		ue *url.Error
	)
	switch {
	case err == nil:
		return Outcome{Status: http.StatusOK}
	case errors.As(err, &ae):
		return Outcome{Status: ae.Status, Code: ae.Code, Message: ae.Message}
	case errors.As(err, &me):
		status := http.StatusBadRequest
		switch {
		case me.TooLarge():
			status = http.StatusRequestEntityTooLarge
		case me.Code == media.CodeFileType:
			status = http.StatusUnsupportedMediaType
		}
		return Outcome{Status: status, Code: me.Code, Message: me.Message}
	case errors.As(err, &ke):
		// The secret's name is for the operator's logs, not for callers.
		return Outcome{Status: http.StatusServiceUnavailable, Code: CodeSystem, Message: "system error: the app credentials are unavailable", Retry: true, Internal: true}
	case errors.As(err, &we):
		return wechatOutcome(we)
	case errors.Is(err, context.DeadlineExceeded):
		return Outcome{Status: http.StatusGatewayTimeout, Code: CodeSystem, Message: "system error: timed out waiting for WeChat or S3", Retry: true, Internal: true}
	case errors.Is(err, context.Canceled):
		return Outcome{Status: http.StatusServiceUnavailable, Code: CodeSystem, Message: "system error: request cancelled", Retry: true, Internal: true}
	case errors.As(err, &se):
		return Outcome{Status: http.StatusBadGateway, Code: CodeSystem, Message: fmt.Sprintf("system error: WeChat answered HTTP %d", se.StatusCode), Retry: se.StatusCode >= 500, Internal: true}
	case errors.Is(err, wechat.ErrBadResponse):
		return Outcome{Status: http.StatusBadGateway, Code: CodeSystem, Message: "system error: unexpected answer from WeChat", Retry: true, Internal: true}
	case errors.As(err, &ue):
		return Outcome{Status: http.StatusBadGateway, Code: CodeSystem, Message: "system error: the connection to WeChat failed", Retry: true, Internal: true}
	case errors.Is(err, bucket.ErrNotFound):
		return Outcome{Status: http.StatusNotFound, Code: CodeInvalidParam, Message: "no such key in the media bucket" + keyOf(err)}
	case errors.Is(err, bucket.ErrChanged):
		return Outcome{Status: http.StatusConflict, Code: CodeSystem, Message: "the object changed while it was read; try again" + keyOf(err), Retry: true}
	case errors.Is(err, bucket.ErrDenied):
		return Outcome{Status: http.StatusForbidden, Code: CodeSystem, Message: "system error: access to the media bucket denied" + keyOf(err), Internal: true}
	}
	return Outcome{Status: http.StatusInternalServerError, Code: CodeSystem, Message: "system error", Retry: true, Internal: true}
}

func keyOf(err error) string {
	var be *bucket.Error
	if errors.As(err, &be) {
		return ": " + be.Key
	}
	return ""
}

func wechatOutcome(we *wechat.Error) Outcome {
	o := Outcome{Code: we.Code, Message: we.Message, Status: http.StatusBadGateway}
	switch we.Code {
	case wechat.CodeBusy:
		o.Status, o.Retry = http.StatusServiceUnavailable, true
	case wechat.CodeInvalidMediaID:
		o.Status = http.StatusNotFound
	case media.CodeInvalidType, CodeMediaMissing, CodeMediaIDEmpty, CodeInvalidParam:
		o.Status = http.StatusBadRequest
	case media.CodeFileType:
		o.Status = http.StatusUnsupportedMediaType
	case media.CodeSize, media.CodeImageSize, media.CodeVoiceSize, media.CodeVideoSize, media.CodeThumbSize:
		o.Status = http.StatusRequestEntityTooLarge
	case wechat.CodeQuota:
		o.Status = http.StatusTooManyRequests
	case 45011: // the per-minute quota: passes within the minute
		o.Status, o.Retry = http.StatusTooManyRequests, true
	case wechat.CodeInvalidToken, wechat.CodeBadToken, wechat.CodeTokenExpired:
		o.Retry = true // a token that failed twice in a row: try the whole thing later
	}
	return o
}
