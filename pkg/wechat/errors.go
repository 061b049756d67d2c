package wechat

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/wxmedia/wxmedia/pkg/failure"
)

// kindOf says which system each errcode of a media call blames. The
// caller's are the documented refusals of a parameter or a file, which
// fail the same way every time (final: recorded for good). Codes not
// listed are WeChat's own, transient: a faulty or new answer is retried,
// never taken as the file's final refusal.
var kindOf = map[int]failure.Kind{
	failure.CodeInvalidGrantType: failure.Caller,
	failure.CodeInvalidMediaType: failure.Caller,
	failure.CodeInvalidFileType:  failure.Caller,
	failure.CodeInvalidMediaSize: failure.Caller,
	failure.CodeInvalidMediaID:   failure.Caller,
	failure.CodeInvalidImageSize: failure.Caller,
	failure.CodeInvalidVoiceSize: failure.Caller,
	failure.CodeInvalidVideoSize: failure.Caller,
	failure.CodeInvalidThumbSize: failure.Caller,
	failure.CodeInvalidParam:     failure.Caller,
	failure.CodeMediaMissing:     failure.Caller,
	failure.CodeMediaIDMissing:   failure.Caller,
	failure.CodeDataFormat:       failure.Caller,

	failure.CodeSystem:      failure.WeChat,
	failure.CodeMinuteQuota: failure.WeChat,
	// A token rejected again right after a refresh: a race with WeChat's
	// rollover, not a setting. It passes.
	failure.CodeInvalidCredential:  failure.WeChat,
	failure.CodeInvalidAccessToken: failure.WeChat,
	failure.CodeAccessTokenExpired: failure.WeChat,

	failure.CodeInvalidAppID:          failure.Config,
	failure.CodeInvalidAppSecret:      failure.Config,
	failure.CodeIPNotAllowed:          failure.Config,
	failure.CodeDailyQuota:            failure.Config,
	failure.CodeAPIUnauthorized:       failure.Config,
	failure.CodeUserUnauthorized:      failure.Config,
	failure.CodeUserLimited:           failure.Config,
	failure.CodeComponentUnauthorized: failure.Config,
}

// unknownRefusal reports whether code is a 4xxxx refusal kindOf does not
// name: in a media call, WeChat's own (transient); in a token or platform
// call, which carries nothing of a caller's, the deployment's to mend.
func unknownRefusal(code int) bool {
	_, known := kindOf[code]
	return !known && code >= 40000 && code < 50000
}

// callerMessage replaces WeChat's errmsg where it carries what a caller
// must not see, or tells an operator too little.
var callerMessage = map[int]string{
	// WeChat's message carries the function's egress IP: it goes to the log only.
	failure.CodeIPNotAllowed: "invalid ip: this deployment's egress IP is not in the WeChat account's IP allow-list; " +
		"deploy with the template's SubnetIds and SecurityGroupIds (egress through a NAT gateway's fixed IP) and allow that IP in the WeChat console",
	failure.CodeInvalidAppID:     "system error: WeChat rejected the AppID in the app's secret",
	failure.CodeInvalidAppSecret: "system error: WeChat rejected the AppSecret in the app's secret",
	failure.CodeDailyQuota:       "api freq out of limit: the account's daily quota for this API is spent",
	failure.CodeAPIUnauthorized:  "api unauthorized: the WeChat account may not call this API",
}

// apiError is WeChat's answer {"errcode":N,"errmsg":"…"} as a failure of
// the kind the code blames; WeChat's own errmsg stays in the cause, for the log.
func apiError(code int, errmsg string) *failure.Error {
	k, ok := kindOf[code]
	if !ok {
		k = failure.WeChat
	}
	msg, ok := callerMessage[code]
	if !ok {
		msg = errmsg
	}
	return &failure.Error{Kind: k, Code: code, Message: msg, Err: &Answer{Code: code, Message: errmsg}}
}

// Answer is an error answer exactly as WeChat gave it.
type Answer struct {
	Code    int
	Message string
}

func (a *Answer) Error() string { return fmt.Sprintf("wechat errcode %d: %s", a.Code, a.Message) }

// ErrBadResponse is wrapped by errors for answers that are not what the API
// documents: malformed JSON, an unexpected HTTP status, a JSON answer without
// the expected fields.
var ErrBadResponse = errors.New("unexpected response from wechat")

// ErrMaybeStored is wrapped by a failed upload whose body reached WeChat
// whole but whose answer was lost, cut short, garbled or late: WeChat may
// have stored the file. Such a call is not retried in process: only the
// caller, who can count such attempts, may send it again.
var ErrMaybeStored = errors.New("the file reached WeChat but its answer did not come back: WeChat may have stored it")

// ErrQuotaSpent is the cause of the failure the client answers, without
// calling WeChat, for an API whose daily quota WeChat said was spent
// (45009), until the daily reset (see Options.Quota).
var ErrQuotaSpent = errors.New("not called: WeChat answered 45009 for this API, whose daily quota is spent until the daily reset")

// StatusError is a non-200 HTTP answer from WeChat.
type StatusError struct {
	StatusCode int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%v: http status %d", ErrBadResponse, e.StatusCode)
}

func (e *StatusError) Unwrap() error { return ErrBadResponse }

// errBroken marks an answer cut short.
var errBroken = errors.New("connection broken")

// classify turns what one call to WeChat ended with into a failure of the
// kind that says what mends it. sentWhole is true when a request body
// reached WeChat in full.
func classify(op string, err error, sentWhole bool) *failure.Error {
	if fe := failure.As(err); fe != nil {
		return fe // a reply check already classified it, or the token source did
	}
	err = fmt.Errorf("wechat %s: %w", op, redactErr(err))
	var se *StatusError
	var ue *url.Error
	maybe := func(err error) error {
		if sentWhole {
			return fmt.Errorf("%w: %w", ErrMaybeStored, err)
		}
		return err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return failure.Wrap(failure.WeChat, failure.CodeSystem, maybe(err), "system error: timed out waiting for WeChat")
	case errors.Is(err, context.Canceled):
		return failure.Wrap(failure.WeChat, failure.CodeSystem, maybe(err), "system error: the request was cancelled while waiting for WeChat")
	case errors.As(err, &se):
		return failure.Wrap(failure.WeChat, failure.CodeSystem, maybe(err), "system error: WeChat answered HTTP %d", se.StatusCode)
	case errors.Is(err, ErrBadResponse):
		return failure.Wrap(failure.WeChat, failure.CodeSystem, maybe(err), "system error: unexpected answer from WeChat")
	case errors.As(err, &ue) && ue.Op == "parse":
		return failure.Wrap(failure.Config, failure.CodeSystem, err, "system error: the WeChat base URL is malformed")
	case errors.As(err, &ue), errors.Is(err, errBroken):
		return failure.Wrap(failure.WeChat, failure.CodeSystem, maybe(err), "system error: the connection to WeChat failed")
	}
	return failure.Wrap(failure.Internal, failure.CodeSystem, err, "system error")
}

// transient reports whether a failed call may succeed if sent again at
// once: WeChat busy, a 5xx, a broken connection, but never a body that may
// already be stored.
func transient(err *failure.Error) bool {
	if err.Kind != failure.WeChat || errors.Is(err, ErrMaybeStored) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.StatusCode >= 500
	}
	if errors.Is(err, ErrBadResponse) {
		return false
	}
	switch err.Code {
	case failure.CodeSystem:
		return true
	case failure.CodeMinuteQuota, failure.CodeInvalidCredential, failure.CodeInvalidAccessToken, failure.CodeAccessTokenExpired:
		return false // later, not now (rateLimited), or with a new token
	}
	var ue *url.Error
	return errors.As(err, &ue) || errors.Is(err, errBroken)
}

// rateLimited reports whether WeChat refused the call for its per-minute
// limit (45011): it passes within the minute, so it is tried again later
// than a busy answer.
func rateLimited(err *failure.Error) bool {
	var a *Answer
	return errors.As(err, &a) && a.Code == failure.CodeMinuteQuota
}

// tokenRejected reports whether WeChat refused the access token itself.
func tokenRejected(err error) bool {
	var a *Answer
	if !errors.As(err, &a) {
		return false
	}
	switch a.Code {
	case failure.CodeInvalidCredential, failure.CodeInvalidAccessToken, failure.CodeAccessTokenExpired:
		return true
	}
	return false
}

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
	for _, k := range []string{"access_token", "secret", "appsecret", "component_access_token"} {
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
