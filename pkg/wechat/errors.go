package wechat

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Errcodes the client acts on.
const (
	CodeBusy           = -1    // system busy: retried
	CodeInvalidToken   = 40001 // invalid credential: token re-fetched
	CodeInvalidAppID   = 40013
	CodeBadToken       = 40014 // invalid access_token: token re-fetched
	CodeInvalidMediaID = 40007
	CodeTokenExpired   = 42001 // access_token expired: token re-fetched
	CodeBadSecret      = 40125
	CodeIPNotAllowed   = 40164
	CodeQuota          = 45009
)

// Error is an error answer from WeChat: {"errcode":N,"errmsg":"…"}.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("wechat errcode %d: %s", e.Code, e.Message) }

// TokenRejected reports whether WeChat refused the access token itself.
func (e *Error) TokenRejected() bool {
	switch e.Code {
	case CodeInvalidToken, CodeBadToken, CodeTokenExpired:
		return true
	}
	return false
}

// ErrBadResponse is wrapped by errors for answers that are not what the API
// documents: malformed JSON, an unexpected HTTP status, a JSON answer without
// the expected fields.
var ErrBadResponse = errors.New("unexpected response from wechat")

// StatusError is a non-200 HTTP answer from WeChat.
type StatusError struct {
	StatusCode int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%v: http status %d", ErrBadResponse, e.StatusCode)
}

func (e *StatusError) Unwrap() error { return ErrBadResponse }

// Redact replaces the access_token and secret query parameters of a URL
// string with "REDACTED".
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery == "" {
		if strings.Contains(raw, "access_token") || strings.Contains(raw, "secret") {
			return "(url redacted)"
		}
		return raw
	}
	q := u.Query()
	for _, k := range []string{"access_token", "secret", "appsecret"} {
		if q.Has(k) {
			q.Set(k, "REDACTED")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// redactErr strips credentials out of the URL that *url.Error carries (Go
// prints the whole URL, query string included).
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = Redact(ue.URL)
	}
	return err
}
