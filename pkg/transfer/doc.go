// Package transfer is the service: it moves media between the media bucket
// and WeChat, one file per job.
//
//   - upload.go: S3 objects streamed to WeChat, for S3 events (UploadObject)
//     and {"key"} requests (UploadKey), under the ledger's rules (package
//     ledger): one holder per object version, API and type; one result;
//     a recorded success or final refusal answered again; files from a
//     request (UploadBytes).
//   - fetch.go: WeChat media streamed back into the bucket at
//     media/<id><ext> with memory bounded by one multipart part (Fetch).
//   - keys.go: the key policy: which keys a {"key"} request may name, and
//     the exact parse of the trigger prefixes.
//   - download.go: the client that fetches the URLs WeChat answers
//     (video_url), public addresses only.
//
// It talks to S3 through package bucket and to WeChat through a small
// interface (WeChat); its errors are package failure's kinds.
package transfer
