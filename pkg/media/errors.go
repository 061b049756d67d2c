package media

import (
	"github.com/wxmedia/wxmedia/pkg/failure"
)

// WeChat's errcodes for media that breaks the rules.
const (
	CodeInvalidType = 40004 // invalid media type
	CodeFileType    = 40005 // invalid file type
	CodeSize        = 40006 // invalid media size
	CodeImageSize   = 40009 // invalid image size
	CodeVoiceSize   = 40010 // invalid voice size
	CodeVideoSize   = 40011 // invalid video size
	CodeThumbSize   = 40012 // invalid thumb size
	CodeMissing     = 41005 // media data missing
)

// refused is a file refused before any WeChat call, with the errcode WeChat
// would have answered: the caller's failure.
func refused(code int, msg string) error { return failure.New(failure.Caller, code, "%s", msg) }
