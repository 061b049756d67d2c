package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/wxmedia/wxmedia/pkg/failure"
)

// statusOfKind is the HTTP status each kind of failure is answered with.
var statusOfKind = map[failure.Kind]int{
	failure.Caller:         http.StatusBadRequest,
	failure.Config:         http.StatusBadGateway,
	failure.WeChat:         http.StatusBadGateway,
	failure.S3:             http.StatusServiceUnavailable,
	failure.SecretsManager: http.StatusServiceUnavailable,
	failure.DynamoDB:       http.StatusServiceUnavailable,
	failure.Conflict:       http.StatusConflict,
	failure.Internal:       http.StatusInternalServerError,
}

// statusOfCode refines it for WeChat's errcodes that say more than their kind.
var statusOfCode = map[int]int{
	failure.CodeInvalidFileType:  http.StatusUnsupportedMediaType,
	failure.CodeInvalidMediaSize: http.StatusRequestEntityTooLarge,
	failure.CodeInvalidImageSize: http.StatusRequestEntityTooLarge,
	failure.CodeInvalidVoiceSize: http.StatusRequestEntityTooLarge,
	failure.CodeInvalidVideoSize: http.StatusRequestEntityTooLarge,
	failure.CodeInvalidThumbSize: http.StatusRequestEntityTooLarge,
	failure.CodeInvalidMediaID:   http.StatusNotFound,
	failure.CodeDailyQuota:       http.StatusTooManyRequests,
	failure.CodeMinuteQuota:      http.StatusTooManyRequests,
}

// The route's own refusals, which carry their status.
var (
	errNoRoute       = errors.New("no such route")
	errQueryTooLong  = errors.New("query string too long")
	errNotMultipart  = errors.New("neither multipart nor JSON")
	errBodyTooLarge  = errors.New("request body too large")
	errOtherBucket   = errors.New("another bucket")
	errMethod        = errors.New("method not allowed")
	statusOfSentinel = []struct {
		err    error
		status int
	}{
		{context.DeadlineExceeded, http.StatusGatewayTimeout},
		{errNoRoute, http.StatusNotFound},
		{errQueryTooLong, http.StatusRequestURITooLong},
		{errNotMultipart, http.StatusUnsupportedMediaType},
		{errBodyTooLarge, http.StatusRequestEntityTooLarge},
		{errOtherBucket, http.StatusForbidden},
		{errMethod, http.StatusMethodNotAllowed},
		{failure.ErrNotFound, http.StatusNotFound},
	}
)

// Status is the one table from a failure to the HTTP status it stands
// for: the route's own refusals and a deadline first, then WeChat's
// errcodes that say more than their kind, then the kind. Callers are
// answered HTTP 200, as WeChat answers them; the status goes to the log.
func Status(err error) int {
	if err == nil {
		return http.StatusOK
	}
	for _, s := range statusOfSentinel {
		if errors.Is(err, s.err) {
			return s.status
		}
	}
	if s := statusOfCode[failure.CodeOf(err)]; s != 0 {
		return s
	}
	return statusOfKind[failure.KindOf(err)]
}

// answer is WeChat's error shape.
type answer struct {
	Code    int    `json:"errcode"`
	Message string `json:"errmsg"`
}

// Content types of the answers, exactly: clients compare them as strings.
const (
	contentTypeJSON = "application/json"
	contentTypeText = "text/plain" // media/get's errors: how clients tell an error from a file
)

// WriteError answers err as WeChat answers errors: HTTP 200 and
// {"errcode","errmsg"} as application/json. The status the failure stands
// for (Status) goes to the log line, not to the caller: WeChat's clients
// reject any other status before they read the errcode.
func WriteError(w http.ResponseWriter, err error) { writeError(w, http.StatusOK, contentTypeJSON, err) }

// WritePlatformError answers err with status: the platform's own refusals,
// which no function code runs for deployed (API Gateway's 413 over its
// payload limit), as the local runner mirrors them.
func WritePlatformError(w http.ResponseWriter, status int, err error) {
	writeError(w, status, contentTypeJSON, err)
}

// writeError is the one place an error becomes an answer.
func writeError(w http.ResponseWriter, status int, contentType string, err error) {
	writeBody(w, status, contentType, answer{Code: failure.CodeOf(err), Message: failure.MessageOf(err)})
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) { writeBody(w, status, contentTypeJSON, v) }

// writeBody answers v encoded as JSON, labelled contentType, with < > &
// left as they are.
func writeBody(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// TooLarge is the refusal of a request body over limit bytes; n is its
// size, or -1 if it came without a Content-Length.
func TooLarge(n, limit int64) error {
	size := "the request body"
	if n >= 0 {
		size = fmt.Sprintf("the request body of %d bytes", n)
	}
	return failure.Wrap(failure.Caller, failure.CodeInvalidMediaSize, errBodyTooLarge,
		"%s is over this deployment's %d-byte limit (API Gateway and Lambda carry no more); put the file in the media bucket and send {\"key\":\"…\"}, or upload it under upload/<type>/ or uploadimg/", size, limit)
}
