package apps

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"github.com/wxmedia/wxmedia/pkg/failure"
)

// A placeholder is the access token wxmedia's token routes answer, so that
// an SDK that fetches its own token first works unmodified:
// "wxmedia.<AppID>.<mac>". It is neither WeChat's token, which never leaves
// wxmedia, nor made from it: it names an app, for the media calls that
// carry it, and its mac (HMAC-SHA256 of the AppID, under a key derived from
// that app's AppSecret, or for an authorizer the platform's) keeps another
// deployment from making one of this deployment's. It authenticates
// nobody: API Gateway does, and the app it names is resolved as a path's
// is (Resolve), for that caller.
const placeholderPrefix = "wxmedia."

// Placeholder is app a's placeholder token (a resolved by Resolve).
func (r *Registry) Placeholder(ctx context.Context, a App) (string, error) {
	key, err := r.placeholderKey(ctx, a.ID)
	if err != nil {
		return "", err
	}
	if key == nil {
		return "", unknown(a.ID)
	}
	return placeholderPrefix + a.ID + "." + placeholderMAC(key, a.ID), nil
}

// PlaceholderApp is the AppID that tok, a placeholder, names. ok is false
// for a token of another shape: a client's own, which wxmedia ignores. A
// placeholder this deployment did not make (another's, or one made before
// its AppSecret changed) is WeChat's 40001, on which SDKs fetch a new
// token. One naming an app that this deployment has no key for is
// answered as it is, for Resolve to refuse (40013).
func (r *Registry) PlaceholderApp(ctx context.Context, tok string) (appID string, ok bool, err error) {
	rest, ok := strings.CutPrefix(tok, placeholderPrefix)
	if !ok {
		return "", false, nil
	}
	appID, mac, _ := strings.Cut(rest, ".") // an AppID has no "."
	if !IsAppID(appID) {
		return "", true, errPlaceholder()
	}
	key, err := r.placeholderKey(ctx, appID)
	switch {
	case err != nil:
		return "", true, err
	case key != nil && !hmac.Equal([]byte(mac), []byte(placeholderMAC(key, appID))):
		return "", true, errPlaceholder()
	}
	return appID, true, nil
}

func errPlaceholder() error {
	return failure.New(failure.Caller, failure.CodeInvalidCredential,
		"invalid credential, access_token is invalid or not latest: fetch one from this deployment's /cgi-bin/token")
}

// placeholderKey is the key of appID's placeholders, derived from its
// AppSecret, or from the platform's for an app not configured directly;
// nil if there is neither.
func (r *Registry) placeholderKey(ctx context.Context, appID string) ([]byte, error) {
	sec, err := r.opts.Secrets.Secret(ctx)
	if err != nil {
		return nil, err
	}
	var secret string
	if c, ok := sec.App(appID); ok {
		secret = c.AppSecret()
	} else if sec.Component != nil {
		secret = sec.Component.AppSecret()
	} else {
		return nil, nil
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("wxmedia access_token placeholder v1"))
	return m.Sum(nil), nil
}

func placeholderMAC(key []byte, appID string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(appID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}
