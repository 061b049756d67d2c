// Package wechat is a streaming client for WeChat's APIs this product
// calls: temporary media upload and get and article image upload, the
// access token (stable_token), and a third-party platform's component
// calls (api_component_token, api_query_auth, api_authorizer_token).
//
// Upload bodies are assembled on the fly from a source that can be opened
// again, with an exact Content-Length; nothing is buffered, and a retry
// re-opens the source. Access tokens come from a TokenSource; a rejected
// token is reported back to it and the call retried once. No error this
// package returns carries the access token.
package wechat
