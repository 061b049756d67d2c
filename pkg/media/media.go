package media

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/wxmedia/wxmedia/pkg/failure"
)

// Type is what WeChat is told a file is: the "type" of media/upload, or
// ArticleImage for media/uploadimg.
type Type string

// The media types WeChat knows.
const (
	Image        Type = "image"
	Voice        Type = "voice"
	Video        Type = "video"
	Thumb        Type = "thumb"
	ArticleImage Type = "uploadimg" // media/uploadimg: a permanent image URL for articles
)

// UploadTypes are the types media/upload accepts.
var UploadTypes = []Type{Image, Voice, Video, Thumb}

// ParseType returns the media/upload type named by s, or a 40004 error.
func ParseType(s string) (Type, error) {
	for _, t := range UploadTypes {
		if string(t) == s {
			return t, nil
		}
	}
	return "", refused(failure.CodeInvalidMediaType, fmt.Sprintf("invalid media type %q: want image, voice, video or thumb", truncate(s, 32)))
}

// Format is a file format, detected from content.
type Format string

// The formats WeChat accepts for some type.
const (
	JPEG Format = "jpg"
	PNG  Format = "png"
	GIF  Format = "gif"
	AMR  Format = "amr"
	MP3  Format = "mp3"
	MP4  Format = "mp4"
)

// Ext is the file name extension WeChat expects for f, with the dot.
func (f Format) Ext() string {
	if f == "" {
		return ""
	}
	return "." + string(f)
}

// Filename is the ASCII part name sent to WeChat: WeChat decides the type by
// its extension and refuses non-ASCII names, so the caller's name is never used.
func (f Format) Filename() string { return "media" + f.Ext() }

// ContentType is the MIME type of f.
func (f Format) ContentType() string {
	switch f {
	case JPEG:
		return "image/jpeg"
	case PNG:
		return "image/png"
	case GIF:
		return "image/gif"
	case AMR:
		return "audio/amr"
	case MP3:
		return "audio/mpeg"
	case MP4:
		return "video/mp4"
	}
	return "application/octet-stream"
}

// FormatOf returns the format for a MIME type or a file extension (with or
// without the dot), or "" if it is none WeChat takes.
func FormatOf(s string) Format {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	switch strings.TrimPrefix(s, ".") {
	case "image/jpeg", "image/jpg", "image/pjpeg", "jpg", "jpeg":
		return JPEG
	case "image/png", "png":
		return PNG
	case "image/gif", "gif":
		return GIF
	case "audio/amr", "amr":
		return AMR
	case "audio/mpeg", "audio/mp3", "mp3":
		return MP3
	case "video/mp4", "mp4":
		return MP4
	}
	return ""
}

// SniffLen is how many leading bytes Detect needs at most.
const SniffLen = 16

// Detect returns the format of a file from its first bytes (at least
// SniffLen of them when the file is that long), or "" if it is not one WeChat
// takes. The name of a file plays no part.
func Detect(head []byte) Format {
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return JPEG
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return PNG
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return GIF
	case bytes.HasPrefix(head, []byte("#!AMR\n")), bytes.HasPrefix(head, []byte("#!AMR-WB\n")):
		return AMR
	case bytes.HasPrefix(head, []byte("ID3")):
		return MP3
	case len(head) >= 2 && head[0] == 0xFF && head[1]&0xE0 == 0xE0 && head[1]&0x06 != 0:
		// An MPEG audio frame sync with a valid layer (layer III for mp3 files without an ID3 tag).
		return MP3
	case len(head) >= 12 && string(head[4:8]) == "ftyp" && mp4Brands[string(head[8:12])]:
		return MP4
	}
	return ""
}

// mp4Brands are the ISO BMFF major brands of MP4 video. Other ftyp files
// (QuickTime "qt  ", HEIC, AVIF, M4A audio, 3GP) are not what WeChat takes.
var mp4Brands = map[string]bool{
	"isom": true, "iso2": true, "iso3": true, "iso4": true, "iso5": true, "iso6": true,
	"mp41": true, "mp42": true, "avc1": true, "M4V ": true, "M4VH": true, "M4VP": true,
	"dash": true, "mmp4": true, "MSNV": true, "f4v ": true,
}

// Rule is what WeChat accepts for one type.
type Rule struct {
	MaxSize  int64    // bytes, inclusive
	Formats  []Format // detected formats accepted
	SizeCode int      // WeChat's errcode for a file over MaxSize
}

// Rules maps each type to its rule.
type Rules map[Type]Rule

// The byte units of limits.
const (
	KB = 1 << 10
	MB = 1 << 20
)

// DefaultRules are the limits of WeChat's documents. Image is 10 MB (the
// documents also say 2 MB in one note; MEDIA_LIMITS=image=2MB selects that).
func DefaultRules() Rules {
	return Rules{
		Image:        {MaxSize: 10 * MB, Formats: []Format{JPEG, PNG, GIF}, SizeCode: failure.CodeInvalidImageSize},
		Voice:        {MaxSize: 2 * MB, Formats: []Format{AMR, MP3}, SizeCode: failure.CodeInvalidVoiceSize},
		Video:        {MaxSize: 10 * MB, Formats: []Format{MP4}, SizeCode: failure.CodeInvalidVideoSize},
		Thumb:        {MaxSize: 64 * KB, Formats: []Format{JPEG}, SizeCode: failure.CodeInvalidThumbSize},
		ArticleImage: {MaxSize: 1 * MB, Formats: []Format{JPEG, PNG}, SizeCode: failure.CodeInvalidImageSize},
	}
}

// WithLimits returns a copy of r with the size limits in spec replaced.
// spec is a comma-separated list of type=size, size in bytes or with a KB or
// MB suffix: "image=2MB,thumb=64KB". An empty spec changes nothing.
func (r Rules) WithLimits(spec string) (Rules, error) {
	out := make(Rules, len(r))
	for t, rule := range r {
		out[t] = rule
	}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, size, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("media limits %q: want type=size", item)
		}
		t := Type(strings.TrimSpace(name))
		rule, known := out[t]
		if !known {
			return nil, fmt.Errorf("media limits %q: unknown type %q (want one of %s)", item, t, strings.Join(r.names(), ", "))
		}
		n, err := ParseSize(strings.TrimSpace(size))
		if err != nil {
			return nil, fmt.Errorf("media limits %q: %w", item, err)
		}
		rule.MaxSize = n
		out[t] = rule
	}
	return out, nil
}

func (r Rules) names() []string {
	var names []string
	for t := range r {
		names = append(names, string(t))
	}
	sort.Strings(names)
	return names
}

// ParseSize reads a size such as 2MB, 64KB or 1000 (bytes).
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	upper := strings.ToUpper(s)
	switch {
	case strings.HasSuffix(upper, "MB"):
		mult, upper = MB, strings.TrimSuffix(upper, "MB")
	case strings.HasSuffix(upper, "KB"):
		mult, upper = KB, strings.TrimSuffix(upper, "KB")
	case strings.HasSuffix(upper, "B"):
		upper = strings.TrimSuffix(upper, "B")
	}
	n, err := strconv.ParseInt(strings.TrimSpace(upper), 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return n * mult, nil
}

// Check says whether a file of format f and size bytes may be sent as type
// t. It answers with WeChat's own errcode where WeChat has one, so refusing
// early looks the same to a client as WeChat refusing.
func (r Rules) Check(t Type, f Format, size int64) error {
	rule, ok := r[t]
	if !ok {
		return refused(failure.CodeInvalidMediaType, fmt.Sprintf("invalid media type %q", t))
	}
	if size <= 0 {
		return refused(failure.CodeMediaMissing, "media data missing: the file is empty")
	}
	if !rule.accepts(f) {
		got := "an unrecognised format"
		if f != "" {
			got = string(f)
		}
		return refused(failure.CodeInvalidFileType, fmt.Sprintf("invalid file type: %s is %s, want %s", t, got, formatList(rule.Formats)))
	}
	if size > rule.MaxSize {
		return refused(rule.SizeCode, fmt.Sprintf("invalid %s size: %d bytes, the limit is %d", t, size, rule.MaxSize))
	}
	return nil
}

// Largest is the largest size a temporary media file of format f may have:
// the largest limit of the types that take f, or of every temporary type
// when none does (f unrecognised). Media fetched back from WeChat is held
// to it.
func (r Rules) Largest(f Format) int64 {
	var most, any int64
	for t, rule := range r {
		if t == ArticleImage {
			continue // a URL, never fetched back
		}
		any = max(any, rule.MaxSize)
		if rule.accepts(f) {
			most = max(most, rule.MaxSize)
		}
	}
	if most == 0 {
		return any
	}
	return most
}

func (rule Rule) accepts(f Format) bool {
	for _, ok := range rule.Formats {
		if f == ok {
			return true
		}
	}
	return false
}

func formatList(fs []Format) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, "/")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
