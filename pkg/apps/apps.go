// Package apps is the deployment's apps: which WeChat app a piece of work
// is for, and the access token each one's calls carry. A request names
// its app by the path prefix /<appid>/cgi-bin/…, a direct invocation by
// its "appid", an S3 object by its user metadata appid; work that names
// none is the default app's. An app is one the
// credentials secret configures directly (its tokens from stable_token),
// or an authorizer of the secret's third-party platform (its
// authorizer_access_token from the platform's shared token store). Any
// other AppID is refused with WeChat's 40013, before anything is read
// for it.
package apps

import (
	"context"
	"log/slog"
	"sync"

	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/token"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

// IsAppID reports whether id looks like an AppID (token.AppIDPattern: the
// secret's apps are named the same way): what a path or an object's
// metadata may name, checked before anything is read for it.
func IsAppID(id string) bool { return token.AppIDPattern.MatchString(id) }

// MetadataKey is the S3 user metadata (x-amz-meta-appid) that names an
// object's app.
const MetadataKey = "appid"

// App is an app resolved: its AppID and where its tokens come from.
type App struct {
	ID string
	// Default is the app of the paths without a prefix and of objects
	// without appid metadata. Its results recorded before results named
	// their app are its own.
	Default bool
	// Authorizer is an account that authorised the third-party platform:
	// its calls carry an authorizer_access_token.
	Authorizer bool
}

type requestedKey struct{}
type resolvedKey struct{}

// WithRequested notes the AppID a caller named ("" for the default app).
func WithRequested(ctx context.Context, appID string) context.Context {
	return context.WithValue(ctx, requestedKey{}, appID)
}

// Requested is the AppID the caller named, "" for the default app.
func Requested(ctx context.Context) string {
	id, _ := ctx.Value(requestedKey{}).(string)
	return id
}

// With notes the app the work in ctx is for: its WeChat calls carry that
// app's token.
func With(ctx context.Context, a App) context.Context {
	return context.WithValue(ctx, resolvedKey{}, a)
}

// From is the app With noted; false when none was (the default app).
func From(ctx context.Context) (App, bool) {
	a, ok := ctx.Value(resolvedKey{}).(App)
	return a, ok
}

// Scope is whose WeChat quota the work in ctx spends: "" for the default
// app, else its AppID (wechat.Options.QuotaScope).
func Scope(ctx context.Context) string {
	if a, ok := From(ctx); ok && !a.Default {
		return a.ID
	}
	return ""
}

// Secrets is the credentials secret (token.SecretStore).
type Secrets interface {
	Secret(ctx context.Context) (token.Secret, error)
	Invalidate()
}

var _ Secrets = (*token.SecretStore)(nil)

// Authorizers are the third-party platform's authorizers (package
// platform): whether an AppID is one, and its authorizer_access_token.
type Authorizers interface {
	Authorized(ctx context.Context, appID string) (bool, error)
	wechat.TokenSource // for the authorizer in ctx (From)
}

// Options configure a Registry. Zero values take the defaults.
type Options struct {
	Secrets Secrets        // required
	WeChat  token.TokenAPI // required: stable_token for the apps configured directly
	Default *token.Source  // the default app's token source; default one over Secrets
	Logger  *slog.Logger   // default slog.Default()
	Metrics token.Metrics  // counts stable_token calls; nil counts none
	// Authorizers, if set, are the platform's: an AppID not configured
	// directly is looked up there.
	Authorizers Authorizers
	// AppsClaim, if set, names the JWT claim that lists the apps a caller
	// may use (AuthMode=JWT); otherwise the secret's "callers" bind IAM
	// principals to apps.
	AppsClaim string
}

// Registry resolves apps and hands out their tokens. It satisfies
// wechat.TokenSource: a call's token is that of the app in its context.
type Registry struct {
	opts    Options
	def     *token.Source
	mu      sync.Mutex
	sources map[string]*token.Source
	unbound sync.Once // the warning that callers are not bound to apps
}

var _ wechat.TokenSource = (*Registry)(nil)

// New returns a Registry.
func New(opts Options) *Registry {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	r := &Registry{opts: opts, def: opts.Default, sources: map[string]*token.Source{}}
	if r.def == nil {
		r.def = token.New(token.Options{WeChat: opts.WeChat, Credentials: defaultCredentials{opts.Secrets}, Logger: opts.Logger, Metrics: opts.Metrics})
	}
	return r
}

// Resolve finds the app named appID ("" for the default app). An AppID
// that is neither configured nor an authorizer is the caller's failure,
// 40013; a secret that cannot be read is the failure reading it.
func (r *Registry) Resolve(ctx context.Context, appID string) (App, error) {
	sec, err := r.opts.Secrets.Secret(ctx)
	if err != nil {
		return App{}, err
	}
	if appID == "" {
		if sec.Default.AppID == "" {
			return App{}, failure.New(failure.Caller, failure.CodeInvalidAppID,
				"invalid appid: this deployment has no default app; put the AppID first in the path, /<appid>/cgi-bin/media/…")
		}
		if err := r.permit(ctx, sec, sec.Default.AppID); err != nil {
			return App{}, err
		}
		return App{ID: sec.Default.AppID, Default: true}, nil
	}
	if !IsAppID(appID) {
		return App{}, unknown(appID)
	}
	if err := r.permit(ctx, sec, appID); err != nil {
		return App{}, err // before anything is read for it
	}
	if _, ok := sec.App(appID); ok {
		return App{ID: appID, Default: appID == sec.Default.AppID}, nil
	}
	if sec.Component != nil && r.opts.Authorizers != nil {
		ok, err := r.opts.Authorizers.Authorized(ctx, appID)
		if err != nil {
			return App{}, err
		}
		if ok {
			return App{ID: appID, Authorizer: true}, nil
		}
	}
	return App{}, unknown(appID)
}

func unknown(appID string) error {
	return failure.New(failure.Caller, failure.CodeInvalidAppID,
		"invalid appid: %s is neither an app of this deployment's secret nor an authorizer of its third-party platform", token.ShownAppID(appID))
}

// Token is the access token of the app in ctx (the default app's if none).
func (r *Registry) Token(ctx context.Context) (string, error) {
	a, ok := From(ctx)
	switch {
	case !ok || a.Default:
		return r.def.Token(ctx)
	case a.Authorizer:
		if r.opts.Authorizers == nil {
			return "", failure.New(failure.Internal, failure.CodeSystem, "system error: no third-party platform")
		}
		return r.opts.Authorizers.Token(ctx)
	}
	return r.source(a.ID).Token(ctx)
}

// Invalidate drops the rejected token of the app in ctx.
func (r *Registry) Invalidate(ctx context.Context, tok string) {
	a, ok := From(ctx)
	switch {
	case !ok || a.Default:
		r.def.Invalidate(ctx, tok)
	case a.Authorizer:
		if r.opts.Authorizers != nil {
			r.opts.Authorizers.Invalidate(ctx, tok)
		}
	default:
		r.source(a.ID).Invalidate(ctx, tok)
	}
}

// source is the stable_token source of an app configured directly, one a
// container.
func (r *Registry) source(appID string) *token.Source {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sources[appID]
	if !ok {
		s = token.New(token.Options{WeChat: r.opts.WeChat, Credentials: appCredentials{r.opts.Secrets, appID},
			Logger: r.opts.Logger, Metrics: r.opts.Metrics})
		r.sources[appID] = s
	}
	return s
}

// defaultCredentials are the default app's, from the secret.
type defaultCredentials struct{ s Secrets }

func (d defaultCredentials) Credentials(ctx context.Context) (token.Credentials, error) {
	sec, err := d.s.Secret(ctx)
	if err != nil {
		return token.Credentials{}, err
	}
	if sec.Default.AppID == "" {
		return token.Credentials{}, failure.New(failure.Config, failure.CodeSystem, "system error: the app's credentials secret names no default app")
	}
	return sec.Default, nil
}

func (d defaultCredentials) Invalidate() { d.s.Invalidate() }

// appCredentials are one app's, from the secret.
type appCredentials struct {
	s  Secrets
	id string
}

func (a appCredentials) Credentials(ctx context.Context) (token.Credentials, error) {
	sec, err := a.s.Secret(ctx)
	if err != nil {
		return token.Credentials{}, err
	}
	c, ok := sec.App(a.id)
	if !ok {
		return token.Credentials{}, unknown(a.id) // removed from the secret since it was resolved
	}
	return c, nil
}

func (a appCredentials) Invalidate() { a.s.Invalidate() }

// Single is the secret of one app with fixed credentials (benchmarks,
// token.Static).
func Single(c token.CredentialsProvider) Secrets { return single{c} }

type single struct{ c token.CredentialsProvider }

func (s single) Secret(ctx context.Context) (token.Secret, error) {
	c, err := s.c.Credentials(ctx)
	if err != nil {
		return token.Secret{}, err
	}
	return token.Secret{Default: c, Apps: map[string]token.Credentials{c.AppID: c}}, nil
}

func (s single) Invalidate() { s.c.Invalidate() }
