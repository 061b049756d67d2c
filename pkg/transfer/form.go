package transfer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wxmedia/wxmedia/pkg/apps"
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/media"
)

// FormTTL is how long an upload form may be used.
const FormTTL = 10 * time.Minute

// Form is a presigned POST that puts one file straight into the bucket
// under a new key of a trigger prefix, so that the S3 trigger sends it to
// WeChat: the shape boto3's generate_presigned_post answers, plus the key
// and the form's end. The file goes last, in a field named "file".
type Form struct {
	URL       string            `json:"url"`
	Fields    map[string]string `json:"fields"`
	Key       string            `json:"key"`
	ExpiresAt int64             `json:"expires_at"` // unix seconds
	MaxSize   int64             `json:"max_size"`   // bytes: the type's limit, the form's content-length-range
}

// UploadForm answers a form for a new file of type t (media.ArticleImage
// for uploadimg): a key of its own under upload/<t>/ or uploadimg/, at
// most the type's size limit, usable for FormTTL.
func (s *Service) UploadForm(ctx context.Context, t media.Type) (Form, error) {
	rule, ok := s.rules[t]
	if !ok {
		return Form{}, failure.New(failure.Caller, failure.CodeInvalidMediaType, "invalid media type %q", t)
	}
	key := UploadPrefix + string(t) + "/" + newID()
	if t == media.ArticleImage {
		key = UploadImgPrefix + newID()
	}
	_, app, err := s.app(ctx, apps.Requested(ctx)) // only for an app the caller may use
	if err != nil {
		return Form{}, err
	}
	var meta map[string]string
	if !app.Default {
		meta = map[string]string{apps.MetadataKey: app.ID} // the put's event is then this app's
	}
	p, err := s.bucket.PresignPost(ctx, key, FormTTL, 1, rule.MaxSize, meta)
	if err != nil {
		return Form{}, failure.Wrap(failure.Config, failure.CodeSystem, err, "system error: the upload form could not be signed")
	}
	return Form{URL: p.URL, Fields: p.Fields, Key: key, ExpiresAt: s.now().Add(FormTTL).Unix(), MaxSize: rule.MaxSize}, nil
}

// newID is a random UUID (version 4).
func newID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// formIDPattern is the IAM resource pattern of a form's key name.
const formIDPattern = "????????-????-4???-????-????????????"

// FormUses are the bucket calls of the upload forms: a POST signed for a
// form key of the function's trigger prefix, and for no other key.
func FormUses(api string) []bucket.Use {
	if api == APIUploadImg {
		return []bucket.Use{{Method: "PresignPost", Prefix: UploadImgPrefix, Match: formIDPattern}}
	}
	return []bucket.Use{{Method: "PresignPost", Prefix: UploadPrefix, Match: "*/" + formIDPattern}}
}

// IsFormKey reports whether key is one UploadForm makes: a random UUID
// right under upload/<type>/ or uploadimg/.
func IsFormKey(key string) bool {
	rest, ok := strings.CutPrefix(key, UploadImgPrefix)
	if !ok {
		var typed bool
		if rest, typed = strings.CutPrefix(key, UploadPrefix); !typed {
			return false
		}
		if _, rest, ok = strings.Cut(rest, "/"); !ok {
			return false
		}
	}
	return isUUID4(rest)
}

// isUUID4 reports whether s is a version 4 UUID as newID writes it.
func isUUID4(s string) bool {
	if len(s) != 36 || s[14] != '4' || !strings.ContainsRune("89ab", rune(s[19])) {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// ErrPending is an outcome not recorded yet: the object's upload is under
// way, or its event has not arrived.
var ErrPending = errors.New("no result recorded yet for the object's current version")

// Outcome is the recorded result of the object at key, a key under a
// trigger prefix, for its current version. It fails with ErrPending while
// none is recorded, and with the caller's failure for a key under no
// trigger prefix or no object at key.
func (s *Service) Outcome(ctx context.Context, key string) (Result, error) {
	if err := s.keys.Check(key); err != nil {
		return Result{}, err
	}
	w, err := TriggerWork(key, "")
	if errors.Is(err, ErrNotTrigger) {
		return Result{}, refuseKey("key is under no trigger prefix (upload/<type>/ or uploadimg/): no result is recorded for it")
	}
	_, app, err := s.app(ctx, apps.Requested(ctx))
	if err != nil {
		return Result{}, err
	}
	obj, err := s.bucket.Stat(ctx, key)
	if errors.Is(err, failure.ErrNotFound) || err == nil && !s.owns(ctx, app, obj) {
		// Another app's object reads as none: whose it is, and that it
		// exists, are not this caller's to learn.
		return Result{}, refuseKey("no object at key for this app: send the file first, under the app's own path prefix /<appid>/… if it has one")
	}
	if err != nil {
		return Result{}, err
	}
	w.ETag = obj.ETag
	w = forApp(w, app)
	r, err := s.ledger.Do(ctx, w, nil)
	if err != nil {
		return Result{}, err
	}
	// A form's result is its first file's, for the app its policy named.
	if r.Key == key && (r.ETag == w.ETag || IsFormKey(key)) {
		return Result(r), nil
	}
	// None yet, or an older version's: the current one's is under way.
	return Result{Key: key, ETag: w.ETag}, ErrPending
}

// OutcomeUses are the bucket calls of Outcome: the object's version, and
// its result.
func OutcomeUses() []bucket.Use {
	uses := []bucket.Use{{Method: "ReadJSON", Prefix: bucket.ResultsPrefix}}
	for _, p := range TriggerPrefixes {
		uses = append(uses, bucket.Use{Method: "Stat", Prefix: p})
	}
	return uses
}
