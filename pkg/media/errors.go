package media

import (
	"github.com/wxmedia/wxmedia/pkg/failure"
)

// refused is a file refused before any WeChat call, with the errcode WeChat
// would have answered: the caller's failure.
func refused(code int, msg string) error { return failure.New(failure.Caller, code, "%s", msg) }
