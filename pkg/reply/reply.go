// Package reply writes WeChat's answers as WeChat writes them: a failure as
// HTTP 200 and {"errcode","errmsg"}, any other answer as JSON. Status is
// the one table from a failure to the HTTP status it stands for, which
// goes to the logs and the metrics, not to the caller. Every edge may use
// it; it imports only package failure.
package reply

import (
	"encoding/json"
	"net/http"

	"github.com/wxmedia/wxmedia/pkg/failure"
)

// Content types of the answers, exactly: clients compare them as strings.
const (
	ContentTypeJSON = "application/json"
	ContentTypeText = "text/plain" // media/get's errors: how clients tell an error from a file
)

// answer is WeChat's error shape.
type answer struct {
	Code    int    `json:"errcode"`
	Message string `json:"errmsg"`
}

// Error answers err as WeChat answers errors: HTTP 200 and
// {"errcode","errmsg"} as application/json, with what a caller may be told
// (failure.CodeOf, failure.MessageOf). The status the failure stands for
// (Status) goes to the log line, not to the caller: WeChat's clients
// reject any other status before they read the errcode.
func Error(w http.ResponseWriter, err error) {
	ErrorStatus(w, http.StatusOK, ContentTypeJSON, err)
}

// ErrorStatus answers err as Error does, with status and labelled
// contentType: for a status HTTP itself defines (405 with Allow), for the
// platform's own refusals as the local runner mirrors them (API Gateway's
// 413 over its payload limit), and for media/get's text/plain errors. It
// is the one place an error becomes an answer.
func ErrorStatus(w http.ResponseWriter, status int, contentType string, err error) {
	body(w, status, contentType, answer{Code: failure.CodeOf(err), Message: failure.MessageOf(err)})
}

// JSON answers v as JSON.
func JSON(w http.ResponseWriter, status int, v any) { body(w, status, ContentTypeJSON, v) }

// body answers v encoded as JSON, labelled contentType, with < > & left as
// they are.
func body(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
