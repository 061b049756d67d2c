// Package wechat is a streaming client for WeChat's media APIs: temporary
// media upload and get, and article image upload.
//
// Upload bodies are assembled on the fly from a source that can be opened
// again, with an exact Content-Length; nothing is buffered, and a retry
// re-opens the source. Access tokens come from a TokenSource; a rejected
// token is reported back to it and the call retried once. No error this
// package returns carries the access token.
package wechat
