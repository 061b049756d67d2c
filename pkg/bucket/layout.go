package bucket

// The media bucket's own records: what the deployment writes besides the
// objects users put. Nothing under them is ever a source, and the
// functions never write under a trigger prefix.
const (
	// ResultsPrefix holds each piece of work's outcome, the S3 contract's
	// results/<key>.json (package ledger).
	ResultsPrefix = "results/"
	// ClaimsPrefix begins the keys of the ledger's claims, items of the
	// stack's table (package recordtable); objects here are an earlier
	// version's, which the bucket's lifecycle expires after 3 days.
	ClaimsPrefix = "claims/"
	// MediaPrefix holds the media fetched from WeChat, media/<id><ext>.
	MediaPrefix = "media/"
	// MediaIndexPrefix begins the keys of the media_id index (for each
	// media_id this deployment uploaded, the object it came from), items
	// of the stack's table; objects here are an earlier version's.
	MediaIndexPrefix = "media-ids/"
)

// Records are the prefixes of the deployment's own records.
var Records = []string{ResultsPrefix, ClaimsPrefix, MediaPrefix, MediaIndexPrefix}
