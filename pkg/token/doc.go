// Package token is the access-token source: the AppID and AppSecret read
// from a Secrets Manager secret, and access tokens from WeChat's
// /cgi-bin/stable_token in normal mode, cached per container and fetched
// once for any number of concurrent callers.
package token
