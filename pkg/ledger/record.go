package ledger

import (
	"context"
	"errors"
	"time"

	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/failure"
)

// outcome is what write did.
type outcome int

const (
	// written: the result is in the slot.
	written outcome = iota
	// kept: the slot holds a result of the same work that stands (a valid
	// success, where this one is a failure or a second success).
	kept
	// superseded: the slot holds a result of another version of the
	// object and this one's version is not the current one.
	superseded
)

// record writes w's outcome, r or err, given seen, its slot as read. The
// answer is what stands: r, the result that stood instead, or err. If
// the outcome cannot be written, work that must be recorded fails so that
// it is retried and not lost; a request gets its answer all the same (the
// record only serves reuse). recorded says the slot holds an outcome of
// w's now; fresh, that it was written now. The time kept back from the
// Lambda deadline pays for the write, so work that ran out of time still
// records its failure.
func (l *Ledger) record(ctx context.Context, w Work, seen entry, r Result, err error) (_ Result, recorded, fresh bool, _ error) {
	r.Key, r.ETag, r.AppID = w.Key, w.ETag, w.AppID
	if err != nil {
		r = Result{Key: w.Key, ETag: w.ETag, AppID: w.AppID, ErrCode: failure.CodeOf(err), ErrMsg: failure.MessageOf(err), Final: failure.Final(err)}
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	out, done, werr := l.write(wctx, w, seen, r)
	switch {
	case werr != nil && err != nil:
		return r, false, false, errors.Join(werr, err) // not recorded comes first: the work is retried
	case werr != nil && (!w.MustRecord || failure.KindOf(werr) == failure.Conflict):
		// The caller has its answer: a request, or work whose slot others
		// keep writing (they settle it).
		l.log.WarnContext(ctx, "uploaded, but the result was not recorded", "key", w.Key, "error", werr.Error())
		return r, false, false, nil
	case werr != nil:
		return r, false, false, werr
	case done == kept:
		l.log.InfoContext(ctx, "a result of the same work stands", "key", w.Key, "outcome_errcode", r.ErrCode)
		return out, true, false, nil // a valid success stands over this failure, or over a second success
	case done == superseded:
		l.log.InfoContext(ctx, "not recorded: the object has a newer version", "key", w.Key, "etag", w.ETag)
		return r, true, false, err
	}
	return r, true, true, err
}

// write writes r as w's result, given seen, the slot as read before the
// work. When the slot changed meanwhile, the rules of the package decide
// what stands; the result answered is the one in the slot afterwards (r,
// unless kept). A write that fails is an error: the outcome is not
// recorded and the work must be retried.
func (l *Ledger) write(ctx context.Context, w Work, seen entry, r Result) (Result, outcome, error) {
	slot := ResultKey(w)
	cond := bucket.Condition{IfAbsent: true}
	if seen.found() {
		cond = bucket.Condition{IfMatch: seen.version}
		out, stands, err := l.decide(ctx, w, r, seen)
		if err != nil || stands != written {
			return out, stands, err
		}
	}
	for range maxTries {
		_, err := l.store.WriteJSON(ctx, slot, r, cond)
		switch {
		case err == nil:
			return r, written, nil
		case !errors.Is(err, bucket.ErrExists) && !errors.Is(err, bucket.ErrChanged) && !errors.Is(err, bucket.ErrConflict):
			return r, written, notRecorded(err)
		}
		cur, err := l.read(ctx, w) // someone wrote the slot meanwhile
		if err != nil {
			return r, written, notRecorded(err)
		}
		if !cur.found() {
			cond = bucket.Condition{IfAbsent: true}
			continue
		}
		out, stands, err := l.decide(ctx, w, r, cur)
		if err != nil || stands != written {
			return out, stands, err
		}
		cond = bucket.Condition{IfMatch: cur.version}
	}
	return r, written, notRecorded(failure.New(failure.Conflict, failure.CodeSystem, "the result kept changing"))
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

// decide says whether r may replace what the slot holds, cur (written
// means it may). Of the same work, a failure never replaces a success that
// has not expired, and a success replaces another only when that one is
// within the reuse margin of its expiry (it would not be answered again).
// A result of another version is replaced only if w's version is the
// object's current one, which is asked of S3: a late delivery of an older
// version (a retry, a refusal, a read that failed) never replaces it.
func (l *Ledger) decide(ctx context.Context, w Work, r Result, cur entry) (Result, outcome, error) {
	theirs := cur.result
	if theirs.of(w) {
		switch {
		case !theirs.Success():
			return r, written, nil
		case !r.Success() && !l.expired(theirs, 0):
			return theirs, kept, nil // a failure never replaces a valid success
		case r.Success() && !l.expired(theirs, l.margin):
			return theirs, kept, nil // the first success stands while it is answered
		}
		return r, written, nil
	}
	if theirs.Key != w.Key {
		return r, written, nil
	}
	obj, err := l.store.Stat(ctx, w.Key)
	switch {
	case errors.Is(err, failure.ErrNotFound):
		return theirs, superseded, nil // the object is gone: nothing current to record
	case err != nil:
		return r, written, notRecorded(err)
	case obj.ETag != w.ETag:
		return theirs, superseded, nil
	}
	return r, written, nil
}

// answers reports whether what the slot holds answers w again, without new
// work: a success of the same object version that WeChat still honours for
// longer than the reuse margin (an article image's URL: always), or the
// final refusal of that version.
func (l *Ledger) answers(w Work, e entry) (Result, bool) {
	r := e.result
	switch {
	case !e.found() || !r.of(w):
		return Result{}, false
	case !r.Success():
		return r, r.Final
	case r.URL != "":
		return r, true
	}
	return r, r.MediaID != "" && !l.expired(r, l.margin)
}

// expired reports whether a success has less than margin of its life left.
func (l *Ledger) expired(r Result, margin time.Duration) bool {
	return r.URL == "" && r.ExpiresAt != 0 && !l.now().Add(margin).Before(time.Unix(r.ExpiresAt, 0))
}
