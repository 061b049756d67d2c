package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Credentials are a WeChat app's AppID and AppSecret.
type Credentials struct {
	AppID     string `json:"appid"`
	AppSecret string `json:"appsecret"`
}

// String never shows the secret.
func (c Credentials) String() string { return fmt.Sprintf("{appid:%s appsecret:REDACTED}", c.AppID) }

// GoString never shows the secret either (%#v).
func (c Credentials) GoString() string { return c.String() }

// SecretsAPI is the part of the Secrets Manager client the store uses.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SecretError is a secret that cannot give credentials. It names the secret
// and what is wrong, never the value.
type SecretError struct {
	SecretID string
	Reason   string
	Err      error // the AWS error, if any
}

func (e *SecretError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("secret %q: %s: %v", e.SecretID, e.Reason, e.Err)
	}
	return fmt.Sprintf("secret %q: %s", e.SecretID, e.Reason)
}

func (e *SecretError) Unwrap() error { return e.Err }

// DefaultSecretTTL is how long credentials are kept before the secret is read again.
const DefaultSecretTTL = 5 * time.Minute

// SecretStore reads Credentials from a Secrets Manager secret holding
// {"appid":"…","appsecret":"…"} and caches them.
type SecretStore struct {
	api SecretsAPI
	id  string
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	creds   Credentials
	fetched time.Time
}

// NewSecretStore returns a store for the secret id (a name or an ARN). A
// ttl of 0 means DefaultSecretTTL.
func NewSecretStore(api SecretsAPI, secretID string, ttl time.Duration) *SecretStore {
	if ttl <= 0 {
		ttl = DefaultSecretTTL
	}
	return &SecretStore{api: api, id: secretID, ttl: ttl, now: time.Now}
}

// Credentials returns the cached credentials, reading the secret when the
// cache is empty or stale.
func (s *SecretStore) Credentials(ctx context.Context) (Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.fetched.IsZero() && s.now().Sub(s.fetched) < s.ttl {
		return s.creds, nil
	}
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &s.id})
	if err != nil {
		return Credentials{}, &SecretError{SecretID: s.id, Reason: "cannot read it", Err: err}
	}
	if out.SecretString == nil {
		return Credentials{}, &SecretError{SecretID: s.id, Reason: "it has no string value; want JSON {\"appid\":\"…\",\"appsecret\":\"…\"}"}
	}
	creds, err := parseCredentials(*out.SecretString)
	if err != nil {
		return Credentials{}, &SecretError{SecretID: s.id, Reason: err.Error()}
	}
	s.creds, s.fetched = creds, s.now()
	return creds, nil
}

// Invalidate drops the cached credentials: WeChat rejected them, so the
// next call reads the secret again (it may have been rotated).
func (s *SecretStore) Invalidate() {
	s.mu.Lock()
	s.fetched = time.Time{}
	s.mu.Unlock()
}

var errNotJSON = errors.New(`it is not JSON; want {"appid":"…","appsecret":"…"}`)

func parseCredentials(v string) (Credentials, error) {
	var c Credentials
	if err := json.Unmarshal([]byte(v), &c); err != nil {
		return Credentials{}, errNotJSON // the JSON error could quote the value
	}
	switch {
	case c.AppID == "":
		return Credentials{}, errors.New(`missing field "appid"`)
	case c.AppSecret == "":
		return Credentials{}, errors.New(`missing field "appsecret"`)
	}
	return c, nil
}

// StaticCredentials serves fixed credentials (local runs and tests).
type StaticCredentials Credentials

// Credentials returns c.
func (c StaticCredentials) Credentials(context.Context) (Credentials, error) {
	return Credentials(c), nil
}

// Invalidate does nothing.
func (StaticCredentials) Invalidate() {}
