package reply

import (
	"context"
	"errors"
	"net/http"

	"github.com/wxmedia/wxmedia/pkg/failure"
)

// Refusal is an edge's own refusal of a request, for a reason no failure
// kind or errcode says, with the HTTP status it stands for: a path no
// route serves (404), a method it does not take (405). Wrapped in a
// caller's failure, it gives the status; the failure gives the errcode
// and message answered.
type Refusal struct {
	Status int
	Reason string
}

func (r *Refusal) Error() string { return r.Reason }

// statusOfKind is the HTTP status each kind of failure stands for.
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

// Status is the one table from a failure to the HTTP status it stands
// for: a deadline, an edge's own Refusal and a missing object first, then
// WeChat's errcodes that say more than their kind, then the kind. Callers
// are answered HTTP 200, as WeChat answers them; the status goes to the
// log line and to the metrics' Status dimension.
func Status(err error) int {
	var r *Refusal
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.As(err, &r):
		return r.Status
	case errors.Is(err, failure.ErrNotFound):
		return http.StatusNotFound
	}
	if s := statusOfCode[failure.CodeOf(err)]; s != 0 {
		return s
	}
	return statusOfKind[failure.KindOf(err)]
}
