// Package bucket is the S3 adapter of the media bucket: sources opened for
// uploads, pinned with If-Match to the version named (an event's ETag, or
// the one Stat saw) so that a retry reads the same bytes; streamed writes
// with memory bounded by one multipart part; small JSON records read with
// their version and written under a condition (If-None-Match: *, If-Match),
// for the ledger; presigned links. Its errors are package failure's kinds,
// with what S3 answered (failure.ErrNotFound, ErrChanged, ErrExists,
// ErrConflict) findable with errors.Is. Use and Grants list the IAM actions
// each method needs.
package bucket
