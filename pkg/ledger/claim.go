package ledger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/failure"
)

// entry is what w's result slot holds: a Result and its version, or nothing.
type entry struct {
	result  Result
	version string // the record's ETag; "" when the slot is empty
}

func (e entry) found() bool { return e.version != "" }

// read reads w's result slot. An empty slot is no error; any other failure
// is S3's (or the configuration's), never "no result".
func (l *Ledger) read(ctx context.Context, w Work) (entry, error) {
	var r Result
	v, err := l.store.ReadJSON(ctx, ResultKey(w), &r)
	switch {
	case errors.Is(err, failure.ErrNotFound):
		return entry{}, nil
	case err != nil:
		return entry{}, notRead(err)
	}
	if v == "" {
		v = "*" // a store that gives no ETag: still found
	}
	return entry{result: r, version: v}, nil
}

func notRead(err error) error {
	if k := failure.KindOf(err); k == failure.Config || k == failure.S3 || k == failure.DynamoDB {
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

// claim is the right to do a piece of work.
type claim struct {
	// tookOver is true when the claim was another's, released or stale:
	// that one may have recorded a result since it was read.
	tookOver bool
	// unconfirmed counts earlier uploads of the work that may have reached
	// WeChat without a recorded outcome.
	unconfirmed int
	key         string
	version     string
	record      claimRecord
}

// MaxUnconfirmed is how many uploads of one piece of work may have reached
// WeChat unconfirmed before it is not sent again: the one allowed extra
// upload.
const MaxUnconfirmed = 2

// ErrHeld is wrapped by the failure of work another delivery holds.
var ErrHeld = errors.New("another request is uploading this object")

func held(err error) error {
	return failure.Wrap(failure.Conflict, failure.CodeSystem, errors.Join(ErrHeld, err),
		"system error: this object is being uploaded by another request; try again shortly")
}

// maxTries bounds the re-reads of a claim or a result that others keep writing.
const maxTries = 4

func (l *Ledger) mine(w Work) claimRecord {
	return claimRecord{Key: w.Key, ETag: w.ETag, API: w.API, Type: w.Type, Owner: owner(), Since: l.now().UnixMilli()}
}

// claim makes the caller the one who does w, or fails with ErrHeld (a
// Conflict) while another holds it. seen is w's result slot as read: a
// success of w there means a stale claim's holder finished, so its upload
// is not counted as unconfirmed.
func (l *Ledger) claim(ctx context.Context, w Work, seen entry) (*claim, error) {
	key, mine := claimKey(w), l.mine(w)
	cond := bucket.Condition{IfAbsent: true}
	for range maxTries {
		v, err := l.claims.WriteJSON(ctx, key, mine, cond)
		if err == nil {
			return &claim{tookOver: !cond.IfAbsent, unconfirmed: mine.Unconfirmed, key: key, version: v, record: mine}, nil
		}
		switch {
		case !cond.IfAbsent && (errors.Is(err, bucket.ErrChanged) || errors.Is(err, bucket.ErrConflict)):
			return nil, held(err) // another delivery took the stale claim first
		case !errors.Is(err, bucket.ErrExists) && !errors.Is(err, bucket.ErrConflict):
			return nil, err
		}
		var theirs claimRecord
		ver, err := l.claims.ReadJSON(ctx, key, &theirs)
		switch {
		case errors.Is(err, failure.ErrNotFound):
			cond = bucket.Condition{IfAbsent: true} // gone (expired) meanwhile
			continue
		case err != nil:
			return nil, notRead(err) // unsure whether another is at work: retry later
		case theirs.Owner == mine.Owner:
			// Our own write, whose answer was lost and whose retry found it.
			return &claim{tookOver: !cond.IfAbsent, unconfirmed: mine.Unconfirmed, key: key, version: ver, record: mine}, nil
		}
		age := l.now().Sub(time.UnixMilli(theirs.Since))
		if !theirs.Released && age < l.ttl {
			return nil, held(nil)
		}
		mine.Unconfirmed = theirs.Unconfirmed
		if !theirs.Released && !(seen.found() && seen.result.of(w) && seen.result.Success()) {
			mine.Unconfirmed++ // its holder stopped mid-work: its upload may have reached WeChat
		}
		l.log.InfoContext(ctx, "taking over a claim", "key", w.Key, "released", theirs.Released, "age_ms", age.Milliseconds(), "unconfirmed", mine.Unconfirmed)
		cond = bucket.Condition{IfMatch: ver}
	}
	return nil, held(errors.New("the claim kept changing"))
}

// begin reads w's result and, unless it answers w again (then returned
// with no claim), claims w under claim's rules (ErrHeld while another
// holds it); seen is the result as read. The result is read first, however
// long claims live: an article image's URL and a final refusal answer
// their version for good, even once the claim is gone (expired by the
// table's TTL, or deleted).
func (l *Ledger) begin(ctx context.Context, w Work) (c *claim, seen entry, err error) {
	if seen, err = l.read(ctx, w); err != nil {
		return nil, entry{}, err
	}
	if r, ok := l.answers(w, seen); ok {
		return nil, entry{result: r, version: seen.version}, nil
	}
	c, err = l.claim(ctx, w, seen)
	return c, seen, err
}

func owner() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// release gives the claim up with no success recorded, so that the next
// delivery takes the work over at once; unconfirmed counts this holder's
// uploads that may have reached WeChat without a recorded outcome. It is
// written only if the claim is still the caller's. If it cannot be, the
// claim goes stale after the claim TTL and its taker counts one more
// unconfirmed upload, as for a holder that crashed. It has its own time,
// past the work's deadline.
func (l *Ledger) release(ctx context.Context, c *claim, unconfirmed int) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	rec := c.record
	rec.Released, rec.Unconfirmed, rec.Since = true, c.unconfirmed+unconfirmed, l.now().UnixMilli()
	if _, err := l.claims.WriteJSON(rctx, c.key, rec, bucket.Condition{IfMatch: c.version}); err != nil {
		l.log.WarnContext(ctx, "cannot release claim; it goes stale by itself", "key", c.record.Key, "error", err.Error())
	}
}
