package media

import (
	"github.com/wxmedia/wxmedia/pkg/failure"
)

// CodeInvalidType is WeChat's 40004, invalid media type.
//
// Deprecated: use failure.CodeInvalidMediaType.
// TODO(issue 20): remove once pkg/transfer uses failure.CodeInvalidMediaType.
const CodeInvalidType = failure.CodeInvalidMediaType

// refused is a file refused before any WeChat call, with the errcode WeChat
// would have answered: the caller's failure.
func refused(code int, msg string) error { return failure.New(failure.Caller, code, "%s", msg) }
