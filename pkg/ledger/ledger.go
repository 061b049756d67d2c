// Package ledger keeps, in the media bucket, who is doing each piece of
// work and how it ended, so that every object put under a trigger prefix
// ends with exactly one result and costs at most one WeChat upload, however
// often S3 delivers its event, Lambda retries it, or {"key"} callers race it.
//
// A piece of Work is an object version sent to one API as one type: (key,
// ETag, API, type). Its rules:
//
//   - Claim. Whoever uploads holds the work's claim, a record under
//     ClaimsPrefix created with If-None-Match: *. A claim that is released,
//     or older than the claim TTL (its holder crashed or ran out of time),
//     is taken over with If-Match on that claim's own ETag, so of two
//     deliveries that find it stale only one takes it. 412 means someone
//     else holds it; S3's 409 (a concurrent conditional write) means read
//     again, never "done".
//   - Record. A result is written conditionally: If-None-Match: * when the
//     slot was empty, If-Match on the version read otherwise. Over a result
//     of the same work, a failure never replaces a valid success, and a
//     success replaces one only in its last hour (when it is no longer
//     answered again). Over another version's result, S3 is asked which
//     version is current: a result for an ETag that is no longer the
//     object's current one never replaces the current one's. When someone
//     wrote the slot in between, it is read again and the same rules
//     decide. A success is not released: the result answers every later
//     delivery, so the happy path costs 4 S3 requests (the result read, the
//     object's GET, the claim, the result write; the object is opened before
//     the claim, so a read that fails costs no claim).
//   - Read. A result that cannot be read (S3 failing, a record that does not
//     decode) is a failure of S3: nothing is recorded over it and the work
//     is retried, never uploaded again over a valid media_id.
//   - At most one extra upload. An upload whose outcome is unknown (its
//     holder crashed or ran out of time holding the claim, or WeChat's
//     answer was lost after the whole body was sent) is counted on the
//     claim; work whose count reaches two is not sent again, Lambda's
//     retries included, until the claim is deleted or expires. A holder
//     that stops without releasing is counted whatever it had done: the
//     claim is written only once the object is open and checked, just
//     before the upload, to keep that rare.
//
// Results of the work a key's trigger prefix asks for live at
// results/<key>.json (the S3 contract); other work (a {"key"} request for
// another type or API) at results/requested/<api>/<type>/<key>.json. Keys
// too long for that (S3 keys are at most 1024 bytes) are cut and given a
// hash of the whole key. Claims live under claims/, outside results/ and
// the trigger prefixes; the bucket's lifecycle expires them after 3 days,
// the life of a temporary media_id: while w's claim lives, it is how a
// delivery learns w was done (Begin).
package ledger

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/failure"
)

// Key prefixes the ledger writes under.
const (
	ResultsPrefix   = "results/"
	RequestedPrefix = ResultsPrefix + "requested/"
	// AppsPrefix holds the other apps' requested results:
	// results/apps/<appid>/requested/<api>/<type>/<key>.json.
	AppsPrefix   = ResultsPrefix + "apps/"
	ClaimsPrefix = "claims/"
)

// APIs a piece of work is sent to.
const (
	APIUpload    = "upload"
	APIUploadImg = "uploadimg"
)

// Work is one piece of work: an object version sent to one API as one type.
type Work struct {
	Key  string
	ETag string // quoted, as S3 answers it
	API  string // APIUpload or APIUploadImg
	Type string // image, voice, video or thumb for APIUpload; "" for APIUploadImg
	// Trigger is true for the work the key's trigger prefix asks for, for
	// the object's own app (its appid metadata, else the default): its
	// result is results/<key>.json, shared by S3 events and {"key"} requests.
	Trigger bool
	// AppID is the app the work is for: a media_id is answered again only
	// to the app it was uploaded for.
	AppID string
	// DefaultApp is true when AppID is the deployment's default app, whose
	// results recorded before results named their app (no appid) are its own.
	DefaultApp bool
}

// Result is how a piece of work ended, as recorded: a success (MediaID or
// URL) or a failure (ErrCode, ErrMsg).
type Result struct {
	Key       string `json:"key"`
	ETag      string `json:"etag"`
	AppID     string `json:"appid,omitempty"` // the app it was done for
	Type      string `json:"type,omitempty"`
	MediaID   string `json:"media_id,omitempty"`
	CreatedAt int64  `json:"created_at,omitempty"`
	ExpiresAt int64  `json:"expires_at,omitempty"`
	URL       string `json:"url,omitempty"`
	ErrCode   int    `json:"errcode,omitempty"`
	ErrMsg    string `json:"errmsg,omitempty"`
	// Final marks a failure that is the object's own (a format or size
	// WeChat does not take, a key that asks for nothing): the same version
	// fails the same way, so a redelivery answers it again. Other failures
	// are retried.
	Final bool `json:"final,omitempty"`
}

// Success reports whether r is a success.
func (r Result) Success() bool { return r.ErrCode == 0 && (r.MediaID != "" || r.URL != "") }

// Of reports whether r is a result of w's object version, for w's app.
func (r Result) Of(w Work) bool {
	return r.Key == w.Key && r.ETag == w.ETag && r.ForApp(w)
}

// ForApp reports whether r was done for w's app, whatever its version.
func (r Result) ForApp(w Work) bool {
	return r.AppID == w.AppID || r.AppID == "" && w.DefaultApp
}

// Store is the part of the bucket the ledger uses.
type Store interface {
	Stat(ctx context.Context, key string) (bucket.Object, error)
	ReadJSON(ctx context.Context, key string, v any) (version string, err error)
	WriteJSON(ctx context.Context, key string, v any, cond bucket.Condition) (version string, err error)
}

var _ Store = (*bucket.Bucket)(nil)

// Options configure a Ledger. Zero values take the defaults.
type Options struct {
	// ClaimTTL is how long a claim that was not released holds off others;
	// default 2 minutes, longer than any function's run.
	ClaimTTL time.Duration
	// ReuseMargin is how much life a recorded media_id must have left to be
	// answered again, and so to stand against a new success; default 1 hour.
	ReuseMargin time.Duration
	Now         func() time.Time // default time.Now
	Logger      *slog.Logger     // default slog.Default()
}

// Ledger is the claims and results of the media bucket.
type Ledger struct {
	store  Store
	ttl    time.Duration
	margin time.Duration
	now    func() time.Time
	log    *slog.Logger
}

// New returns a Ledger over store.
func New(store Store, opts Options) *Ledger {
	l := &Ledger{store: store, ttl: opts.ClaimTTL, margin: opts.ReuseMargin, now: opts.Now, log: opts.Logger}
	if l.ttl <= 0 {
		l.ttl = 2 * time.Minute
	}
	if l.margin <= 0 {
		l.margin = time.Hour
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	return l
}

// maxKey is S3's longest key, in bytes.
const maxKey = 1024

// ResultKey is where w's result is recorded.
func ResultKey(w Work) string {
	if w.Trigger {
		return fit(ResultsPrefix, w.Key, ".json")
	}
	slot := RequestedPrefix + w.API + "/"
	if !w.DefaultApp && w.AppID != "" {
		slot = AppsPrefix + w.AppID + "/" + RequestedPrefix[len(ResultsPrefix):] + w.API + "/"
	}
	if w.Type != "" {
		slot += w.Type + "/"
	}
	return fit(slot, w.Key, ".json")
}

// fit is prefix+key+suffix, or, when that is longer than S3 allows, the
// key cut at a character boundary followed by "~" and the SHA-256 of the
// whole key.
func fit(prefix, key, suffix string) string {
	if len(prefix)+len(key)+len(suffix) <= maxKey {
		return prefix + key + suffix
	}
	sum := sha256.Sum256([]byte(key))
	tag := "~" + hex.EncodeToString(sum[:])
	n := maxKey - len(prefix) - len(tag) - len(suffix)
	for n > 0 && !utf8.RuneStart(key[n]) {
		n--
	}
	return prefix + key[:n] + tag + suffix
}

// claimKey is where w's claim lives: a hash of its whole identity.
func claimKey(w Work) string {
	h := sha256.New()
	parts := []string{w.Key, w.ETag, w.API, w.Type}
	if !w.DefaultApp && w.AppID != "" {
		parts = append(parts, w.AppID) // the default app's claims stay where they were
	}
	for _, part := range parts {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return ClaimsPrefix + hex.EncodeToString(h.Sum(nil))
}

// Entry is what w's result slot holds: a Result and its version, or nothing.
type Entry struct {
	Result  Result
	Version string // the record's ETag; "" when the slot is empty
}

// Found reports whether the slot holds a result.
func (e Entry) Found() bool { return e.Version != "" }

// Read reads w's result slot. An empty slot is no error; any other failure
// is S3's (or the configuration's), never "no result".
func (l *Ledger) Read(ctx context.Context, w Work) (Entry, error) {
	var r Result
	v, err := l.store.ReadJSON(ctx, ResultKey(w), &r)
	switch {
	case errors.Is(err, bucket.ErrNotFound):
		return Entry{}, nil
	case err != nil:
		return Entry{}, notRead(err)
	}
	if v == "" {
		v = "*" // a store that gives no ETag: still found
	}
	return Entry{Result: r, Version: v}, nil
}

func notRead(err error) error {
	if k := failure.KindOf(err); k == failure.Config || k == failure.S3 {
		return err
	}
	return failure.Wrap(failure.S3, failure.CodeSystem, err, "system error: the ledger could not be read")
}

// claimRecord is what a claim holds.
type claimRecord struct {
	Key   string `json:"key"`
	ETag  string `json:"etag"`
	API   string `json:"api"`
	Type  string `json:"type,omitempty"`
	Owner string `json:"owner"`
	Since int64  `json:"since"` // unix milliseconds
	// Released is true once its holder gave it up with no success recorded:
	// the next delivery takes it over at once.
	Released bool `json:"released,omitempty"`
	// Unconfirmed counts uploads of this work that may have reached WeChat
	// with no outcome recorded (a holder that crashed, an answer lost).
	Unconfirmed int `json:"unconfirmed,omitempty"`
}

// Claim is the right to do a piece of work.
type Claim struct {
	Work Work
	// TookOver is true when the claim was another's, released or stale:
	// that one may have recorded a result since it was read.
	TookOver bool
	// Unconfirmed counts earlier uploads of the work that may have reached
	// WeChat without a recorded outcome.
	Unconfirmed int
	key         string
	version     string
	record      claimRecord
}

// Key is where the claim lives, for an operator who must delete it.
func (c *Claim) Key() string { return c.key }

// MaxUnconfirmed is how many uploads of one piece of work may have reached
// WeChat unconfirmed before it is not sent again: the one allowed extra
// upload.
const MaxUnconfirmed = 2

// ErrHeld is wrapped by Claim's failure when another delivery holds the work.
var ErrHeld = errors.New("another request is uploading this object")

func held(err error) error {
	return failure.Wrap(failure.Conflict, failure.CodeSystem, errors.Join(ErrHeld, err),
		"system error: this object is being uploaded by another request; try again shortly")
}

// maxTries bounds the re-reads of a claim or a result that others keep writing.
const maxTries = 4

// Claim makes the caller the one who does w, or fails with ErrHeld (a
// Conflict) while another holds it. seen is w's result slot as read: a
// success of w there means a stale claim's holder finished, so its upload
// is not counted as unconfirmed.
func (l *Ledger) Claim(ctx context.Context, w Work, seen Entry) (*Claim, error) {
	key := claimKey(w)
	mine := claimRecord{Key: w.Key, ETag: w.ETag, API: w.API, Type: w.Type, Owner: owner(), Since: l.now().UnixMilli()}
	cond := bucket.Condition{IfAbsent: true}
	for range maxTries {
		v, err := l.store.WriteJSON(ctx, key, mine, cond)
		if err == nil {
			return &Claim{Work: w, TookOver: !cond.IfAbsent, Unconfirmed: mine.Unconfirmed, key: key, version: v, record: mine}, nil
		}
		switch {
		case !cond.IfAbsent && (errors.Is(err, bucket.ErrChanged) || errors.Is(err, bucket.ErrConflict)):
			return nil, held(err) // another delivery took the stale claim first
		case !errors.Is(err, bucket.ErrExists) && !errors.Is(err, bucket.ErrConflict):
			return nil, err
		}
		var theirs claimRecord
		ver, err := l.store.ReadJSON(ctx, key, &theirs)
		switch {
		case errors.Is(err, bucket.ErrNotFound):
			cond = bucket.Condition{IfAbsent: true} // gone (expired) meanwhile
			continue
		case err != nil:
			return nil, notRead(err) // unsure whether another is at work: retry later
		}
		age := l.now().Sub(time.UnixMilli(theirs.Since))
		if !theirs.Released && age < l.ttl {
			return nil, held(nil)
		}
		mine.Unconfirmed = theirs.Unconfirmed
		if !theirs.Released && !(seen.Found() && seen.Result.Of(w) && seen.Result.Success()) {
			mine.Unconfirmed++ // its holder stopped mid-work: its upload may have reached WeChat
		}
		l.log.InfoContext(ctx, "taking over a claim", "key", w.Key, "released", theirs.Released, "age_ms", age.Milliseconds(), "unconfirmed", mine.Unconfirmed)
		cond = bucket.Condition{IfMatch: ver}
	}
	return nil, held(errors.New("the claim kept changing"))
}

// Begin claims w before anything is read: the happy path of a first
// delivery costs only the claim. A claim lives as long as a temporary
// media_id (the bucket's lifecycle keeps claims 3 days), so a claim that
// is already there is how a delivery learns that w was done or is being
// done: only then is w's result read. If that result answers w again,
// Begin returns it with no claim; otherwise it takes the claim under
// Claim's rules (ErrHeld while another holds it), and seen is the result
// as read (empty on the happy path: the slot is then written with
// If-None-Match).
func (l *Ledger) Begin(ctx context.Context, w Work, answers func(Entry) bool) (c *Claim, seen Entry, err error) {
	key := claimKey(w)
	mine := claimRecord{Key: w.Key, ETag: w.ETag, API: w.API, Type: w.Type, Owner: owner(), Since: l.now().UnixMilli()}
	v, err := l.store.WriteJSON(ctx, key, mine, bucket.Condition{IfAbsent: true})
	switch {
	case err == nil:
		return &Claim{Work: w, key: key, version: v, record: mine}, Entry{}, nil
	case !errors.Is(err, bucket.ErrExists) && !errors.Is(err, bucket.ErrConflict):
		return nil, Entry{}, err
	}
	if seen, err = l.Read(ctx, w); err != nil {
		return nil, Entry{}, err
	}
	if answers(seen) {
		return nil, seen, nil
	}
	c, err = l.Claim(ctx, w, seen)
	return c, seen, err
}

func owner() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Release gives the claim up with no success recorded, so that the next
// delivery takes the work over at once; unconfirmed counts this holder's
// uploads that may have reached WeChat without a recorded outcome. It is
// written only if the claim is still the caller's. If it cannot be, the
// claim goes stale after the claim TTL and its taker counts one more
// unconfirmed upload, as for a holder that crashed.
func (l *Ledger) Release(ctx context.Context, c *Claim, unconfirmed int) {
	rec := c.record
	rec.Released, rec.Unconfirmed, rec.Since = true, c.Unconfirmed+unconfirmed, l.now().UnixMilli()
	if _, err := l.store.WriteJSON(ctx, c.key, rec, bucket.Condition{IfMatch: c.version}); err != nil {
		l.log.WarnContext(ctx, "cannot release claim; it goes stale by itself", "key", c.Work.Key, "error", err.Error())
	}
}

// Outcome is what Record did.
type Outcome int

const (
	// Recorded: the result is in the slot.
	Recorded Outcome = iota
	// Kept: the slot holds a result of the same work that stands (a valid
	// success, where this one is a failure or a second success).
	Kept
	// Superseded: the slot holds a result of another version of the
	// object and this one's version is not the current one.
	Superseded
)

// Record writes r as w's result, given seen, the slot as read before the
// work. When the slot changed meanwhile, the rules of the package decide
// what stands; the result answered is the one in the slot afterwards (r,
// unless Kept). A write that fails is an error: the outcome is not
// recorded and the work must be retried.
func (l *Ledger) Record(ctx context.Context, w Work, seen Entry, r Result) (Result, Outcome, error) {
	slot := ResultKey(w)
	cond := bucket.Condition{IfAbsent: true}
	if seen.Found() {
		cond = bucket.Condition{IfMatch: seen.Version}
		out, stands, err := l.decide(ctx, w, r, seen)
		if err != nil || stands != Recorded {
			return out, stands, err
		}
	}
	for range maxTries {
		_, err := l.store.WriteJSON(ctx, slot, r, cond)
		switch {
		case err == nil:
			return r, Recorded, nil
		case !errors.Is(err, bucket.ErrExists) && !errors.Is(err, bucket.ErrChanged) && !errors.Is(err, bucket.ErrConflict):
			return r, Recorded, notRecorded(err)
		}
		cur, err := l.Read(ctx, w) // someone wrote the slot meanwhile
		if err != nil {
			return r, Recorded, notRecorded(err)
		}
		if !cur.Found() {
			cond = bucket.Condition{IfAbsent: true}
			continue
		}
		out, stands, err := l.decide(ctx, w, r, cur)
		if err != nil || stands != Recorded {
			return out, stands, err
		}
		cond = bucket.Condition{IfMatch: cur.Version}
	}
	return r, Recorded, notRecorded(failure.New(failure.Conflict, failure.CodeSystem, "the result kept changing"))
}

// ErrNotRecorded is wrapped by a failure to write an outcome: the work
// must be retried so that it is not lost.
var ErrNotRecorded = errors.New("outcome not recorded")

func notRecorded(err error) error {
	k := failure.KindOf(err)
	if k != failure.Config && k != failure.Conflict {
		k = failure.S3
	}
	return failure.Wrap(k, failure.CodeSystem, errors.Join(ErrNotRecorded, err), "system error: the outcome could not be recorded in the media bucket")
}

// decide says whether r may replace what the slot holds, cur (Recorded
// means it may). Of the same work, a failure never replaces a success that
// has not expired, and a success replaces another only when that one is
// within the reuse margin of its expiry (it would not be answered again).
// A result of another version is replaced only if w's version is the
// object's current one, which is asked of S3: a late delivery of an older
// version (a retry, a refusal, a read that failed) never replaces it.
func (l *Ledger) decide(ctx context.Context, w Work, r Result, cur Entry) (Result, Outcome, error) {
	theirs := cur.Result
	if theirs.Of(w) {
		switch {
		case !theirs.Success():
			return r, Recorded, nil
		case !r.Success() && !l.expired(theirs, 0):
			return theirs, Kept, nil // a failure never replaces a valid success
		case r.Success() && !l.expired(theirs, l.margin):
			return theirs, Kept, nil // the first success stands while it is answered
		}
		return r, Recorded, nil
	}
	if theirs.Key != w.Key {
		return r, Recorded, nil
	}
	obj, err := l.store.Stat(ctx, w.Key)
	switch {
	case errors.Is(err, bucket.ErrNotFound):
		return theirs, Superseded, nil // the object is gone: nothing current to record
	case err != nil:
		return r, Recorded, notRecorded(err)
	case obj.ETag != w.ETag:
		return theirs, Superseded, nil
	}
	return r, Recorded, nil
}

// Answers reports whether what the slot holds answers w again, without new
// work: a success of the same object version that WeChat still honours for
// longer than the reuse margin (an article image's URL: always), or the
// final refusal of that version.
func (l *Ledger) Answers(w Work, e Entry) (Result, bool) {
	r := e.Result
	switch {
	case !e.Found() || !r.Of(w):
		return Result{}, false
	case !r.Success():
		return r, r.Final
	case w.API == APIUploadImg:
		return r, r.URL != ""
	}
	return r, r.MediaID != "" && !l.expired(r, l.margin)
}

// expired reports whether a success has less than margin of its life left.
func (l *Ledger) expired(r Result, margin time.Duration) bool {
	return r.URL == "" && r.ExpiresAt != 0 && !l.now().Add(margin).Before(time.Unix(r.ExpiresAt, 0))
}

// Uses are the ledger's calls of the bucket: its records, and the sources'
// current version (a Stat) under the given prefixes.
func Uses(sources []string) []bucket.Use {
	uses := []bucket.Use{
		{Method: "ReadJSON", Prefix: ResultsPrefix}, {Method: "WriteJSON", Prefix: ResultsPrefix},
		{Method: "ReadJSON", Prefix: ClaimsPrefix}, {Method: "WriteJSON", Prefix: ClaimsPrefix},
	}
	for _, p := range sources {
		uses = append(uses, bucket.Use{Method: "Stat", Prefix: p})
	}
	return uses
}
