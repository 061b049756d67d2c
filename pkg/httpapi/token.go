package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/wxmedia/wxmedia/pkg/apps"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/reply"
)

// Apps resolves the app a request names and makes and reads its
// placeholder access token (package apps' Registry, the one the service
// resolves apps with).
type Apps interface {
	Resolve(ctx context.Context, appID string) (apps.App, error)
	Placeholder(ctx context.Context, a apps.App) (string, error)
	PlaceholderApp(ctx context.Context, token string) (appID string, ok bool, err error)
}

var _ Apps = (*apps.Registry)(nil)

// PlaceholderExpiresIn is the life the token routes give a placeholder,
// in seconds: WeChat's, so SDKs cache it as they would WeChat's token.
const PlaceholderExpiresIn = 7200

// SDKs fetch their own access token first. The token routes answer them a
// placeholder of wxmedia's own (package apps) for the app they name, as
// WeChat answers a token: the secret they send is neither checked nor
// kept (API Gateway authenticates callers), and the app is resolved for
// the caller as a path's is.

// token answers GET /cgi-bin/token?grant_type=client_credential&appid=A&secret=S.
func (a *api) token(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	return a.placeholder(w, r, q.Get("grant_type"), q.Get("appid"))
}

// stableToken answers POST /cgi-bin/stable_token
// {"grant_type","appid","secret","force_refresh"}.
func (a *api) stableToken(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		GrantType string `json:"grant_type"`
		AppID     string `json:"appid"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		return failure.New(failure.Caller, failure.CodeDataFormat, `data format error: want JSON {"grant_type":"client_credential","appid":"…","secret":"…"}`)
	}
	return a.placeholder(w, r, in.GrantType, in.AppID)
}

// placeholder answers {"access_token","expires_in"} for the app named by
// appID, or by the path's prefix, or the default app.
func (a *api) placeholder(w http.ResponseWriter, r *http.Request, grantType, appID string) error {
	if a.apps == nil {
		return failure.New(failure.Internal, failure.CodeSystem, "system error: no apps to answer tokens for")
	}
	if grantType != "" && grantType != "client_credential" {
		return failure.New(failure.Caller, failure.CodeInvalidGrantType, "invalid grant_type: want client_credential")
	}
	ctx := r.Context()
	switch path := apps.Requested(ctx); {
	case appID == "":
		appID = path
	case !apps.IsAppID(appID):
		return failure.New(failure.Caller, failure.CodeInvalidAppID, "invalid appid: no AppID")
	case path != "" && path != appID:
		return errTwoApps()
	}
	if appID != "" {
		ctx = apps.WithRequested(ctx, appID)
	}
	app, err := a.apps.Resolve(ctx, apps.Requested(ctx))
	if err != nil {
		return err
	}
	tok, err := a.apps.Placeholder(ctx, app)
	if err != nil {
		return err
	}
	reply.JSON(w, http.StatusOK, map[string]any{"access_token": tok, "expires_in": PlaceholderExpiresIn})
	return nil
}

func errTwoApps() error {
	return failure.New(failure.Caller, failure.CodeInvalidAppID, "invalid appid: the path names one app and the request another")
}

// tokenApp is the AppID a request's access_token names, if it is a
// placeholder ("" for a client's own token, which is ignored); pathApp is
// the app its path names, which must be the same.
func (a *api) tokenApp(ctx context.Context, tok, pathApp string) (string, error) {
	if a.apps == nil || tok == "" {
		return "", nil
	}
	named, ok, err := a.apps.PlaceholderApp(ctx, tok)
	switch {
	case !ok || err != nil:
		return "", err
	case pathApp != "" && named != pathApp:
		return "", errTwoApps()
	}
	return named, nil
}
