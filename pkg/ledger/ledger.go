// Package ledger does each piece of work once: it keeps, in the media
// bucket, who is doing each piece and how it ended, so that every object
// put under a trigger prefix ends with exactly one result and costs at
// most one WeChat upload, however often S3 delivers its event, Lambda
// retries it, or {"key"} callers race it. Do is the one call: it claims,
// runs, records, releases and announces.
//
// A piece of Work is an object version sent to one API as one type, for
// one app: (key, ETag, API, type, app). Its rules:
//
//   - Prepare first. What is sent is opened and checked before any claim,
//     so a read that fails, or a file WeChat would refuse, costs no claim;
//     its failure is recorded as the work's outcome all the same.
//   - Claim. Whoever uploads holds the work's claim, a record in the
//     stack's DynamoDB table (package recordtable) created only where none
//     is. A claim that is released, or older than the claim TTL (its
//     holder crashed or ran out of time), is taken over by a write
//     conditional on that claim's own version, so of two deliveries that
//     find it stale only one takes it. A failed condition means someone
//     else holds it, unless the claim found is the caller's own (a write
//     whose answer was lost, retried). Claims expire by the table's TTL
//     after 3 days, the life of a temporary media_id.
//   - Answer again. The work's result is read before it is claimed: a
//     recorded success of the same version that WeChat still honours for
//     longer than the reuse margin (an article image's URL: always), or
//     the final refusal of that version, answers the work again without a
//     claim or an upload, whatever became of its claim. The happy path
//     costs the result's read (S3 answers 404), the claim (one DynamoDB
//     write) and the result's write.
//   - Record. A result is written conditionally: If-None-Match: * when the
//     slot was empty, If-Match on the version read otherwise. Over a result
//     of the same work, a failure never replaces a valid success, and a
//     success replaces one only in its last hour (when it is no longer
//     answered again). Over another version's result, S3 is asked which
//     version is current: a result for an ETag that is no longer the
//     object's current one never replaces the current one's. When someone
//     wrote the slot in between, it is read again and the same rules
//     decide. A success is not released: the result answers every later
//     delivery. Anything else releases the claim, so that a retry takes it
//     over at once.
//   - Read. A result that cannot be read (S3 failing, a record that does not
//     decode) is a failure of S3: nothing is recorded over it and the work
//     is retried, never uploaded again over a valid media_id.
//   - At most one extra upload. An upload whose outcome is unknown (its
//     holder crashed or ran out of time holding the claim, or WeChat's
//     answer was lost after the whole body was sent: failure.ErrMaybeDone)
//     is counted on the claim; work whose count reaches two is not sent
//     again, Lambda's retries included, until the claim is deleted or
//     expires. A holder that stops without releasing is counted whatever
//     it had done: the claim is written only once the work is prepared,
//     just before the upload, to keep that rare.
//   - Announce. An outcome written now is announced (Options.Announce)
//     once the claim is settled, within the invocation's time.
//   - Nothing to do. A failure that wraps failure.ErrSkipped (the object is
//     gone or was replaced, or a key that takes one version was given
//     another) records nothing.
//
// Results of the work a key's trigger prefix asks for live at
// results/<key>.json (the S3 contract); other work (a {"key"} request for
// another type or API) at results/requested/<api>/<type>/<key>.json, and
// another app's at results/apps/<appid>/requested/…. Keys too long for
// that (S3 keys are at most 1024 bytes) are cut and given a hash of the
// whole key. Claims are keyed claims/<hash of the work> in the table.
package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/wxmedia/wxmedia/pkg/bucket"
)

// Work is one piece of work: an object version sent to one API as one
// type, for one app.
type Work struct {
	Key  string
	ETag string // quoted, as S3 answers it
	API  string // the WeChat API it is sent to: "upload" or "uploadimg"
	Type string // image, voice, video or thumb for "upload"; "" for "uploadimg"
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
	// MustRecord is true when the work's caller retries it until its
	// outcome is recorded (an S3 event): an outcome that cannot be written
	// fails the work. A request's caller is answered all the same.
	MustRecord bool
	// Once is true for a key that takes one version only (an upload form's):
	// work on another version of it is skipped once one is recorded.
	Once bool
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

// of reports whether r is a result of w's object version, for w's app.
func (r Result) of(w Work) bool {
	return r.Key == w.Key && r.ETag == w.ETag && r.forApp(w)
}

// forApp reports whether r was done for w's app, whatever its version.
func (r Result) forApp(w Work) bool {
	return r.AppID == w.AppID || r.AppID == "" && w.DefaultApp
}

// Records are small JSON records written conditionally: a write may
// require that nothing is at the key (bucket.ErrExists otherwise) or that
// the version read still is (bucket.ErrChanged otherwise).
type Records interface {
	ReadJSON(ctx context.Context, key string, v any) (version string, err error)
	WriteJSON(ctx context.Context, key string, v any, cond bucket.Condition) (version string, err error)
}

// Store is the part of the bucket the ledger uses: its results, and the
// objects' current versions.
type Store interface {
	Records
	Stat(ctx context.Context, key string) (bucket.Object, error)
}

var _ Store = (*bucket.Bucket)(nil)

// Announcer is told of each outcome written, for w at resultKey (package
// completion publishes them).
type Announcer interface {
	Recorded(ctx context.Context, w Work, r Result, resultKey string)
}

// Options configure a Ledger. Zero values take the defaults.
type Options struct {
	// ClaimTTL is how long a claim that was not released holds off others;
	// default 2 minutes, longer than any function's run.
	ClaimTTL time.Duration
	// ReuseMargin is how much life a recorded media_id must have left to be
	// answered again, and so to stand against a new success; default 1 hour.
	ReuseMargin time.Duration
	// Announce, if set, is told of each outcome written.
	Announce Announcer
	Now      func() time.Time // default time.Now
	Logger   *slog.Logger     // default slog.Default()
}

// Ledger is the results of the media bucket and the claims beside them.
type Ledger struct {
	store    Store
	claims   Records
	ttl      time.Duration
	margin   time.Duration
	announce Announcer
	now      func() time.Time
	log      *slog.Logger
}

// New returns a Ledger whose results are in store and whose claims are in
// claims (the stack's DynamoDB table, package recordtable).
func New(store Store, claims Records, opts Options) *Ledger {
	l := &Ledger{store: store, claims: claims, ttl: opts.ClaimTTL, margin: opts.ReuseMargin, announce: opts.Announce, now: opts.Now, log: opts.Logger}
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

// Prefixes of the result slots under bucket.ResultsPrefix.
const (
	requestedPrefix = bucket.ResultsPrefix + "requested/"
	appsPrefix      = bucket.ResultsPrefix + "apps/" // apps/<appid>/requested/…
)

// ResultKey is where w's result is recorded.
func ResultKey(w Work) string {
	if w.Trigger {
		return fit(bucket.ResultsPrefix, w.Key, ".json")
	}
	slot := requestedPrefix + w.API + "/"
	if !w.DefaultApp && w.AppID != "" {
		slot = appsPrefix + w.AppID + "/" + requestedPrefix[len(bucket.ResultsPrefix):] + w.API + "/"
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
	return bucket.ClaimsPrefix + hex.EncodeToString(h.Sum(nil))
}

// Uses are the ledger's calls of the bucket: its results, and the
// sources' current version (a Stat) under the given prefixes.
func Uses(sources []string) []bucket.Use {
	uses := []bucket.Use{
		{Method: "ReadJSON", Prefix: bucket.ResultsPrefix}, {Method: "WriteJSON", Prefix: bucket.ResultsPrefix},
	}
	for _, p := range sources {
		uses = append(uses, bucket.Use{Method: "Stat", Prefix: p})
	}
	return uses
}
