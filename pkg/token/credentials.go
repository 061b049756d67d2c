package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/tracing"
)

// Credentials are a WeChat app's AppID and AppSecret. However a value is
// printed (fmt's verbs, slog's handlers, encoding/json, inside an error or
// another struct), the AppSecret is not: it is kept behind a pointer that
// fmt shows as an address, and every printing interface answers REDACTED.
type Credentials struct {
	AppID  string
	secret *string
}

// NewCredentials returns the credentials of app appID.
func NewCredentials(appID, appSecret string) Credentials {
	return Credentials{AppID: appID, secret: &appSecret}
}

// AppSecret is the secret itself, for the one request that sends it.
func (c Credentials) AppSecret() string {
	if c.secret == nil {
		return ""
	}
	return *c.secret
}

func (c Credentials) redacted() string { return "{appid:" + c.AppID + " appsecret:REDACTED}" }

// String never shows the secret.
func (c Credentials) String() string { return c.redacted() }

// Format answers every verb (%v %+v %#v %s %q %x …) without the secret.
func (c Credentials) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.redacted()) }

// LogValue is what slog's handlers print.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("appid", c.AppID), slog.String("appsecret", "REDACTED"))
}

// MarshalJSON never writes the secret.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"appid": c.AppID, "appsecret": "REDACTED"})
}

var (
	_ fmt.Formatter  = Credentials{}
	_ slog.LogValuer = Credentials{}
	_ json.Marshaler = Credentials{}
)

// SecretsAPI is the part of the Secrets Manager client the store uses.
// SecretAction is the IAM action the store's one call needs on the secret.
const SecretAction = "secretsmanager:GetSecretValue"

type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SecretError is a secret that cannot give credentials. It names the secret
// and what is wrong, never the value: it is the cause of the failure a
// store returns, for the operator's logs.
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

// DefaultFailureTTL is how long a failure to read the secret is answered
// again without another read, so that a burst of work does not hammer
// Secrets Manager while the secret is missing or unreadable.
const DefaultFailureTTL = 5 * time.Second

// StoreOptions configure a SecretStore. Zero values take the defaults.
type StoreOptions struct {
	TTL        time.Duration    // default DefaultSecretTTL
	FailureTTL time.Duration    // default DefaultFailureTTL
	Now        func() time.Time // default time.Now
	Metrics    SecretMetrics    // counts failed reads; nil counts none
	// Tracer makes each read a span named SecretsManager; default a no-op tracer.
	Tracer trace.Tracer
}

// SecretMetrics records the store's reads of the secret (package metrics' Recorder).
type SecretMetrics interface {
	SecretRead(ctx context.Context, failed bool)
}

// SecretStore reads the apps' credentials from a Secrets Manager secret
// and caches them. The secret holds one app, {"appid":"…","appsecret":"…"},
// or several and a third-party platform (see Secret).
type SecretStore struct {
	api  SecretsAPI
	id   string
	opts StoreOptions

	mu      sync.Mutex
	secret  Secret
	err     error
	fetched time.Time
}

// NewSecretStore returns a store for the secret id (a name or an ARN).
func NewSecretStore(api SecretsAPI, secretID string, opts StoreOptions) *SecretStore {
	if opts.TTL <= 0 {
		opts.TTL = DefaultSecretTTL
	}
	if opts.FailureTTL <= 0 {
		opts.FailureTTL = DefaultFailureTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Tracer == nil {
		opts.Tracer = tracing.Noop()
	}
	return &SecretStore{api: api, id: secretID, opts: opts}
}

// Credentials returns the cached credentials, reading the secret when the
// cache is empty or stale. Its errors are *failure.Error: Config when the
// secret is missing, not readable by this function or malformed,
// SecretsManager when the service failed.
func (s *SecretStore) Credentials(ctx context.Context) (Credentials, error) {
	sec, err := s.Secret(ctx)
	if err != nil {
		return Credentials{}, err
	}
	if sec.Default.AppID == "" {
		return Credentials{}, misconfigured(&SecretError{SecretID: s.id, Reason: `it names no default app; add "default":"<appid>" of one of its "apps"`})
	}
	return sec.Default, nil
}

// Secret returns the whole secret, cached like Credentials.
func (s *SecretStore) Secret(ctx context.Context) (Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.fetched.IsZero() {
		age := s.opts.Now().Sub(s.fetched)
		switch {
		case s.err == nil && age < s.opts.TTL:
			return s.secret, nil
		case s.err != nil && age < s.opts.FailureTTL:
			return Secret{}, s.err
		}
	}
	s.secret, s.err = s.read(ctx)
	s.fetched = s.opts.Now()
	if s.err != nil && ctx.Err() != nil {
		s.fetched = time.Time{} // this caller's deadline, not the secret: not remembered
	}
	return s.secret, s.err
}

func (s *SecretStore) read(ctx context.Context) (_ Secret, err error) {
	ctx, span := s.opts.Tracer.Start(ctx, "SecretsManager", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String(tracing.AttrAWSOperation, "GetSecretValue")))
	defer func() {
		if s.opts.Metrics != nil {
			s.opts.Metrics.SecretRead(ctx, err != nil)
		}
		if err != nil {
			// What a caller may be told: never the value, nor the cause.
			span.SetStatus(codes.Error, failure.MessageOf(err))
		}
		span.End()
	}()
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &s.id})
	if err != nil {
		return Secret{}, secretsFailure(&SecretError{SecretID: s.id, Reason: "cannot read it", Err: err})
	}
	if out.SecretString == nil {
		return Secret{}, misconfigured(&SecretError{SecretID: s.id, Reason: "it has no string value; want JSON {\"appid\":\"…\",\"appsecret\":\"…\"}"})
	}
	sec, err := ParseSecret(*out.SecretString)
	if err != nil {
		return Secret{}, misconfigured(&SecretError{SecretID: s.id, Reason: err.Error()})
	}
	return sec, nil
}

// Invalidate drops the cached credentials: WeChat rejected them, so the
// next call reads the secret again (it may have been rotated).
func (s *SecretStore) Invalidate() {
	s.mu.Lock()
	s.fetched = time.Time{}
	s.mu.Unlock()
}

func misconfigured(e *SecretError) error {
	return failure.Wrap(failure.Config, failure.CodeSystem, e, "system error: the app's credentials secret is not set up correctly")
}

// secretsFailure tells the operator's mistakes (no such secret, no
// permission, a key that cannot decrypt it) from Secrets Manager's own.
func secretsFailure(e *SecretError) error {
	var ae smithy.APIError
	if errors.As(e.Err, &ae) {
		switch ae.ErrorCode() {
		case "ResourceNotFoundException", "AccessDeniedException", "DecryptionFailure", "InvalidRequestException",
			"InvalidParameterException", "UnrecognizedClientException", "ExpiredTokenException":
			return misconfigured(e)
		}
	}
	return failure.Wrap(failure.SecretsManager, failure.CodeSystem, e, "system error: the app's credentials are unavailable (Secrets Manager)")
}

// Static serves fixed credentials (local runs and tests).
func Static(appID, appSecret string) CredentialsProvider {
	return staticCredentials{NewCredentials(appID, appSecret)}
}

type staticCredentials struct{ c Credentials }

func (s staticCredentials) Credentials(context.Context) (Credentials, error) { return s.c, nil }
func (staticCredentials) Invalidate()                                        {}
