package media

import "fmt"

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

// Error is a file refused before any WeChat call, with the errcode WeChat
// would have answered.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("errcode %d: %s", e.Code, e.Message) }

// TooLarge reports whether the error is about size.
func (e *Error) TooLarge() bool {
	switch e.Code {
	case CodeSize, CodeImageSize, CodeVoiceSize, CodeVideoSize, CodeThumbSize:
		return true
	}
	return false
}
