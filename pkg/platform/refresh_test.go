package platform

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/internal/awstest"
	"github.com/wxmedia/wxmedia/pkg/apps"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/tokentable"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

// fakeWeChat answers the platform's calls; authorizerToken is the one a
// test shapes.
type fakeWeChat struct {
	authorizerToken func(ctx context.Context, refreshToken string) (wechat.AuthorizerToken, error)
}

func (fakeWeChat) ComponentToken(context.Context, string, string, string) (string, time.Duration, error) {
	return "component-access-token", 2 * time.Hour, nil
}

func (fakeWeChat) QueryAuth(context.Context, string, string, string) (wechat.AuthorizerToken, error) {
	return wechat.AuthorizerToken{}, errors.New("not asked")
}

func (f fakeWeChat) AuthorizerAccessToken(ctx context.Context, _, _, _, refreshToken string) (wechat.AuthorizerToken, error) {
	return f.authorizerToken(ctx, refreshToken)
}

// stores are the two kinds of token store: in process, and DynamoDB
// (moto_server).
func stores() map[string]func(t *testing.T) Store {
	return map[string]func(t *testing.T) Store{
		"Memory": func(*testing.T) Store { return tokentable.NewMemory(nil) },
		"DynamoDB": func(t *testing.T) Store {
			m := awstest.Start(t)
			return tokentable.NewDynamo(m.DynamoDB(), m.Table(t))
		},
	}
}

// seeded is a store holding a ticket and the authorizer's refresh token.
func seeded(t *testing.T, newStore func(*testing.T) Store, refresh string) Store {
	t.Helper()
	store := newStore(t)
	ctx := context.Background()
	for _, r := range []tokentable.Record{
		tokentable.NewRecord(ticketKey(componentAppID), "ticket", time.Now().Add(TicketLifetime)),
		tokentable.NewRecord(refreshKey(componentAppID, authorizer), refresh, time.Time{}),
	} {
		if err := store.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	return store
}

var forAuthorizer = apps.With(context.Background(), apps.App{ID: authorizer, Authorizer: true})

// A refresh token WeChat rotates is stored, unless a newer one replaced
// the one sent while WeChat answered (an operator registered one, or the
// account authorised the platform again): the newer one stands, for a
// rotation answered late must not bring back a token WeChat revoked.
func TestRotationKeepsANewerRefreshToken(t *testing.T) {
	for name, newStore := range stores() {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name       string
				meanwhile  string // registered while WeChat answers; "" none, "-" unauthorised
				wantStored string // "" none
			}{
				{"Rotated", "", "refresh-2"},
				{"ReplacedMeanwhile", "refresh-registered", "refresh-registered"},
				// The account withdrew its authorization meanwhile: its
				// token is not kept, nor its refresh token brought back.
				{"UnauthorizedMeanwhile", "-", ""},
			} {
				t.Run(tc.name, func(t *testing.T) {
					store := seeded(t, newStore, "refresh-1")
					operator := New(Options{Store: store, Secrets: platformSecret})
					wx := fakeWeChat{authorizerToken: func(ctx context.Context, rt string) (wechat.AuthorizerToken, error) {
						if rt != "refresh-1" {
							return wechat.AuthorizerToken{}, errors.New("sent the wrong refresh token")
						}
						switch tc.meanwhile {
						case "":
						case "-":
							if err := store.Delete(ctx, refreshKey(componentAppID, authorizer)); err != nil {
								return wechat.AuthorizerToken{}, err
							}
						default:
							if err := operator.Register(ctx, authorizer, tc.meanwhile); err != nil {
								return wechat.AuthorizerToken{}, err
							}
						}
						return wechat.AuthorizerToken{AppID: authorizer, AccessToken: "access", ExpiresIn: 2 * time.Hour, RefreshToken: "refresh-2"}, nil
					}}
					p := New(Options{Store: store, WeChat: wx, Secrets: platformSecret})
					tok, err := p.Token(forAuthorizer)
					if want := tc.wantStored != ""; (err == nil && tok == "access") != want {
						t.Fatalf("Token: %q, %v; want the access token: %v", tok, err, want)
					}
					r, ok, err := store.Get(context.Background(), refreshKey(componentAppID, authorizer))
					if err != nil || ok != (tc.wantStored != "") || r.Value() != tc.wantStored {
						t.Errorf("stored refresh token %q (%v, %v), want %q", r.Value(), ok, err, tc.wantStored)
					}
					if _, ok, _ := store.Get(context.Background(), authorizerKey(componentAppID, authorizer)); ok != (tc.wantStored != "") {
						t.Errorf("an access token stored: %v, want %v", ok, tc.wantStored != "")
					}
				})
			}
		})
	}
}

// A container's call to WeChat under a token's lease ends before the
// lease does: WeChat answering slowly (45011 retries, a slow network)
// never lets a second container refresh the same token at once. The call
// is cut, the caller told so, and the lease given up for the next.
func TestRefreshEndsBeforeItsLease(t *testing.T) {
	const lease = 200 * time.Millisecond
	store := seeded(t, stores()["Memory"], "refresh-1")
	var deadline time.Time
	var leased time.Time
	wx := fakeWeChat{authorizerToken: func(ctx context.Context, _ string) (wechat.AuthorizerToken, error) {
		var ok bool
		if deadline, ok = ctx.Deadline(); !ok {
			return wechat.AuthorizerToken{}, errors.New("the call has no deadline: it could outlive the lease")
		}
		<-ctx.Done() // WeChat does not answer
		return wechat.AuthorizerToken{}, ctx.Err()
	}}
	leases := &leaseClock{Store: store, taken: &leased}
	p := New(Options{Store: leases, WeChat: wx, Secrets: platformSecret, LeaseTTL: lease})
	_, err := p.Token(forAuthorizer)
	if failure.KindOf(err) != failure.WeChat || !strings.Contains(err.Error(), "within the refresh lease") {
		t.Fatalf("a call WeChat does not answer: %v, want WeChat's failure, cut within the lease", err)
	}
	if deadline.IsZero() || !deadline.Before(leased.Add(lease)) {
		t.Errorf("the call's deadline %v, want one before the lease ends at %v", deadline, leased.Add(lease))
	}
	if got, err := store.Lease(context.Background(), authorizerKey(componentAppID, authorizer), "next", time.Now(), time.Now().Add(lease)); err != nil || !got {
		t.Errorf("the next container's lease: %v, %v; want it free", got, err)
	}
}

// leaseClock notes when the authorizer token's lease was taken.
type leaseClock struct {
	Store
	taken *time.Time
}

func (l *leaseClock) Lease(ctx context.Context, k, o string, now, until time.Time) (bool, error) {
	if k == authorizerKey(componentAppID, authorizer) {
		*l.taken = time.Now()
	}
	return l.Store.Lease(ctx, k, o, now, until)
}

// WeChat answering just as the call's time is up: the refresh token it
// rotated is stored all the same (the store's writes are not cut, and
// the write is conditional), and the token it answered is used.
func TestRotationAnsweredAtTheCutIsKept(t *testing.T) {
	store := seeded(t, stores()["Memory"], "refresh-1")
	wx := fakeWeChat{authorizerToken: func(ctx context.Context, _ string) (wechat.AuthorizerToken, error) {
		<-ctx.Done() // the answer arrives as the call's time is up
		return wechat.AuthorizerToken{AppID: authorizer, AccessToken: "access", ExpiresIn: 2 * time.Hour, RefreshToken: "refresh-2"}, nil
	}}
	p := New(Options{Store: store, WeChat: wx, Secrets: platformSecret, LeaseTTL: 100 * time.Millisecond})
	if tok, err := p.Token(forAuthorizer); err != nil || tok != "access" {
		t.Fatalf("Token: %q, %v; want the access token WeChat answered", tok, err)
	}
	if r, _, err := store.Get(context.Background(), refreshKey(componentAppID, authorizer)); err != nil || r.Value() != "refresh-2" {
		t.Errorf("stored refresh token %q, %v; want the rotated refresh-2", r.Value(), err)
	}
}
