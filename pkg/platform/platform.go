// Package platform is a third-party platform acting for the accounts that
// authorised it, as WeChat's open-platform documents define it: WeChat
// pushes the platform a component_verify_ticket every 10 minutes and each
// authorization event (Receive); the platform's component_access_token is
// fetched with api_component_token from the latest ticket; an
// authorization code is exchanged with api_query_auth for the
// authorizer's refresh token; and an authorizer's access token is fetched
// with api_authorizer_token from that refresh token, which WeChat may
// rotate. Tickets, refresh tokens and access tokens live in the shared
// token store (package tokentable), and each token is refreshed by one
// container at a time, under a lease: the others wait for its token.
package platform

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/wxmedia/wxmedia/pkg/apps"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/token"
	"github.com/wxmedia/wxmedia/pkg/tokentable"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

// Store is the shared token store (package tokentable's Dynamo or Memory).
type Store interface {
	Get(ctx context.Context, key string) (tokentable.Record, bool, error)
	Put(ctx context.Context, r tokentable.Record) error
	Swap(ctx context.Context, r tokentable.Record, old string) (bool, error)
	Delete(ctx context.Context, key string) error
	Lease(ctx context.Context, key, owner string, now, until time.Time) (bool, error)
	Release(ctx context.Context, l tokentable.Lease) error
}

var (
	_ Store = (*tokentable.Dynamo)(nil)
	_ Store = (*tokentable.Memory)(nil)
)

// WeChat is the platform's calls (package wechat's Client).
type WeChat interface {
	ComponentToken(ctx context.Context, appID, appSecret, ticket string) (string, time.Duration, error)
	QueryAuth(ctx context.Context, componentToken, componentAppID, code string) (wechat.AuthorizerToken, error)
	AuthorizerAccessToken(ctx context.Context, componentToken, componentAppID, authorizerAppID, refreshToken string) (wechat.AuthorizerToken, error)
}

var _ WeChat = (*wechat.Client)(nil)

// Secrets is the credentials secret, whose component entry is the platform's.
type Secrets interface {
	Secret(ctx context.Context) (token.Secret, error)
}

// Options configure a Platform. Zero values take the defaults.
type Options struct {
	Store   Store   // required
	WeChat  WeChat  // required
	Secrets Secrets // required
	Logger  *slog.Logger
	Now     func() time.Time // default time.Now
	// Wait is called while another container holds a token's lease,
	// before the store is read again; attempt counts from 0. Default: 50
	// ms, doubling up to 1 s, until ctx ends.
	Wait func(ctx context.Context, attempt int) error
	// LeaseTTL bounds a refresh: a container that dies holding a lease
	// holds off the others this long, and a container's call to WeChat
	// under the lease ends before it does (at four fifths of it), so that
	// no two containers refresh at once; default 15 s.
	LeaseTTL time.Duration
	// Recheck bounds how long a container goes on taking an account for an
	// authorizer after its authorization was withdrawn (an unauthorized
	// push that another container handled); default 1 minute.
	Recheck time.Duration
	// Margin is how long before WeChat's expiry a token is refreshed;
	// default 5 minutes.
	Margin time.Duration
	// MaxSkew is how far a push's timestamp may be from now; default 5 minutes.
	MaxSkew time.Duration
	// Owner names this container's leases; default random.
	Owner string
}

// Platform is the third-party platform of the secret's component entry.
type Platform struct {
	o     Options
	group singleflight.Group

	mu    sync.Mutex
	cache map[string]tokentable.Record // this container's copies of the store's tokens
	// confirmed is when each authorizer's authorization was last read in
	// the store, by its refresh key.
	confirmed map[string]time.Time
}

var _ apps.Authorizers = (*Platform)(nil)

// New returns a Platform.
func New(o Options) *Platform {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Wait == nil {
		o.Wait = backoff
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 15 * time.Second
	}
	if o.Recheck <= 0 {
		o.Recheck = time.Minute
	}
	if o.Margin <= 0 {
		o.Margin = 5 * time.Minute
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = 5 * time.Minute
	}
	if o.Owner == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		o.Owner = hex.EncodeToString(b[:])
	}
	return &Platform{o: o, cache: map[string]tokentable.Record{}, confirmed: map[string]time.Time{}}
}

func backoff(ctx context.Context, attempt int) error {
	d := min(50*time.Millisecond<<min(attempt, 5), time.Second)
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return failure.Wrap(failure.DynamoDB, failure.CodeSystem, ctx.Err(), "system error: timed out waiting for another container's token refresh")
	}
}

// The store's keys, per platform.
func ticketKey(c string) string        { return "ticket#" + c }
func componentKey(c string) string     { return "component_token#" + c }
func refreshKey(c, a string) string    { return "refresh#" + c + "#" + a }
func authorizerKey(c, a string) string { return "authorizer_token#" + c + "#" + a }

// TicketLifetime is how long WeChat honours a component_verify_ticket.
const TicketLifetime = 12 * time.Hour

// component is the platform's credentials, from the secret.
func (p *Platform) component(ctx context.Context) (*token.Component, error) {
	sec, err := p.o.Secrets.Secret(ctx)
	if err != nil {
		return nil, err
	}
	if sec.Component == nil {
		return nil, errNoPlatform
	}
	return sec.Component, nil
}

var errNoPlatform = failure.New(failure.Config, failure.CodeSystem,
	`system error: the credentials secret has no "component" entry: this deployment is no third-party platform`)

// ComponentToken is the platform's component_access_token.
func (p *Platform) ComponentToken(ctx context.Context) (string, error) {
	c, err := p.component(ctx)
	if err != nil {
		return "", err
	}
	return p.shared(ctx, componentKey(c.AppID), func(ctx context.Context) (string, time.Duration, error) {
		t, ok, err := p.o.Store.Get(ctx, ticketKey(c.AppID))
		if err != nil {
			return "", 0, err
		}
		if !ok {
			return "", 0, failure.New(failure.Config, failure.CodeSystem, "system error: no component_verify_ticket yet: "+
				"WeChat pushes one every 10 minutes to the platform's authorization event URL, POST /component/events")
		}
		p.o.Logger.InfoContext(ctx, "fetching the component_access_token", "component_appid", c.AppID)
		var tok string
		var ttl time.Duration
		err = p.underLease(ctx, func(ctx context.Context) (err error) {
			tok, ttl, err = p.o.WeChat.ComponentToken(ctx, c.AppID, c.AppSecret(), t.Value())
			return err
		})
		return tok, ttl, err
	})
}

// withComponentToken calls call with the component_access_token. One
// that WeChat rejects (42001, 40001, 40014: expired early, or revoked) is
// dropped, here and in the store, and call is made again, once, with a
// new one, as the media calls do with access tokens.
func (p *Platform) withComponentToken(ctx context.Context, c string, call func(ct string) error) error {
	ct, err := p.ComponentToken(ctx)
	if err != nil {
		return err
	}
	err = call(ct)
	switch failure.CodeOf(err) {
	case failure.CodeAccessTokenExpired, failure.CodeInvalidCredential, failure.CodeInvalidAccessToken:
	default:
		return err
	}
	p.o.Logger.InfoContext(ctx, "WeChat rejected the component_access_token; fetching a new one", "component_appid", c, "errcode", failure.CodeOf(err))
	p.expire(ctx, componentKey(c), ct)
	if ct, err = p.ComponentToken(ctx); err != nil {
		return err
	}
	return call(ct)
}

// expire drops the token under key that WeChat rejected, here and in the
// store (written expired, if it still holds it), so that the next call
// fetches a new one.
func (p *Platform) expire(ctx context.Context, key, tok string) {
	p.drop(key)
	if r, ok, err := p.o.Store.Get(ctx, key); err == nil && ok && r.Value() == tok {
		_ = p.o.Store.Put(ctx, tokentable.NewRecord(key, tok, p.o.Now()))
	}
}

// authorizerToken is authorizer a's access token.
func (p *Platform) authorizerToken(ctx context.Context, a string) (string, error) {
	c, err := p.component(ctx)
	if err != nil {
		return "", err
	}
	return p.shared(ctx, authorizerKey(c.AppID, a), func(ctx context.Context) (string, time.Duration, error) {
		rt, ok, err := p.o.Store.Get(ctx, refreshKey(c.AppID, a))
		if err != nil {
			return "", 0, err
		}
		if !ok {
			return "", 0, errNoRefresh(a)
		}
		p.o.Logger.InfoContext(ctx, "fetching an authorizer_access_token", "authorizer_appid", a)
		var at wechat.AuthorizerToken
		err = p.withComponentToken(ctx, c.AppID, func(ct string) error {
			return p.underLease(ctx, func(ctx context.Context) (err error) {
				at, err = p.o.WeChat.AuthorizerAccessToken(ctx, ct, c.AppID, a, rt.Value())
				return err
			})
		})
		if err != nil {
			return "", 0, err
		}
		if at.RefreshToken != rt.Value() {
			// WeChat rotated it: the next fetch needs the new one, unless
			// a newer one (a new authorization, an operator's) replaced
			// the one sent meanwhile: that one stands. Written even if
			// the lease ended meanwhile: the write is conditional.
			swapped, err := p.o.Store.Swap(ctx, tokentable.NewRecord(refreshKey(c.AppID, a), at.RefreshToken, time.Time{}), rt.Value())
			if err != nil {
				return "", 0, err
			}
			p.o.Logger.InfoContext(ctx, "authorizer refresh token rotated", "authorizer_appid", a, "stored", swapped)
			if !swapped {
				// Replaced, or removed: an account that withdrew its
				// authorization meanwhile gets no token.
				if _, ok, err := p.o.Store.Get(ctx, refreshKey(c.AppID, a)); err != nil || !ok {
					return "", 0, cmp.Or(err, errNoRefresh(a))
				}
			}
		}
		return at.AccessToken, at.ExpiresIn, nil
	})
}

func errNoRefresh(a string) error {
	return failure.New(failure.Config, failure.CodeSystem, "system error: authorizer %s has no refresh token: it was unauthorised, or was never registered", a)
}

// shared is the token under key: this container's copy while it lives,
// else the store's, else fetched by the one container holding the key's
// lease while the others wait for it.
func (p *Platform) shared(ctx context.Context, key string, fetch func(context.Context) (string, time.Duration, error)) (string, error) {
	if v, ok := p.cached(key); ok {
		return v, nil
	}
	v, err, _ := p.group.Do(key, func() (any, error) { return p.refresh(ctx, key, fetch) })
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

func (p *Platform) cached(key string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.cache[key]
	if ok && r.Valid(p.o.Now().Add(p.o.Margin)) {
		return r.Value(), true
	}
	return "", false
}

func (p *Platform) keep(r tokentable.Record) {
	p.mu.Lock()
	p.cache[r.Key] = r
	p.mu.Unlock()
}

func (p *Platform) drop(key string) {
	p.mu.Lock()
	delete(p.cache, key)
	p.mu.Unlock()
}

// refresh reads key from the store; if it holds no token that outlives
// the margin, it takes the key's lease and fetches one, or, when another
// container holds the lease, waits and reads again.
func (p *Platform) refresh(ctx context.Context, key string, fetch func(context.Context) (string, time.Duration, error)) (string, error) {
	for attempt := 0; ; attempt++ {
		r, ok, err := p.o.Store.Get(ctx, key)
		if err != nil {
			return "", err
		}
		now := p.o.Now()
		if ok && r.Valid(now.Add(p.o.Margin)) {
			p.keep(r)
			return r.Value(), nil
		}
		leased := time.Now() // on the clock deadlines keep (Options.Now may be a test's)
		got, err := p.o.Store.Lease(ctx, key, p.o.Owner, now, now.Add(p.o.LeaseTTL))
		if err != nil {
			return "", err
		}
		if got {
			return p.fill(withLeaseEnd(ctx, leased.Add(p.o.LeaseTTL-p.o.LeaseTTL/5)), key, fetch)
		}
		if err := p.o.Wait(ctx, attempt); err != nil {
			return "", err
		}
	}
}

// fill fetches key's token under its lease, stores it and gives the lease up.
func (p *Platform) fill(ctx context.Context, key string, fetch func(context.Context) (string, time.Duration, error)) (string, error) {
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := p.o.Store.Release(rctx, tokentable.Lease{Key: key, Owner: p.o.Owner}); err != nil {
			p.o.Logger.WarnContext(ctx, "cannot release a token lease; it ends by itself", "key", key, "error", err.Error())
		}
	}()
	// Another container may have stored it between the read and the lease.
	if r, ok, err := p.o.Store.Get(ctx, key); err != nil {
		return "", err
	} else if ok && r.Valid(p.o.Now().Add(p.o.Margin)) {
		p.keep(r)
		return r.Value(), nil
	}
	start := p.o.Now()
	v, ttl, err := fetch(ctx)
	if err != nil {
		return "", err
	}
	r := tokentable.NewRecord(key, v, start.Add(ttl))
	if err := p.o.Store.Put(ctx, r); err != nil {
		return "", err
	}
	p.keep(r)
	return v, nil
}

type leaseEndKey struct{}

// withLeaseEnd notes in ctx when the WeChat calls of the refresh under way
// must end: before its lease does (four fifths of LeaseTTL from taking
// it), or before an outer refresh's, if sooner (the component token
// fetched within an authorizer token's refresh).
func withLeaseEnd(ctx context.Context, end time.Time) context.Context {
	if outer, ok := ctx.Value(leaseEndKey{}).(time.Time); ok && outer.Before(end) {
		end = outer
	}
	return context.WithValue(ctx, leaseEndKey{}, end)
}

// underLease runs call, a WeChat call of a refresh, cut when its lease's
// time is up, so that WeChat answering slowly (45011 retries, a slow
// network) never lets a second container refresh the same token at once.
// The store's reads and writes around it are not cut.
func (p *Platform) underLease(ctx context.Context, call func(context.Context) error) error {
	end, ok := ctx.Value(leaseEndKey{}).(time.Time)
	if !ok {
		return call(ctx)
	}
	cctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	err := call(cctx)
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return failure.Wrap(failure.WeChat, failure.CodeSystem, err,
			"system error: WeChat did not answer the token call within the refresh lease (%s); try again", p.o.LeaseTTL)
	}
	return err
}

// Authorized reports whether appID authorised the platform: the store
// holds its refresh token. A container reads it there at most every
// Options.Recheck: an authorization withdrawn through another container
// stops resolving here within that bound, and the token kept for it is
// dropped.
func (p *Platform) Authorized(ctx context.Context, appID string) (bool, error) {
	c, err := p.component(ctx)
	if err != nil {
		return false, err
	}
	key, now := refreshKey(c.AppID, appID), p.o.Now()
	p.mu.Lock()
	at, ok := p.confirmed[key]
	p.mu.Unlock()
	if ok && now.Sub(at) < p.o.Recheck {
		return true, nil
	}
	_, ok, err = p.o.Store.Get(ctx, key)
	if err != nil {
		return false, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !ok {
		delete(p.confirmed, key)
		delete(p.cache, authorizerKey(c.AppID, appID))
		return false, nil
	}
	p.confirmed[key] = now
	return true, nil
}

// Token is the authorizer_access_token of the authorizer in ctx.
func (p *Platform) Token(ctx context.Context) (string, error) {
	a, ok := apps.From(ctx)
	if !ok || !a.Authorizer {
		return "", failure.New(failure.Internal, failure.CodeSystem, "system error: no authorizer for this call")
	}
	return p.authorizerToken(ctx, a.ID)
}

// Invalidate drops the authorizer's token WeChat rejected, here and in the
// store (written expired, if it still holds it), so that the next call
// fetches a new one.
func (p *Platform) Invalidate(ctx context.Context, tok string) {
	a, ok := apps.From(ctx)
	c, err := p.component(ctx)
	if !ok || err != nil {
		return
	}
	p.expire(ctx, authorizerKey(c.AppID, a.ID), tok)
}

// Register stores an authorizer's refresh token, as an operator does for
// a platform whose event URL points elsewhere.
func (p *Platform) Register(ctx context.Context, authorizerAppID, refreshToken string) error {
	c, err := p.component(ctx)
	if err != nil {
		return err
	}
	if !apps.IsAppID(authorizerAppID) || refreshToken == "" {
		return failure.New(failure.Caller, failure.CodeInvalidAppID, "want an authorizer AppID and its refresh token")
	}
	p.drop(authorizerKey(c.AppID, authorizerAppID))
	return p.o.Store.Put(ctx, tokentable.NewRecord(refreshKey(c.AppID, authorizerAppID), refreshToken, time.Time{}))
}

// TableActions are the token table's IAM actions a function needs: read,
// write and lease for one that acts for authorizers; delete too for the
// one serving the events (an unauthorization removes a refresh token).
func TableActions(events bool) []string {
	a := []string{tokentable.ActionGet, tokentable.ActionPut}
	if events {
		a = append(a, tokentable.ActionDelete)
	}
	return a
}
