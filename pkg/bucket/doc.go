// Package bucket streams objects of the media bucket: sources that can be
// opened again for uploads (pinned to the ETag they were sized by), streamed
// writes with memory bounded by one multipart part, small JSON records with
// conditional writes, and presigned links.
package bucket
