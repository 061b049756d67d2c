// Package transfer moves media between the media bucket and WeChat: S3
// objects streamed to WeChat with their outcome recorded under results/
// (and reused while still valid, so a duplicate delivery costs no upload),
// files from a request, and WeChat media streamed back into the bucket.
package transfer
