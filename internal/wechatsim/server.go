package wechatsim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults and WeChat's fixed lifetimes and limits.
const (
	// DefaultAppID and DefaultAppSecret are the credentials New accepts when
	// Options leaves them empty.
	DefaultAppID     = "wx-local-appid"
	DefaultAppSecret = "local-secret"

	// TokenLifetime is how long an access token is valid (expires_in 7200).
	TokenLifetime = 7200 * time.Second
	// TokenOverlap is how long a superseded token stays valid.
	TokenOverlap = 5 * time.Minute
	// MediaLifetime is how long an uploaded temporary media can be fetched.
	MediaLifetime = 72 * time.Hour
	// ForceRefreshPerDay is the daily limit of stable_token force refreshes.
	ForceRefreshPerDay = 20
	// StableRenewal is how long before its expiry stable_token (normal mode)
	// hands out the next token.
	StableRenewal = 5 * time.Minute
	// ForceRefreshInterval is the shortest time between two force refreshes.
	ForceRefreshInterval = 30 * time.Second
)

// Options configures a Server. Zero values become defaults in New.
type Options struct {
	// AppID and AppSecret are the credentials of the simulator's app
	// (default DefaultAppID and DefaultAppSecret).
	AppID, AppSecret string
	// Apps are more apps, AppID to AppSecret: each has tokens of its own,
	// and media one app uploaded is not another's.
	Apps map[string]string
	// Now is the clock; nil means time.Now. Advance adds to it.
	Now func() time.Time
	// BaseURL is the public base URL used to build video_url and uploadimg
	// urls (e.g. "http://127.0.0.1:3001"). Empty means "http://" + the
	// request's Host. It can be changed later with SetBaseURL.
	BaseURL string
	// Component, if set, is the simulator's third-party platform.
	Component *Component
	// Logf, if set, receives one line per request. Tokens and the AppSecret
	// are never passed to it.
	Logf func(format string, args ...any)
	// Faults are in force from the start, as if set with SetFaults: WeChat's
	// call limits (PerMinute, PerDay), for instance.
	Faults Faults
}

// Stats counts the requests that reached each WeChat endpoint, failed ones
// included.
type Stats struct {
	Token       int64 `json:"token"`
	StableToken int64 `json:"stable_token"`
	Upload      int64 `json:"upload"`
	Get         int64 `json:"get"`
	UploadImg   int64 `json:"uploadimg"`
	// MinuteLimited and QuotaSpent count the media calls answered 45011
	// (Faults.PerMinute) and 45009 (Faults.PerDay or Faults.Quota).
	MinuteLimited int64 `json:"minute_limited,omitempty"`
	QuotaSpent    int64 `json:"quota_spent,omitempty"`
	// The third-party platform's calls, and the pushes it was sent (in
	// JSON only once there is one).
	ComponentToken  int64 `json:"api_component_token,omitempty"`
	QueryAuth       int64 `json:"api_query_auth,omitempty"`
	AuthorizerToken int64 `json:"api_authorizer_token,omitempty"`
	Pushes          int64 `json:"pushes,omitempty"`
}

// Server is the simulator. It implements http.Handler and is safe for
// concurrent use.
type Server struct {
	appID, appSecret string
	apps             map[string]string // every app's AppSecret, by AppID
	clock            func() time.Time
	logf             func(format string, args ...any)

	mu      sync.Mutex
	baseURL string
	offset  time.Duration
	stats   Stats
	faults  Faults
	tokens  map[string]*tokenState
	issued  []string          // every token handed out, for IssuedTokens
	plain   map[string]string // latest /cgi-bin/token token, by app
	stable  map[string]string // current /cgi-bin/stable_token token, by app
	// force refreshes of the stable token
	forceDay   string
	forceCount int
	lastForce  time.Time
	component  *componentState     // the third-party platform; nil if none
	media      map[string]*stored  // temporary media, by media_id
	images     map[string]*stored  // uploadimg images, by id
	usage      map[usageKey]*usage // calls per app and media endpoint, for Faults.PerMinute and PerDay
}

type tokenState struct {
	app          string    // the app (or authorizer) it is for
	expires      time.Time // 42001 from then on
	invalidAfter time.Time // 40001 from then on; zero while current
}

type stored struct {
	app         string // the app that uploaded it
	kind        string // image, voice, video, thumb
	ext         string // ".jpg"
	contentType string
	data        []byte
	created     time.Time
}

// New returns a simulator configured by opts.
func New(opts Options) *Server {
	s := &Server{
		appID:     opts.AppID,
		appSecret: opts.AppSecret,
		clock:     opts.Now,
		logf:      opts.Logf,
		faults:    opts.Faults,
		baseURL:   strings.TrimSuffix(opts.BaseURL, "/"),
		tokens:    make(map[string]*tokenState),
		plain:     make(map[string]string),
		stable:    make(map[string]string),
		apps:      make(map[string]string),
		media:     make(map[string]*stored),
		images:    make(map[string]*stored),
		usage:     make(map[usageKey]*usage),
	}
	if s.appID == "" {
		s.appID = DefaultAppID
	}
	if s.appSecret == "" {
		s.appSecret = DefaultAppSecret
	}
	for id, secret := range opts.Apps {
		s.apps[id] = secret
	}
	s.apps[s.appID] = s.appSecret
	if err := s.setComponent(opts.Component); err != nil {
		panic("wechatsim: component: " + err.Error()) // a test's or make local's wiring mistake
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	return s
}

// SetBaseURL sets the public base URL used in video_url and uploadimg urls.
func (s *Server) SetBaseURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.baseURL = strings.TrimSuffix(u, "/")
}

// Stats returns the call counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Faults returns the faults still pending.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// SetFaults replaces the current faults.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// Advance moves the simulator's clock forward by d, whatever Options.Now is.
// A negative d is ignored.
func (s *Server) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

// Now returns the simulator's current time (Options.Now plus Advance).
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

// ExpireTokens makes every token issued so far expired (access tokens,
// component_access_tokens and authorizer_access_tokens): its next use
// answers 42001, and the call that issued it issues a new one.
func (s *Server) ExpireTokens() { s.expireTokens() }

func (s *Server) expireTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	n := 0
	for _, t := range s.tokens { // access and authorizer tokens
		if now.Before(t.expires) {
			t.expires = now
			n++
		}
	}
	if s.component != nil {
		for tok, exp := range s.component.tokens {
			if now.Before(exp) {
				s.component.tokens[tok] = now
				n++
			}
		}
	}
	return n
}

// Media returns a copy of the bytes stored for a media_id (or an uploadimg
// id), and false if there is none or it has expired.
func (s *Server) Media(id string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.liveMediaLocked(id); ok {
		return append([]byte(nil), m.data...), true
	}
	if m, ok := s.images[id]; ok {
		return append([]byte(nil), m.data...), true
	}
	return nil, false
}

// PutMedia stores data as temporary media of app (an AppID; "" is the
// default app) under a media_id chosen by the caller, as if uploaded now
// with the type typ and a file name ending in ext (".jpg"): a media_id
// that sample events can name before anything was uploaded.
func (s *Server) PutMedia(app, id, typ, ext string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if app == "" {
		app = s.appID
	}
	s.media[id] = &stored{app: app, kind: typ, ext: ext, contentType: contentTypeOf(ext), data: append([]byte(nil), data...), created: s.nowLocked()}
}

func (s *Server) nowLocked() time.Time { return s.clock().Add(s.offset) }

// liveMediaLocked returns an unexpired temporary media and forgets expired ones.
func (s *Server) liveMediaLocked(id string) (*stored, bool) {
	m, ok := s.media[id]
	if !ok {
		return nil, false
	}
	if !s.nowLocked().Before(m.created.Add(MediaLifetime)) {
		delete(s.media, id)
		return nil, false
	}
	return m, true
}

// ServeHTTP answers the WeChat endpoints and the /_sim/ control endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/cgi-bin/token":
		s.serveToken(w, r)
	case p == "/cgi-bin/stable_token":
		s.serveStableToken(w, r)
	case p == "/cgi-bin/media/upload":
		s.serveMedia(w, r, epUpload)
	case p == "/cgi-bin/media/get":
		s.serveMedia(w, r, epGet)
	case p == "/cgi-bin/media/uploadimg":
		s.serveMedia(w, r, epUploadImg)
	case strings.HasPrefix(p, "/cgi-bin/component/"):
		s.serveComponent(w, r)
	case strings.HasPrefix(p, "/_sim/component/"):
		s.serveComponentSim(w, r)
	case strings.HasPrefix(p, "/_sim/"):
		s.serveSim(w, r)
	default:
		s.finish(w, r, simError(http.StatusNotFound, "not found"))
	}
}

// reply is one complete answer.
type reply struct {
	status  int
	header  http.Header
	body    []byte
	errcode int  // for the log
	apiErr  bool // body is a WeChat error JSON
}

// contentTypeJSON is WeChat's label on its JSON answers and errors, as
// node-webot/co-wechat-api issue 19 logs it from media/upload. media/get
// labels its errors text/plain instead (node-webot/wechat-api pull
// requests 4 and 138), its files with their own type, a
// Content-disposition and "Cache-Control: no-cache, must-revalidate"
// (WeChat's media/get document, ../shared/wechat-api), and its
// {"video_url"} answer application/json (no source found: the label the
// SDKs in compat/ read as JSON). pkg/reply answers with the same labels.
const contentTypeJSON = "application/json; encoding=utf-8"

// apiError is a WeChat error answer.
type apiError struct {
	code int
	msg  string
}

func (e apiError) reply() reply {
	body, _ := json.Marshal(struct {
		Errcode int    `json:"errcode"`
		Errmsg  string `json:"errmsg"`
	}{e.code, e.msg})
	return reply{
		status:  http.StatusOK,
		header:  http.Header{"Content-Type": {contentTypeJSON}},
		body:    body,
		errcode: e.code,
		apiErr:  true,
	}
}

// WeChat's error codes and messages.
var (
	errSystem         = apiError{-1, "system error"}
	errCredential     = apiError{40001, "invalid credential, access_token is invalid or not latest"}
	errGrantType      = apiError{40002, "invalid grant_type"}
	errMediaType      = apiError{40004, "invalid media type"}
	errFileType       = apiError{40005, "invalid file type"}
	errMediaID        = apiError{40007, "invalid media_id"}
	errImageSize      = apiError{40009, "invalid image size"}
	errVoiceSize      = apiError{40010, "invalid voice size"}
	errVideoSize      = apiError{40011, "invalid video size"}
	errThumbSize      = apiError{40012, "invalid thumb size"}
	errAppID          = apiError{40013, "invalid appid"}
	errAppSecret      = apiError{40125, "invalid appsecret"}
	errTokenMissing   = apiError{41001, "access_token missing"}
	errAppIDMissing   = apiError{41002, "appid missing"}
	errSecretMissing  = apiError{41004, "appsecret missing"}
	errMediaMissing   = apiError{41005, "media data missing"}
	errMediaIDMissing = apiError{41006, "media_id missing"}
	errTokenExpired   = apiError{42001, "access_token expired"}
	errDailyQuota     = apiError{45009, "reach max api daily quota limit"}
	errMinuteLimit    = apiError{45011, "api minute-quota reach limit  mustslower  retry next minute"}
	errDataFormat     = apiError{47001, "data format error"}
)

// errIPBlocked is WeChat's answer to a caller outside the IP whitelist.
func errIPBlocked(r *http.Request) apiError {
	return apiError{40164, fmt.Sprintf("invalid ip %s, not in whitelist", clientIP(r))}
}

func jsonReply(contentType string, v any) reply {
	body, err := json.Marshal(v)
	if err != nil {
		return errSystem.reply()
	}
	return reply{status: http.StatusOK, header: http.Header{"Content-Type": {contentType}}, body: body}
}

// simError is a non-WeChat error (control endpoints, unknown paths).
func simError(status int, msg string) reply {
	r := apiError{-1, msg}.reply()
	r.status = status
	r.header.Set("Content-Type", "application/json")
	return r
}

// write sends rep with an exact Content-Length.
func (s *Server) write(w http.ResponseWriter, rep reply) {
	h := w.Header()
	for k, v := range rep.header {
		h[k] = v
	}
	h.Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

// finish writes rep and logs the request.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, rep reply) {
	s.write(w, rep)
	s.logReply(r, rep)
}

func (s *Server) logReply(r *http.Request, rep reply) {
	// r.URL.Path only: the query holds the access token.
	s.logf("wechatsim: %s %s status=%d errcode=%d bytes=%d", r.Method, r.URL.Path, rep.status, rep.errcode, len(rep.body))
}

// base returns the public base URL for links in answers.
func (s *Server) base(r *http.Request) string {
	s.mu.Lock()
	b := s.baseURL
	s.mu.Unlock()
	if b != "" {
		return b
	}
	return "http://" + r.Host
}

// randomID returns an opaque, unpredictable id: 64 characters of base64url,
// like WeChat's tokens and media ids.
func randomID() string {
	b := make([]byte, 48)
	_, _ = rand.Read(b) // never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}

// clientIP is the caller's address as WeChat reports it in 40164.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil || host == "" {
		return "1.2.3.4"
	}
	return host
}

// IssuedTokens returns every access token the simulator has handed out, so
// tests can check that none of them leaked into a log or an answer.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// MediaIDs returns the ids of every stored upload (temporary media and
// uploadimg images), so tests can count what WeChat actually accepted.
func (s *Server) MediaIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.media)+len(s.images))
	for id := range s.media {
		out = append(out, id)
	}
	for id := range s.images {
		out = append(out, id)
	}
	return out
}

// MediaApp returns the app (or authorizer) that uploaded a media_id (or
// an uploadimg id), and false if there is none.
func (s *Server) MediaApp(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.media[id]; ok {
		return m.app, true
	}
	if m, ok := s.images[id]; ok {
		return m.app, true
	}
	return "", false
}
