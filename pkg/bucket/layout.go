package bucket

// The media bucket's own records: what the deployment writes besides the
// objects users put. Nothing under them is ever a source, and the
// functions never write under a trigger prefix.
const (
	// ResultsPrefix holds each piece of work's outcome, the S3 contract's
	// results/<key>.json (package ledger).
	ResultsPrefix = "results/"
	// ClaimsPrefix holds who is doing each piece of work (package ledger);
	// the bucket's lifecycle expires claims after 3 days.
	ClaimsPrefix = "claims/"
	// MediaPrefix holds the media fetched from WeChat, media/<id><ext>.
	MediaPrefix = "media/"
	// MediaIndexPrefix holds, for each media_id this deployment uploaded,
	// the object it was uploaded from.
	MediaIndexPrefix = "media-ids/"
)

// Records are the prefixes of the deployment's own records.
var Records = []string{ResultsPrefix, ClaimsPrefix, MediaPrefix, MediaIndexPrefix}
