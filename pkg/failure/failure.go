// Package failure names the ways wxmedia's work fails, by the system that
// failed: the caller, the deployment's configuration, WeChat, S3, Secrets
// Manager, a conflict with concurrent work, or wxmedia itself; and WeChat's
// errcodes that wxmedia answers or reads, each once (codes.go).
//
// Every adapter returns an *Error at its boundary (the WeChat client, the
// bucket, the ledger, the credentials store), carrying the kind, the
// errcode and message a caller may see, and the cause for the logs. Final
// says from the kind alone whether a failure is final: the S3 trigger
// records a final failure as done and has any other retried, the cloud
// call throws it as the caller's (WeChatError) rather than a system's.
// Package reply says which HTTP status a failure stands for.
// The package imports nothing of wxmedia's, so every package can use it.
package failure

import (
	"errors"
	"fmt"
)

// Kind is the system a failure comes from, which says what mends it.
type Kind uint8

const (
	// Internal is a fault of wxmedia itself: logged in full, answered
	// "system error", retried.
	Internal Kind = iota
	// Caller is the request or the object at fault (a bad parameter, a
	// file WeChat does not take, a key that is not allowed): it fails the
	// same way until the caller changes it, so it is final (see Final).
	Caller
	// Config is the deployment at fault: the secret's content, an AppSecret
	// or AppID WeChat rejects, an egress IP outside WeChat's allow-list, an
	// API the account may not call, a quota spent, a missing bucket or a
	// permission. An operator mends it; work is kept to be redriven.
	Config
	// WeChat is WeChat busy, failing, slow or answering nonsense: transient.
	WeChat
	// S3 is S3 failing, throttling or out of reach: transient.
	S3
	// SecretsManager is Secrets Manager failing or out of reach: transient.
	SecretsManager
	// Conflict is concurrent work on the same object: another request holds
	// it, or the object changed while it was read. Try again shortly.
	Conflict
	// DynamoDB is the stack's table (the ledger's claims, the media_id
	// index, a third-party platform's tickets and tokens) failing or out
	// of reach: transient.
	DynamoDB
)

var kindNames = [...]string{Internal: "internal", Caller: "caller", Config: "configuration",
	WeChat: "wechat", S3: "s3", SecretsManager: "secretsmanager", Conflict: "conflict", DynamoDB: "dynamodb"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Kinds are all the kinds, for tables that must cover each.
func Kinds() []Kind {
	return []Kind{Internal, Caller, Config, WeChat, S3, SecretsManager, Conflict, DynamoDB}
}

// ErrNotFound is wrapped by a failure whose object does not exist: a key
// that names nothing in the media bucket, a record not written yet. The
// HTTP status table (package reply) says 404 of it.
var ErrNotFound = errors.New("no such key")

// Error is a failure of one kind. Code and Message are what a caller may be
// told: WeChat's errcode and a message with no secret and no internal
// detail. Err is the cause, for the operator's logs.
type Error struct {
	Kind    Kind
	Code    int
	Message string
	Err     error
}

// Error is the message, then the cause: for logs, never for callers.
func (e *Error) Error() string {
	if e.Err == nil {
		return e.Message
	}
	return e.Message + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// New is a failure without a cause.
func New(k Kind, code int, format string, args ...any) *Error {
	return &Error{Kind: k, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap is a failure caused by err.
func Wrap(k Kind, code int, err error, format string, args ...any) *Error {
	return &Error{Kind: k, Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// As returns the outermost *Error in err's chain, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// KindOf is err's kind: Internal for an error no adapter classified.
func KindOf(err error) Kind {
	if e := As(err); e != nil {
		return e.Kind
	}
	return Internal
}

// Final reports whether err fails the same way however often it is tried
// again unchanged: a caller's failure (a bad parameter, a file WeChat does
// not take, a key that is not allowed). Any other failure may pass on
// another try, or once an operator mends the deployment, and so is kept to
// be retried or redriven; so is an error no adapter classified.
func Final(err error) bool { return KindOf(err) == Caller }

// CodeOf is the errcode a caller is answered for err: CodeSystem for an
// error no adapter classified.
func CodeOf(err error) int {
	if e := As(err); e != nil {
		return e.Code
	}
	return CodeSystem
}

// MessageOf is what a caller is told of err: "system error" for an error
// no adapter classified.
func MessageOf(err error) string {
	if e := As(err); e != nil && e.Message != "" {
		return e.Message
	}
	return "system error"
}
