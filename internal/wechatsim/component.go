package wechatsim

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wxmedia/wxmedia/pkg/wxcrypt"
)

// Component is the simulator's third-party platform. WeChat pushes it a
// component_verify_ticket every 10 minutes, and each authorization event,
// to its authorization event URL (PushURL), encrypted and signed with its
// token and EncodingAESKey.
type Component struct {
	AppID, AppSecret, Token, EncodingAESKey string
	// PushURL is where pushes go; set later with SetPushURL.
	PushURL string
}

// Component's documented lifetimes.
const (
	// TicketLifetime is how long api_component_token takes a ticket.
	TicketLifetime = 12 * time.Hour
	// TicketInterval is how often WeChat pushes a new ticket.
	TicketInterval = 10 * time.Minute
	// AuthCodeLifetime is how long an authorization code may be exchanged.
	AuthCodeLifetime = time.Hour
)

// The platform's errcodes.
var (
	errComponentTicket = apiError{61006, "component ticket is invalid"}
	errAuthCode        = apiError{61009, "code is invalid"}
	errAuthCodeExpired = apiError{61010, "code is expired"}
	errRefreshToken    = apiError{61023, "refresh_token is invalid"}
)

// componentState is the platform's side of the simulator, under Server.mu.
type componentState struct {
	conf      Component
	crypt     *wxcrypt.Crypter
	tickets   map[string]time.Time // issued
	tokens    map[string]time.Time // component_access_token: expiry
	codes     map[string]authCode
	refresh   map[string]string // authorizer -> its current refresh token
	authToken map[string]string // authorizer -> its current access token
	pushes    []PushResult
}

type authCode struct {
	appID   string
	expires time.Time
}

// PushResult is one push and how the platform answered it.
type PushResult struct {
	InfoType string `json:"info_type"`
	Status   int    `json:"status"`
	Body     string `json:"body"`
	Error    string `json:"error,omitempty"`
}

func (s *Server) setComponent(c *Component) error {
	if c == nil {
		return nil
	}
	cr, err := wxcrypt.New(c.Token, c.EncodingAESKey, c.AppID)
	if err != nil {
		return err
	}
	s.component = &componentState{conf: *c, crypt: cr, tickets: map[string]time.Time{}, tokens: map[string]time.Time{},
		codes: map[string]authCode{}, refresh: map[string]string{}, authToken: map[string]string{}}
	return nil
}

// SetPushURL sets where the platform's pushes go.
func (s *Server) SetPushURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.component != nil {
		s.component.conf.PushURL = u
	}
}

// Pushes are the pushes so far and their answers.
func (s *Server) Pushes() []PushResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.component == nil {
		return nil
	}
	return append([]PushResult(nil), s.component.pushes...)
}

// serveComponent answers /cgi-bin/component/<op>.
func (s *Server) serveComponent(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	c := s.component
	blocked := s.faults.IPBlocked
	s.mu.Unlock()
	if c == nil {
		s.finish(w, r, simError(http.StatusNotFound, "no component app: start the simulator with Options.Component"))
		return
	}
	if blocked {
		s.finish(w, r, errIPBlocked(r).reply())
		return
	}
	var req map[string]string
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil || r.Method != http.MethodPost || json.Unmarshal(body, &req) != nil {
		s.finish(w, r, errDataFormat.reply())
		return
	}
	var rep reply
	switch strings.TrimPrefix(r.URL.Path, "/cgi-bin/component/") {
	case "api_component_token":
		rep = s.componentToken(req)
	case "api_query_auth":
		rep = s.queryAuth(r.URL.Query().Get("component_access_token"), req)
	case "api_authorizer_token":
		rep = s.authorizerToken(r.URL.Query().Get("component_access_token"), req)
	default:
		rep = simError(http.StatusNotFound, "not found")
	}
	s.finish(w, r, rep)
}

// componentToken answers api_component_token: for the platform's AppID and
// AppSecret and a ticket it pushed within TicketLifetime.
func (s *Server) componentToken(req map[string]string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.ComponentToken++
	c, now := s.component, s.nowLocked()
	issued, ok := c.tickets[req["component_verify_ticket"]]
	switch {
	case req["component_appid"] != c.conf.AppID:
		return errAppID.reply()
	case subtle.ConstantTimeCompare([]byte(req["component_appsecret"]), []byte(c.conf.AppSecret)) != 1:
		return errAppSecret.reply()
	case !ok || !now.Before(issued.Add(TicketLifetime)):
		return errComponentTicket.reply()
	}
	tok := randomID()
	c.tokens[tok] = now.Add(TokenLifetime)
	s.issued = append(s.issued, tok)
	return jsonReply(contentTypeJSON, map[string]any{"component_access_token": tok, "expires_in": int64(TokenLifetime / time.Second)})
}

// checkComponentToken validates a component_access_token (under s.mu).
func (s *Server) checkComponentToken(tok, appID string) (apiError, bool) {
	c := s.component
	exp, ok := c.tokens[tok]
	switch {
	case tok == "":
		return errTokenMissing, false
	case !ok:
		return errCredential, false
	case !s.nowLocked().Before(exp):
		return errTokenExpired, false
	case appID != c.conf.AppID:
		return errAppID, false
	}
	return apiError{}, true
}

// issueAuthorizerLocked gives authorizer a a new access token (accepted
// on the media endpoints for a alone) and a new refresh token: the old
// refresh token is void from then on.
func (s *Server) issueAuthorizerLocked(a string) (access, refresh string) {
	c := s.component
	access = s.issueLocked(a, c.authToken)
	refresh = "refreshtoken@@@" + randomID()
	c.refresh[a] = refresh
	s.issued = append(s.issued, refresh)
	return access, refresh
}

// queryAuth answers api_query_auth: an unused authorization code, within
// its hour, for the authorizer's tokens.
func (s *Server) queryAuth(ctok string, req map[string]string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.QueryAuth++
	if e, ok := s.checkComponentToken(ctok, req["component_appid"]); !ok {
		return e.reply()
	}
	code, ok := s.component.codes[req["authorization_code"]]
	switch {
	case !ok:
		return errAuthCode.reply()
	case !s.nowLocked().Before(code.expires):
		return errAuthCodeExpired.reply()
	}
	delete(s.component.codes, req["authorization_code"])
	access, refresh := s.issueAuthorizerLocked(code.appID)
	return jsonReply(contentTypeJSON, map[string]any{"authorization_info": map[string]any{
		"authorizer_appid": code.appID, "authorizer_access_token": access, "expires_in": int64(TokenLifetime / time.Second),
		"authorizer_refresh_token": refresh, "func_info": []any{}}})
}

// authorizerToken answers api_authorizer_token: the authorizer's current
// refresh token for a new access token and a new refresh token.
func (s *Server) authorizerToken(ctok string, req map[string]string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.AuthorizerToken++
	if e, ok := s.checkComponentToken(ctok, req["component_appid"]); !ok {
		return e.reply()
	}
	a := req["authorizer_appid"]
	cur, ok := s.component.refresh[a]
	if !ok || subtle.ConstantTimeCompare([]byte(req["authorizer_refresh_token"]), []byte(cur)) != 1 {
		return errRefreshToken.reply()
	}
	access, refresh := s.issueAuthorizerLocked(a)
	return jsonReply(contentTypeJSON, map[string]any{"authorizer_access_token": access, "expires_in": int64(TokenLifetime / time.Second),
		"authorizer_refresh_token": refresh})
}

// PushTicket pushes a new component_verify_ticket to the platform.
func (s *Server) PushTicket(ctx context.Context) (PushResult, error) {
	s.mu.Lock()
	c := s.component
	if c == nil {
		s.mu.Unlock()
		return PushResult{}, fmt.Errorf("no component app")
	}
	ticket := "ticket@@@" + randomID()
	c.tickets[ticket] = s.nowLocked()
	s.issued = append(s.issued, ticket)
	s.mu.Unlock()
	return s.push(ctx, "component_verify_ticket", "<ComponentVerifyTicket><![CDATA["+ticket+"]]></ComponentVerifyTicket>")
}

// Authorize simulates account appID authorising the platform: it issues an
// authorization code and pushes the authorized event.
func (s *Server) Authorize(ctx context.Context, appID string) (PushResult, error) {
	s.mu.Lock()
	c := s.component
	if c == nil {
		s.mu.Unlock()
		return PushResult{}, fmt.Errorf("no component app")
	}
	code := "queryauthcode@@@" + randomID()
	exp := s.nowLocked().Add(AuthCodeLifetime)
	c.codes[code] = authCode{appID: appID, expires: exp}
	s.issued = append(s.issued, code)
	s.mu.Unlock()
	return s.push(ctx, "authorized", "<AuthorizerAppid><![CDATA["+appID+"]]></AuthorizerAppid><AuthorizationCode><![CDATA["+code+
		"]]></AuthorizationCode><AuthorizationCodeExpiredTime>"+strconv.FormatInt(exp.Unix(), 10)+"</AuthorizationCodeExpiredTime>")
}

// Unauthorize simulates appID withdrawing its authorization: its tokens
// are void, and the unauthorized event is pushed.
func (s *Server) Unauthorize(ctx context.Context, appID string) (PushResult, error) {
	s.mu.Lock()
	c := s.component
	if c == nil {
		s.mu.Unlock()
		return PushResult{}, fmt.Errorf("no component app")
	}
	delete(c.refresh, appID)
	if t, ok := s.tokens[c.authToken[appID]]; ok {
		t.invalidAfter = s.nowLocked()
	}
	s.mu.Unlock()
	return s.push(ctx, "unauthorized", "<AuthorizerAppid><![CDATA["+appID+"]]></AuthorizerAppid>")
}

// push encrypts one event and posts it to the push URL, as WeChat does.
func (s *Server) push(ctx context.Context, infoType, fields string) (PushResult, error) {
	s.mu.Lock()
	c := s.component
	now, target, appID := s.nowLocked(), c.conf.PushURL, c.conf.AppID
	s.stats.Pushes++
	s.mu.Unlock()
	res := PushResult{InfoType: infoType}
	if target == "" {
		res.Error = "no push URL"
		return s.pushed(res), fmt.Errorf("push %s: no push URL set", infoType)
	}
	msg := "<xml><AppId><![CDATA[" + appID + "]]></AppId><CreateTime>" + strconv.FormatInt(now.Unix(), 10) +
		"</CreateTime><InfoType><![CDATA[" + infoType + "]]></InfoType>" + fields + "</xml>"
	ts, nonce := strconv.FormatInt(now.Unix(), 10), strconv.FormatInt(now.UnixNano()%1e9, 10)
	env, err := c.crypt.Seal([]byte(msg), ts, nonce)
	if err != nil {
		return s.pushed(res), err
	}
	q := url.Values{"timestamp": {ts}, "nonce": {nonce}, "encrypt_type": {"aes"}, "msg_signature": {env.Signature},
		"signature": {wxcrypt.Signature(c.conf.Token, ts, nonce)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target+"?"+q.Encode(), bytes.NewReader(env.Body))
	if err != nil {
		res.Error = err.Error()
		return s.pushed(res), err
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		res.Error = "push failed: " + err.Error()
		return s.pushed(res), fmt.Errorf("push %s: %w", infoType, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	res.Status, res.Body = resp.StatusCode, strings.TrimSpace(string(b))
	s.logf("wechatsim: pushed %s: status=%d body=%q", infoType, res.Status, res.Body)
	return s.pushed(res), nil
}

func (s *Server) pushed(r PushResult) PushResult {
	s.mu.Lock()
	s.component.pushes = append(s.component.pushes, r)
	s.mu.Unlock()
	return r
}

// PushEvery pushes a ticket now and then every interval (WeChat's 10
// minutes) until ctx ends.
func (s *Server) PushEvery(ctx context.Context, interval time.Duration) {
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if _, err := s.PushTicket(ctx); err != nil {
				s.logf("wechatsim: %v", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// serveComponentSim answers /_sim/component/push and /_sim/component/authorize.
func (s *Server) serveComponentSim(w http.ResponseWriter, r *http.Request) {
	if !s.allow(w, r, http.MethodPost) {
		return
	}
	var res PushResult
	var err error
	switch r.URL.Path {
	case "/_sim/component/push":
		res, err = s.PushTicket(r.Context())
	case "/_sim/component/authorize", "/_sim/component/unauthorize":
		a := r.URL.Query().Get("appid")
		if a == "" || len(a) > 64 {
			s.finish(w, r, simError(http.StatusBadRequest, "want ?appid=<the authorizer's AppID>"))
			return
		}
		if r.URL.Path == "/_sim/component/authorize" {
			res, err = s.Authorize(r.Context(), a)
		} else {
			res, err = s.Unauthorize(r.Context(), a)
		}
	default:
		s.finish(w, r, simError(http.StatusNotFound, "not found"))
		return
	}
	if err != nil {
		s.finish(w, r, simError(http.StatusBadGateway, err.Error()))
		return
	}
	s.finish(w, r, jsonReply("application/json", res))
}
