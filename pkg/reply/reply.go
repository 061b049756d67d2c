// Package reply writes WeChat's answers as WeChat writes them: a failure as
// HTTP 200 and {"errcode","errmsg"}, any other answer as JSON. Status is
// the one table from a failure to the HTTP status it stands for, which
// goes to the logs and the metrics, not to the caller. Every edge may use
// it; it imports only package failure.
package reply

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/wxmedia/wxmedia/pkg/failure"
)

// Content types of the answers, exactly as WeChat labels them: clients
// compare them as strings (internal/wechatsim keeps the same labels, with
// their sources).
const (
	// ContentTypeJSON labels WeChat's JSON answers and errors (seen from
	// media/upload in node-webot/co-wechat-api issue 19).
	ContentTypeJSON = "application/json; encoding=utf-8"
	// ContentTypeText labels media/get's errors: how clients tell an error
	// from a file (node-webot/wechat-api pull requests 4 and 138).
	ContentTypeText = "text/plain"
	// ContentTypeVideoURL labels media/get's {"video_url"} answer. No
	// source shows WeChat's; it is the label that every SDK in compat/
	// reads as JSON (node-webot/wechat-api compares it as a string).
	ContentTypeVideoURL = "application/json"
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

// JSONAs answers v as JSON labelled contentType (ContentTypeVideoURL).
func JSONAs(w http.ResponseWriter, status int, contentType string, v any) {
	body(w, status, contentType, v)
}

// body answers v encoded as JSON, labelled contentType, byte for byte as
// WeChat writes it: < > & left as they are, and no trailing newline
// (co-wechat-api escapes control characters before it parses, so a
// newline makes every answer unreadable to it).
func body(w http.ResponseWriter, status int, contentType string, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		b.Reset()
		b.WriteString(`{"errcode":-1,"errmsg":"system error"}`)
	}
	data := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}
