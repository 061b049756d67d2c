package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
)

// Secret is what the credentials secret holds: the apps this deployment
// calls WeChat for, and the third-party platform, if any, that acts for
// its authorizers. Two shapes are read:
//
//	{"appid":"wx…","appsecret":"…"}                       one app, the default
//	{"default":"wx…","apps":{"wx…":"<appsecret>",…},
//	 "component":{"appid":"wx…","appsecret":"…","token":"…","encoding_aes_key":"…"}}
//
// Printing a Secret never shows a secret value (see Credentials).
type Secret struct {
	// Default is the app of the paths without an appid prefix and of S3
	// objects without appid metadata; its AppID is "" when the secret
	// names none (a platform alone).
	Default Credentials
	// Apps are every app configured directly, the default among them, by AppID.
	Apps map[string]Credentials
	// Component is the third-party platform; nil when there is none.
	Component *Component
	// Callers binds callers to the apps they may use: IAM principal ARN
	// patterns ("*" matches any run of characters) to AppIDs ("*": every
	// app). Empty: any caller may use every app.
	Callers map[string][]string
}

// Component is a third-party platform's credentials: its AppID, and its
// AppSecret, message token and EncodingAESKey, which never print.
type Component struct {
	AppID  string
	secret *componentSecrets
}

type componentSecrets struct{ appSecret, token, aesKey string }

// NewComponent returns a platform's credentials.
func NewComponent(appID, appSecret, token, encodingAESKey string) *Component {
	return &Component{AppID: appID, secret: &componentSecrets{appSecret, token, encodingAESKey}}
}

// AppSecret is the platform's component_appsecret, for api_component_token.
func (c *Component) AppSecret() string { return c.secret.appSecret }

// Token is the message token that signs WeChat's pushes.
func (c *Component) Token() string { return c.secret.token }

// EncodingAESKey is the 43-character key of the pushes' encryption.
func (c *Component) EncodingAESKey() string { return c.secret.aesKey }

func (c *Component) redacted() string {
	return "{appid:" + c.AppID + " appsecret:REDACTED token:REDACTED encoding_aes_key:REDACTED}"
}

// String never shows the secrets.
func (c *Component) String() string { return c.redacted() }

// Format answers every verb without the secrets.
func (c *Component) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.redacted()) }

// LogValue is what slog's handlers print.
func (c *Component) LogValue() slog.Value {
	return slog.GroupValue(slog.String("appid", c.AppID), slog.String("appsecret", "REDACTED"),
		slog.String("token", "REDACTED"), slog.String("encoding_aes_key", "REDACTED"))
}

// MarshalJSON never writes the secrets.
func (c *Component) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"appid": c.AppID, "appsecret": "REDACTED", "token": "REDACTED", "encoding_aes_key": "REDACTED"})
}

var (
	_ fmt.Formatter  = (*Component)(nil)
	_ slog.LogValuer = (*Component)(nil)
	_ json.Marshaler = (*Component)(nil)
)

// App returns the credentials of the app appID, configured directly.
func (s Secret) App(appID string) (Credentials, bool) {
	c, ok := s.Apps[appID]
	return c, ok
}

// AppIDPattern is what an AppID may look like (WeChat's are wx and 16 hex
// digits): it bounds what a path or an object's metadata can name.
var AppIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ShownAppID is what a caller named as an AppID, as a message or a record
// may show it: cut after 64 bytes, the most an AppID has, so that nothing
// longer that a caller sends is repeated.
func ShownAppID(id string) string { return truncate(id, 64) }

var errNotJSON = errors.New(`it is not JSON; want {"appid":"…","appsecret":"…"}, or {"default":"…","apps":{"<appid>":"<appsecret>"},"component":{…},"callers":{…}}`)

// ParseSecret reads a secret of either shape. Its errors name fields,
// never values.
func ParseSecret(v string) (Secret, error) {
	var raw struct {
		AppID     string              `json:"appid"`
		AppSecret string              `json:"appsecret"`
		Default   string              `json:"default"`
		Apps      map[string]string   `json:"apps"`
		Callers   map[string][]string `json:"callers"`
		Component *rawComponent       `json:"component"`
	}
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return Secret{}, errNotJSON // the JSON error could quote the value
	}
	sec := Secret{Apps: map[string]Credentials{}}
	single := raw.Apps == nil && raw.Component == nil && raw.Default == ""
	if single || raw.AppID != "" || raw.AppSecret != "" {
		id, secret := strings.TrimSpace(raw.AppID), strings.TrimSpace(raw.AppSecret)
		switch {
		case id == "":
			return Secret{}, errors.New(`missing field "appid"`)
		case secret == "":
			return Secret{}, errors.New(`missing field "appsecret"`)
		case !AppIDPattern.MatchString(id):
			return Secret{}, errors.New(`field "appid": want letters, digits, - or _ (like wx0123456789abcdef)`)
		}
		sec.Apps[id] = NewCredentials(id, secret)
		sec.Default = sec.Apps[id]
	}
	ids := make([]string, 0, len(raw.Apps))
	for id := range raw.Apps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		secret := strings.TrimSpace(raw.Apps[id])
		switch {
		case !AppIDPattern.MatchString(id):
			return Secret{}, fmt.Errorf(`field "apps": key %q: want an AppID (letters, digits, - or _)`, ShownAppID(id))
		case secret == "":
			return Secret{}, fmt.Errorf(`field "apps": app %s has no appsecret`, id)
		}
		sec.Apps[id] = NewCredentials(id, secret)
	}
	if d := strings.TrimSpace(raw.Default); d != "" {
		c, ok := sec.Apps[d]
		if !ok {
			return Secret{}, errors.New(`field "default": it names no app of "apps"`)
		}
		sec.Default = c
	} else if sec.Default.AppID == "" && len(sec.Apps) == 1 {
		sec.Default = sec.Apps[ids[0]]
	} else if sec.Default.AppID == "" && len(sec.Apps) > 1 {
		return Secret{}, errors.New(`missing field "default": with several "apps", name the one the paths without an appid use`)
	}
	if c := raw.Component; c != nil {
		comp, err := c.parse(sec.Apps)
		if err != nil {
			return Secret{}, err
		}
		sec.Component = comp
	}
	if len(sec.Apps) == 0 && sec.Component == nil {
		return Secret{}, errors.New(`it names no app: want "appid" and "appsecret", or "apps"`)
	}
	callers, err := parseCallers(raw.Callers)
	if err != nil {
		return Secret{}, err
	}
	sec.Callers = callers
	return sec, nil
}

// rawComponent is the secret's "component" field, as written.
type rawComponent struct {
	AppID          string `json:"appid"`
	AppSecret      string `json:"appsecret"`
	Token          string `json:"token"`
	EncodingAESKey string `json:"encoding_aes_key"`
}

// parse checks the platform's entry: every field there, and an AppID that
// is not one of the apps configured directly.
func (c *rawComponent) parse(apps map[string]Credentials) (*Component, error) {
	id := strings.TrimSpace(c.AppID)
	switch {
	case !AppIDPattern.MatchString(id):
		return nil, errors.New(`field "component": missing or malformed "appid"`)
	case strings.TrimSpace(c.AppSecret) == "":
		return nil, errors.New(`field "component": missing "appsecret"`)
	case strings.TrimSpace(c.Token) == "":
		return nil, errors.New(`field "component": missing "token"`)
	case len(strings.TrimSpace(c.EncodingAESKey)) != 43:
		return nil, errors.New(`field "component": "encoding_aes_key" must be 43 characters`)
	}
	if _, ok := apps[id]; ok {
		return nil, errors.New(`field "component": its appid is also one of "apps"`)
	}
	return NewComponent(id, strings.TrimSpace(c.AppSecret), strings.TrimSpace(c.Token), strings.TrimSpace(c.EncodingAESKey)), nil
}

// parseCallers checks the "callers" field: each pattern names at least one
// app, each an AppID or "*".
func parseCallers(raw map[string][]string) (map[string][]string, error) {
	out := map[string][]string{}
	for pattern, ids := range raw {
		pattern = strings.TrimSpace(pattern)
		if pattern == "" || len(ids) == 0 {
			return nil, errors.New(`field "callers": want {"<IAM principal ARN, * matching any run>": ["<appid>" or "*", …]}`)
		}
		for _, id := range ids {
			if id != "*" && !AppIDPattern.MatchString(id) {
				return nil, fmt.Errorf(`field "callers": %q: want AppIDs or "*"`, ShownAppID(id))
			}
		}
		out[pattern] = ids
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
