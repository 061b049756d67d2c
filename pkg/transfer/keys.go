package transfer

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/ledger"
	"github.com/wxmedia/wxmedia/pkg/media"
)

// The trigger prefixes: a put under them is sent to WeChat.
const (
	UploadPrefix    = "upload/"    // upload/<image|voice|video|thumb>/<name>
	UploadImgPrefix = "uploadimg/" // uploadimg/<name>
)

// TriggerPrefixes are the prefixes whose puts fire the S3 trigger.
var TriggerPrefixes = []string{UploadPrefix, UploadImgPrefix}

// reserved are prefixes the service writes and nobody may name as a source.
var reserved = bucket.Records

// The APIs a piece of work is sent to.
const (
	APIUpload    = "upload"
	APIUploadImg = "uploadimg"
)

// ErrNotTrigger is a key under no trigger prefix (or a folder marker):
// nothing to do for it.
var ErrNotTrigger = fmt.Errorf("not under a trigger prefix: %w", failure.ErrSkipped)

// TriggerWork is the work a key under a trigger prefix asks for, parsed
// exactly: upload/<image|voice|video|thumb>/<name> or uploadimg/<name>.
// A key under no trigger prefix, or a folder marker (ending in "/"), wraps
// ErrNotTrigger. Any other key under upload/ or uploadimg/ is the caller's
// failure, saying why: it is recorded as the object's result, and never
// sent to another API.
func TriggerWork(key, etag string) (ledger.Work, error) {
	w := ledger.Work{Key: key, ETag: etag, Trigger: true}
	switch {
	case strings.HasSuffix(key, "/"):
		return w, ErrNotTrigger
	case strings.HasPrefix(key, UploadImgPrefix):
		w.API = APIUploadImg
		return w, nil
	case strings.HasPrefix(key, UploadPrefix):
		w.API = APIUpload
		typ, name, ok := strings.Cut(strings.TrimPrefix(key, UploadPrefix), "/")
		t, err := media.ParseType(typ)
		if !ok || name == "" || err != nil || t == media.ArticleImage {
			return w, failure.New(failure.Caller, failure.CodeInvalidParam,
				"invalid key: objects under upload/ go to upload/<image|voice|video|thumb>/<name>, article images under uploadimg/")
		}
		w.Type = string(t)
		return w, nil
	}
	return w, ErrNotTrigger
}

// workFor is the work of a {"key"} request: the object's trigger work
// when it asks the same, so the two share one claim and one result.
func workFor(t media.Type, key, etag string) ledger.Work {
	w := ledger.Work{Key: key, ETag: etag, API: APIUpload, Type: string(t)}
	if t == media.ArticleImage {
		w.API, w.Type = APIUploadImg, ""
	}
	if tw, err := TriggerWork(key, etag); err == nil && tw.API == w.API && tw.Type == w.Type {
		w.Trigger = true
	}
	return w
}

// KeyPolicy says which keys a {"key"} request may name.
type KeyPolicy struct {
	allowed []string // each ending in "/"
}

// NewKeyPolicy allows the trigger prefixes and extra, each matched on a
// "/" boundary ("samples" allows samples/…, not samples-x/…). Prefixes
// under results/, media/ or claims/ are never allowed.
func NewKeyPolicy(extra []string) KeyPolicy {
	p := KeyPolicy{allowed: append([]string(nil), TriggerPrefixes...)}
	for _, e := range extra {
		e = strings.Trim(strings.TrimSpace(e), "/")
		if e != "" && !isReserved(e+"/") {
			p.allowed = append(p.allowed, e+"/")
		}
	}
	return p
}

// CheckPrefix refuses an allowed prefix that would expose what the service
// writes: for the configuration to name it.
func CheckPrefix(prefix string) error {
	if p := strings.Trim(strings.TrimSpace(prefix), "/") + "/"; isReserved(p) || p == "/" {
		return errors.New("prefix " + prefix + " names what the service writes (results/, media/, claims/, media-ids/) or the whole bucket")
	}
	return nil
}

// isReserved reports whether prefix p overlaps what the service writes.
func isReserved(p string) bool {
	for _, r := range reserved {
		if strings.HasPrefix(p, r) || strings.HasPrefix(r, p) {
			return true
		}
	}
	return false
}

func refuseKey(msg string) error {
	return failure.New(failure.Caller, failure.CodeInvalidParam, "%s", msg)
}

// Check refuses keys a {"key"} request may not name: empty, not an S3 key,
// another bucket, absolute, with "." or ".." segments, under results/,
// media/ or claims/, or outside the allowed prefixes. It calls nothing: a
// refused key costs no S3 read. Refusals do not list the configuration.
func (p KeyPolicy) Check(key string) error {
	switch {
	case key == "":
		return refuseKey("key is empty")
	case len(key) > 1024 || !utf8.ValidString(key):
		return refuseKey("key is not a valid S3 key")
	case strings.HasPrefix(key, "s3://"), strings.HasPrefix(key, "arn:"):
		return refuseKey("key must name an object of the media bucket, not a bucket or ARN")
	case strings.HasPrefix(key, "/"):
		return refuseKey("key must be relative to the media bucket, not absolute")
	case strings.ContainsAny(key, "\x00\r\n"):
		return refuseKey("key has control characters")
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == ".." || seg == "." {
			return refuseKey("key must not contain . or .. segments")
		}
	}
	for _, r := range reserved {
		if strings.HasPrefix(key, r) {
			return refuseKey("key names what the service writes, not a source")
		}
	}
	for _, a := range p.allowed {
		if strings.HasPrefix(key, a) {
			return nil
		}
	}
	return refuseKey("key is outside the prefixes this deployment may read")
}

// CheckKey is the key policy's Check.
func (s *Service) CheckKey(key string) error { return s.keys.Check(key) }

// Prefixes are the prefixes whose objects the service reads as sources:
// the trigger prefixes and the configured ones.
func (p KeyPolicy) Prefixes() []string { return append([]string(nil), p.allowed...) }

// UploadUses are the bucket calls of the upload paths (S3 events and
// {"key"} requests) for a deployment allowing extra prefixes: the sources
// read (stat and pinned GET). The media_id index is in the table.
func UploadUses(extra []string) []bucket.Use {
	sources := NewKeyPolicy(extra).Prefixes()
	var uses []bucket.Use
	for _, p := range sources {
		uses = append(uses, bucket.Use{Method: "Stat", Prefix: p}, bucket.Use{Method: "Open", Prefix: p})
	}
	return uses
}

// FetchUses are the bucket calls of get, for a deployment allowing extra
// prefixes: media looked up, written and read under media/; the objects this deployment uploaded media from (stat, read, and
// a presigned link); a presigned link to each.
func FetchUses(extra []string) []bucket.Use {
	uses := []bucket.Use{
		{Method: "First", Prefix: bucket.MediaPrefix}, {Method: "Write", Prefix: bucket.MediaPrefix},
		{Method: "Open", Prefix: bucket.MediaPrefix}, {Method: "PresignGet", Prefix: bucket.MediaPrefix},
	}
	for _, p := range NewKeyPolicy(extra).Prefixes() {
		uses = append(uses, bucket.Use{Method: "Stat", Prefix: p}, bucket.Use{Method: "Open", Prefix: p}, bucket.Use{Method: "PresignGet", Prefix: p})
	}
	return uses
}
