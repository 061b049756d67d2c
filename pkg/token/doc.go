// Package token is the access-token source: the credentials read from a
// Secrets Manager secret (one app's AppID and AppSecret, or several apps'
// and a third-party platform's), and access tokens from WeChat's
// /cgi-bin/stable_token in normal mode, cached per container and fetched
// once for any number of concurrent callers.
package token
