package failure

import "errors"

// What became of a piece of work beyond the kind of its failure: read by
// the ledger, which records outcomes, and by the edges that report them.
var (
	// ErrSkipped is wrapped by the failure of work that has no outcome of
	// its own to record: its object is gone or replaced by a newer version,
	// it is under no trigger prefix, or it is an upload form's second file.
	ErrSkipped = errors.New("nothing to do")
	// ErrMaybeDone is wrapped by a failure whose work may have been done
	// all the same: an upload whose answer was lost after WeChat had the
	// whole body.
	ErrMaybeDone = errors.New("the work may have been done: its answer was lost")
)
