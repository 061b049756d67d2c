package wechat

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/wxmedia/wxmedia/pkg/failure"
)

// A third-party platform's calls (WeChat's open-platform documents).
const (
	opComponentToken  = "api_component_token"
	opQueryAuth       = "api_query_auth"
	opAuthorizerToken = "api_authorizer_token"
)

// platformKind says which system the platform's errcodes blame: all of
// them are the deployment's to mend (a ticket, a code or a refresh token
// that is not right), never a caller's.
func platformKind(err error) error {
	if fe := failure.As(err); fe != nil && (fe.Kind == failure.Caller || unknownRefusal(fe.Code)) {
		fe.Kind = failure.Config
	}
	return err
}

// AuthorizerToken is an authorizer's access token and the refresh token
// that fetches the next one (WeChat may rotate it).
type AuthorizerToken struct {
	AppID        string
	AccessToken  string
	ExpiresIn    time.Duration
	RefreshToken string
}

// ComponentToken fetches the platform's component_access_token from its
// latest component_verify_ticket.
func (c *Client) ComponentToken(ctx context.Context, appID, appSecret, ticket string) (token string, expiresIn time.Duration, err error) {
	var r struct {
		Token     string `json:"component_access_token"`
		ExpiresIn int64  `json:"expires_in"`
	}
	err = c.platformCall(ctx, opComponentToken, "", map[string]string{
		"component_appid": appID, "component_appsecret": appSecret, "component_verify_ticket": ticket}, &r)
	if err == nil && (r.Token == "" || r.ExpiresIn <= 0) {
		err = classify(opComponentToken, fmt.Errorf("%w: no component_access_token in the answer", ErrBadResponse), false)
	}
	return r.Token, time.Duration(r.ExpiresIn) * time.Second, err
}

// QueryAuth exchanges an authorization code for the authorizer's tokens.
func (c *Client) QueryAuth(ctx context.Context, componentToken, componentAppID, code string) (AuthorizerToken, error) {
	var r struct {
		Info struct {
			AppID        string `json:"authorizer_appid"`
			AccessToken  string `json:"authorizer_access_token"`
			ExpiresIn    int64  `json:"expires_in"`
			RefreshToken string `json:"authorizer_refresh_token"`
		} `json:"authorization_info"`
	}
	err := c.platformCall(ctx, opQueryAuth, componentToken, map[string]string{"component_appid": componentAppID, "authorization_code": code}, &r)
	if err == nil && (r.Info.AppID == "" || r.Info.RefreshToken == "") {
		err = classify(opQueryAuth, fmt.Errorf("%w: no authorization_info in the answer", ErrBadResponse), false)
	}
	return AuthorizerToken{AppID: r.Info.AppID, AccessToken: r.Info.AccessToken, ExpiresIn: time.Duration(r.Info.ExpiresIn) * time.Second,
		RefreshToken: r.Info.RefreshToken}, err
}

// AuthorizerAccessToken fetches an authorizer's access token with its
// refresh token; the answer's refresh token is the one to keep.
func (c *Client) AuthorizerAccessToken(ctx context.Context, componentToken, componentAppID, authorizerAppID, refreshToken string) (AuthorizerToken, error) {
	var r struct {
		AccessToken  string `json:"authorizer_access_token"`
		ExpiresIn    int64  `json:"expires_in"`
		RefreshToken string `json:"authorizer_refresh_token"`
	}
	err := c.platformCall(ctx, opAuthorizerToken, componentToken, map[string]string{"component_appid": componentAppID,
		"authorizer_appid": authorizerAppID, "authorizer_refresh_token": refreshToken}, &r)
	if err == nil && (r.AccessToken == "" || r.ExpiresIn <= 0) {
		err = classify(opAuthorizerToken, fmt.Errorf("%w: no authorizer_access_token in the answer", ErrBadResponse), false)
	}
	if r.RefreshToken == "" {
		r.RefreshToken = refreshToken // not rotated
	}
	return AuthorizerToken{AppID: authorizerAppID, AccessToken: r.AccessToken, ExpiresIn: time.Duration(r.ExpiresIn) * time.Second,
		RefreshToken: r.RefreshToken}, err
}

// platformCall posts body as JSON to /cgi-bin/component/<op>, with the
// component_access_token in the query when it is given.
func (c *Client) platformCall(ctx context.Context, op, componentToken string, body map[string]string, out any) error {
	data, _ := json.Marshal(body)
	err := c.call(ctx, op, func(string) (*http.Request, *sendTracker, error) {
		u := c.base + "/cgi-bin/component/" + op
		if componentToken != "" {
			u += "?" + url.Values{"component_access_token": {componentToken}}.Encode()
		}
		return jsonRequest(ctx, u, data)
	}, func(resp *http.Response) error {
		defer resp.Body.Close()
		return platformKind(decodeReply(resp, out))
	})
	return err
}
