package ledger

import (
	"context"
	"errors"
	"time"

	"github.com/wxmedia/wxmedia/pkg/failure"
)

// Do does w once, under the rules of the package, and answers its outcome:
// the result that stands (send's, or the one recorded before it), or the
// failure. A recorded failure answered again is the caller's failure.
//
// prepare runs first, before any claim: it opens and checks what is sent,
// and returns the work as it then stands (its app known: w's slot and
// claim follow from it) and send, the upload itself. A failure of prepare
// is the work's outcome, recorded with no claim taken. Then, unless w's
// record answers it again, w is claimed and send runs under the claim,
// with the context Do was given; an error of send that wraps
// failure.ErrMaybeDone counts as an upload that may have reached WeChat.
//
// With prepare nil, Do only looks: it answers w's record if it was done
// for w's app, whatever its version, and a zero Result when there is none.
func (l *Ledger) Do(ctx context.Context, w Work, prepare func(context.Context) (Work, func(context.Context) (Result, error), error)) (Result, error) {
	if prepare == nil {
		return l.lookup(ctx, w)
	}
	if w.Once {
		if err := l.once(ctx, w); err != nil {
			return Result{Key: w.Key, ETag: w.ETag}, err
		}
	}
	w, send, err := prepare(ctx)
	if err != nil {
		return l.settle(ctx, w, nil, entry{}, Result{}, err)
	}
	c, seen, err := l.begin(ctx, w)
	switch {
	case err != nil:
		return Result{Key: w.Key, ETag: w.ETag, AppID: w.AppID}, err // another holds it, or S3 failed: nothing is uploaded
	case c == nil:
		l.log.InfoContext(ctx, "reused recorded result", "key", w.Key, "api", w.API, "media_type", w.Type, "errcode", seen.result.ErrCode)
		return answer(seen.result)
	}
	if c.tookOver {
		// The claim was another delivery's: it may have recorded since.
		if seen, err = l.read(ctx, w); err != nil {
			l.release(ctx, c, 0)
			return Result{Key: w.Key, ETag: w.ETag, AppID: w.AppID}, err
		}
		if r, ok := l.answers(w, seen); ok {
			return answer(r)
		}
	}
	if c.unconfirmed >= MaxUnconfirmed {
		return l.settle(ctx, w, c, seen, Result{}, failure.New(failure.WeChat, failure.CodeSystem,
			"system error: WeChat did not confirm %d uploads of this object version, which it may have stored: "+
				"it is not sent again until its claim (key %s of the stack's table) is deleted or expires (3 days), or a changed object is put",
			c.unconfirmed, c.key))
	}
	r, err := send(ctx)
	return l.settle(ctx, w, c, seen, r, err)
}

// lookup is w's record, if it was done for w's app.
func (l *Ledger) lookup(ctx context.Context, w Work) (Result, error) {
	e, err := l.read(ctx, w)
	if err != nil || !e.found() || !e.result.forApp(w) {
		return Result{}, err
	}
	return e.result, nil
}

// once skips w when its key took another version already.
func (l *Ledger) once(ctx context.Context, w Work) error {
	first, err := l.read(ctx, w)
	switch {
	case err != nil:
		return err
	case first.found() && first.result.ETag != w.ETag:
		return failure.Wrap(failure.Caller, failure.CodeInvalidParam, failure.ErrSkipped,
			"the form was used already: only its first file is uploaded")
	}
	return nil
}

// answer is a recorded result as an answer: a success, or its refusal.
func answer(r Result) (Result, error) {
	if r.Success() {
		return r, nil
	}
	return r, failure.New(failure.Caller, r.ErrCode, "%s", r.ErrMsg)
}

// recordTimeout bounds writing an outcome once the work's own time is up;
// releaseTimeout bounds giving the claim up. Both fit in the time kept
// back from the Lambda deadline (invocation.Reserve).
const (
	recordTimeout  = 1200 * time.Millisecond
	releaseTimeout = 500 * time.Millisecond
)

// publishBy is how long past the work's deadline its outcome may still be
// announced: the work's deadline is the Lambda deadline less
// invocation.Reserve (2 s), which also pays for recording and releasing.
const publishBy = 1800 * time.Millisecond

// settle records the outcome of w, r or err, given seen, its slot as read.
// Unless the outcome is a success recorded, it releases the claim c (nil
// when none was taken), so that a retry takes it over at once. An outcome
// written now is then announced.
func (l *Ledger) settle(ctx context.Context, w Work, c *claim, seen entry, r Result, err error) (Result, error) {
	if errors.Is(err, failure.ErrSkipped) {
		return Result{Key: w.Key, ETag: w.ETag, AppID: w.AppID}, err // nothing to record
	}
	out, recorded, fresh, rerr := l.record(ctx, w, seen, r, err)
	if c != nil && (err != nil || !recorded) {
		unconfirmed := 0
		if errors.Is(err, failure.ErrMaybeDone) || err == nil {
			unconfirmed = 1 // it may have reached WeChat, or did with nothing to say so: the next is the extra upload
		}
		l.release(ctx, c, unconfirmed)
	}
	if fresh && l.announce != nil {
		l.announced(ctx, w, out)
	}
	return out, rerr
}

// announced tells the announcer of an outcome just written, within the
// invocation's time: a publish that cannot finish by then is logged by
// the announcer, and the recorded result stands.
func (l *Ledger) announced(ctx context.Context, w Work, r Result) {
	pctx := context.WithoutCancel(ctx)
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		pctx, cancel = context.WithDeadline(pctx, dl.Add(publishBy))
		defer cancel()
	}
	l.announce.Recorded(pctx, w, r, ResultKey(w))
}
