package httpapi

import (
	"fmt"
	"net/http"

	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/reply"
	"github.com/wxmedia/wxmedia/pkg/routes"
)

// The route's own refusals, each with the HTTP status it stands for
// (reply.Status).
var (
	errNoRoute      = &reply.Refusal{Status: http.StatusNotFound, Reason: "no such route"}
	errQueryTooLong = &reply.Refusal{Status: http.StatusRequestURITooLong, Reason: "query string too long"}
	errNotMultipart = &reply.Refusal{Status: http.StatusUnsupportedMediaType, Reason: "neither multipart nor JSON"}
	errBodyTooLarge = &reply.Refusal{Status: http.StatusRequestEntityTooLarge, Reason: "request body too large"}
	errOtherBucket  = &reply.Refusal{Status: http.StatusForbidden, Reason: "another bucket"}
	errMethod       = &reply.Refusal{Status: http.StatusMethodNotAllowed, Reason: "method not allowed"}
)

// TooLarge is the refusal of a request body over limit bytes; n is its
// size, or -1 if it came without a Content-Length.
func TooLarge(n, limit int64) error {
	size := "the request body"
	if n >= 0 {
		size = fmt.Sprintf("the request body of %d bytes", n)
	}
	return failure.Wrap(failure.Caller, failure.CodeInvalidMediaSize, errBodyTooLarge,
		"%s is over this deployment's %d-byte limit (API Gateway and Lambda carry no more); for a large file, POST %s?type=<type> (or %s) "+
			"answers a form that puts it straight into the bucket under upload/<type>/ or uploadimg/; for an object already there, send {\"key\":\"…\"}",
		size, limit, routes.PathUploadForm, routes.PathUploadImgForm)
}
