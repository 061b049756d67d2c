package wechatsim

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

// serveToken answers GET /cgi-bin/token: a new token on every call.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.Token++
	blocked := s.faults.IPBlocked
	s.mu.Unlock()
	if blocked {
		s.finish(w, r, errIPBlocked(r).reply())
		return
	}
	q := r.URL.Query()
	if e, ok := s.checkCredentials(q.Get("grant_type"), q.Get("appid"), q.Get("secret"), errCredential); !ok {
		s.finish(w, r, e.reply())
		return
	}
	s.mu.Lock()
	tok := s.issueLocked(q.Get("appid"), s.plain)
	s.mu.Unlock()
	s.finish(w, r, jsonReply(contentTypeJSON, tokenAnswer{tok, int64(TokenLifetime / time.Second)}))
}

// serveStableToken answers POST /cgi-bin/stable_token.
func (s *Server) serveStableToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.StableToken++
	blocked := s.faults.IPBlocked
	s.mu.Unlock()
	if blocked {
		s.finish(w, r, errIPBlocked(r).reply())
		return
	}
	var req struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil || json.Unmarshal(body, &req) != nil {
		s.finish(w, r, errDataFormat.reply())
		return
	}
	if e, ok := s.checkCredentials(req.GrantType, req.AppID, req.Secret, errAppSecret); !ok {
		s.finish(w, r, e.reply())
		return
	}

	s.mu.Lock()
	now := s.nowLocked()
	var ans tokenAnswer
	var fail apiError
	switch t := s.tokens[s.stable[req.AppID]]; {
	case req.ForceRefresh:
		// WeChat's daily quotas reset at midnight Beijing time.
		day := now.In(time.FixedZone("CST", 8*60*60)).Format(time.DateOnly)
		if day != s.forceDay {
			s.forceDay, s.forceCount = day, 0
		}
		switch {
		case s.forceCount >= ForceRefreshPerDay:
			fail = errDailyQuota
		case t != nil && now.Before(t.expires) && !s.lastForce.IsZero() && now.Sub(s.lastForce) < ForceRefreshInterval:
			// "Calls in a row must be at least 30 s apart, or nothing is refreshed."
			ans = tokenAnswer{s.stable[req.AppID], int64(t.expires.Sub(now) / time.Second)}
		default:
			s.forceCount++
			s.lastForce = now
			old := s.stable[req.AppID]
			ans = tokenAnswer{s.issueLocked(req.AppID, s.stable), int64(TokenLifetime / time.Second)}
			if o, ok := s.tokens[old]; ok {
				o.invalidAfter = now // force refresh invalidates the previous token at once
			}
		}
	case t != nil && now.Before(t.expires.Add(-StableRenewal)):
		ans = tokenAnswer{s.stable[req.AppID], int64(t.expires.Sub(now) / time.Second)}
	default:
		// None yet, or in its last 5 minutes: WeChat renews the stable token
		// early; the old one stays valid until it expires.
		ans = tokenAnswer{s.issueLocked(req.AppID, s.stable), int64(TokenLifetime / time.Second)}
	}
	s.mu.Unlock()
	if fail.code != 0 {
		s.finish(w, r, fail.reply())
		return
	}
	s.finish(w, r, jsonReply(contentTypeJSON, ans))
}

// checkCredentials checks grant_type, appid and secret in WeChat's order;
// badSecret is the answer to a wrong secret, which differs per endpoint.
func (s *Server) checkCredentials(grantType, appID, secret string, badSecret apiError) (apiError, bool) {
	switch {
	case grantType != "client_credential":
		return errGrantType, false
	case appID == "":
		return errAppIDMissing, false
	}
	s.mu.Lock()
	want, known := s.apps[appID]
	s.mu.Unlock()
	switch {
	case !known:
		return errAppID, false
	case secret == "":
		return errSecretMissing, false
	case subtle.ConstantTimeCompare([]byte(secret), []byte(want)) != 1:
		return badSecret, false
	}
	return apiError{}, true
}

// issueLocked issues app a new token into current[app]; the token it
// replaces stays valid for TokenOverlap. It also forgets tokens whose
// overlap has ended (they answer 40001 either way).
func (s *Server) issueLocked(app string, current map[string]string) string {
	now := s.nowLocked()
	for k, t := range s.tokens {
		if !t.invalidAfter.IsZero() && !now.Before(t.invalidAfter) {
			delete(s.tokens, k)
		}
	}
	if old, ok := s.tokens[current[app]]; ok {
		old.invalidAfter = now.Add(TokenOverlap)
	}
	tok := randomID()
	s.tokens[tok] = &tokenState{app: app, expires: now.Add(TokenLifetime)}
	s.issued = append(s.issued, tok)
	current[app] = tok
	return tok
}

// checkToken validates an access_token (41001, 40001 or 42001) and answers
// the app it is for.
func (s *Server) checkToken(tok string) (string, apiError, bool) {
	if tok == "" {
		return "", errTokenMissing, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	t, ok := s.tokens[tok]
	switch {
	case !ok, !t.invalidAfter.IsZero() && !now.Before(t.invalidAfter):
		return "", errCredential, false
	case !now.Before(t.expires):
		return "", errTokenExpired, false
	}
	return t.app, apiError{}, true
}
