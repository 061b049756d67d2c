// Package transfer is the service: it moves media between the media bucket
// and WeChat, one file per job, and says what is sent, for which app, and
// from where; how each piece of work is done once is package ledger's.
//
//   - upload.go: S3 objects streamed to WeChat, for S3 events (UploadObject)
//     and {"key"} requests (UploadKey), each a job whose source (an event
//     or a request) decides what differs; files from a request
//     (UploadBytes).
//   - form.go: presigned upload forms for large files (UploadForm), and
//     the recorded result of an object (Outcome).
//   - fetch.go: WeChat media streamed back into the bucket at
//     media/<id><ext> with memory bounded by one multipart part (Fetch).
//   - keys.go: the key policy: which keys a {"key"} request may name, and
//     the exact parse of the trigger prefixes.
//   - download.go: the client that fetches the URLs WeChat answers
//     (video_url), public addresses only.
//
// It talks to S3 through package bucket, to the ledger and WeChat through
// small interfaces (Ledger, WeChat); its errors are package failure's kinds.
package transfer
