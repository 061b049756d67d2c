package platform

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/internal/awstest"
	"github.com/wxmedia/wxmedia/internal/wechatsim"
	"github.com/wxmedia/wxmedia/pkg/apps"
	"github.com/wxmedia/wxmedia/pkg/routes"
	"github.com/wxmedia/wxmedia/pkg/token"
	"github.com/wxmedia/wxmedia/pkg/tokentable"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

func TestMain(m *testing.M) { awstest.Main(m) }

const (
	componentAppID = "wx-test-component"
	authorizer     = "wx-test-authorizer"
	aesKey         = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

type secret struct{ s token.Secret }

func (s secret) Secret(context.Context) (token.Secret, error) { return s.s, nil }

var platformSecret = secret{token.Secret{Component: token.NewComponent(componentAppID, "component-secret", "component-token", aesKey)}}

// setup is a simulator with the platform, a store, and the platform's
// event route: a ticket pushed and an account authorised through it.
func setup(t *testing.T, store Store) (*wechatsim.Server, *wechat.Client) {
	t.Helper()
	sim, base := wechatsim.NewTestServer(t, wechatsim.Options{Component: &wechatsim.Component{AppID: componentAppID,
		AppSecret: "component-secret", Token: "component-token", EncodingAESKey: aesKey}})
	wx := wechat.New(wechat.Options{BaseURL: base})
	events := httptest.NewServer(pushRoute(New(Options{Store: store, WeChat: wx, Secrets: platformSecret})))
	t.Cleanup(events.Close)
	sim.SetPushURL(events.URL + routes.PathPlatformEvents)
	for _, push := range []func(context.Context) (wechatsim.PushResult, error){
		sim.PushTicket, func(ctx context.Context) (wechatsim.PushResult, error) { return sim.Authorize(ctx, authorizer) },
	} {
		if r, err := push(context.Background()); err != nil || r.Status != 200 || r.Body != "success" {
			t.Fatalf("push: %+v, %v; want 200 success", r, err)
		}
	}
	return sim, wx
}

// pushRoute serves p's pushes for the simulator: "success" to a push acted
// on, as the HTTP edge answers (httpapi.PlatformEvents, which imports this
// package and so cannot serve its tests).
func pushRoute(p *Platform) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := p.Receive(r.Context(), r.URL.Query(), body); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "success")
	})
}

// step is one worker's next call of the store (or its wait), held until
// the driver lets it go.
type step struct {
	worker  int
	op      string
	release chan struct{}
}

// gated is a worker's view of the store: every call is a step.
type gated struct {
	Store
	worker int
	steps  chan<- step
}

func (g gated) at(op string) {
	s := step{g.worker, op, make(chan struct{})}
	g.steps <- s
	<-s.release
}

func (g gated) Get(ctx context.Context, k string) (tokentable.Record, bool, error) {
	g.at("get")
	return g.Store.Get(ctx, k)
}
func (g gated) Put(ctx context.Context, r tokentable.Record) error {
	g.at("put")
	return g.Store.Put(ctx, r)
}
func (g gated) Swap(ctx context.Context, r tokentable.Record, old string) (bool, error) {
	g.at("swap")
	return g.Store.Swap(ctx, r, old)
}
func (g gated) Lease(ctx context.Context, k, o string, now, until time.Time) (bool, error) {
	g.at("lease")
	return g.Store.Lease(ctx, k, o, now, until)
}
func (g gated) Release(ctx context.Context, l tokentable.Lease) error {
	g.at("release")
	return g.Store.Release(ctx, l)
}

// drive runs n cold containers, each a Platform of its own over store,
// one step at a time in the order pick chooses among the steps pending,
// and answers what each got.
func drive(t *testing.T, n int, store Store, wx WeChat, call func(context.Context, *Platform) (string, error), pick func(pending []int) int) []string {
	t.Helper()
	steps := make(chan step)
	got := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		g := gated{Store: store, worker: i, steps: steps}
		// The lease outlives the run: driving hundreds of containers step
		// by step against moto takes seconds of wall clock a round on a
		// loaded machine, and the property is one refresh, not the lease's
		// length (TestRefreshEndsBeforeItsLease holds that).
		p := New(Options{Store: g, WeChat: wx, Secrets: platformSecret, Owner: fmt.Sprintf("container-%d", i), LeaseTTL: 5 * time.Minute,
			Wait: func(context.Context, int) error { g.at("wait"); return nil }})
		go func() {
			defer wg.Done()
			got[i], errs[i] = call(apps.With(context.Background(), apps.App{ID: authorizer, Authorizer: true}), p)
			steps <- step{worker: i, op: "done"}
		}()
	}
	pending := map[int]step{}
	for live := n; live > 0; {
		for len(pending) < live {
			s := <-steps
			if s.op == "done" {
				live--
				continue
			}
			pending[s.worker] = s
		}
		if live == 0 {
			break
		}
		ids := make([]int, 0, len(pending))
		for id := range pending {
			ids = append(ids, id)
		}
		slicesSort(ids)
		w := pick(ids)
		s := pending[w]
		delete(pending, w)
		close(s.release)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("container %d: %v", i, err)
		}
	}
	return got
}

func slicesSort(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// schedules are orders the driver lets the containers' steps go in.
func schedules() map[string]func() func([]int) int {
	return map[string]func() func([]int) int{
		"RoundRobin": func() func([]int) int {
			last := -1
			return func(ids []int) int {
				for _, id := range ids {
					if id > last {
						last = id
						return id
					}
				}
				last = ids[0]
				return last
			}
		},
		"LastFirst": func() func([]int) int { return func(ids []int) int { return ids[len(ids)-1] } },
		"Random": func() func([]int) int {
			r := rand.New(rand.NewPCG(1, 2))
			return func(ids []int) int { return ids[r.IntN(len(ids))] }
		},
	}
}

// 200 cold containers asking at once for an authorizer's token, every
// store call a step the driver orders: exactly one api_component_token and
// one api_authorizer_token for all of them, whatever the order, and all
// get the same token; WeChat's rotated refresh token is kept, so the next
// refresh works too. In process (make local's store) and in DynamoDB
// (moto_server), with the same answers.
func TestOneRefreshForAColdCrowd(t *testing.T) {
	for sname, newStore := range stores() {
		for name, sched := range schedules() {
			t.Run(sname+"/"+name, func(t *testing.T) {
				n := 200
				if name != "RoundRobin" {
					n = 50 // the other orders, on fewer containers: the same property
				}
				store := newStore(t)
				sim, wx := setup(t, store)
				ctx := context.Background()
				// Both tokens gone (expired), the ticket and the refresh token kept.
				for _, k := range []string{componentKey(componentAppID), authorizerKey(componentAppID, authorizer)} {
					if err := store.Delete(ctx, k); err != nil {
						t.Fatal(err)
					}
				}
				before := sim.Stats()
				got := drive(t, n, store, wx, func(ctx context.Context, p *Platform) (string, error) { return p.Token(ctx) }, sched())
				after := sim.Stats()
				if c, a := after.ComponentToken-before.ComponentToken, after.AuthorizerToken-before.AuthorizerToken; c != 1 || a != 1 {
					t.Errorf("%d containers: %d api_component_token and %d api_authorizer_token calls, want 1 and 1", n, c, a)
				}
				for i, tok := range got {
					if tok == "" || tok != got[0] {
						t.Fatalf("container %d got another token than container 0", i)
					}
				}
				// The refresh token WeChat rotated was stored: the next refresh works.
				if err := store.Delete(ctx, authorizerKey(componentAppID, authorizer)); err != nil {
					t.Fatal(err)
				}
				p := New(Options{Store: store, WeChat: wx, Secrets: platformSecret})
				tok, err := p.Token(apps.With(ctx, apps.App{ID: authorizer, Authorizer: true}))
				if err != nil || tok == got[0] {
					t.Fatalf("refresh after rotation: got a new token %v, %v; want a new token", tok != got[0], err)
				}
			})
		}
	}
}

// countingStore counts the writes.
type countingStore struct {
	Store
	writes int
}

func (c *countingStore) Put(ctx context.Context, r tokentable.Record) error {
	c.writes++
	return c.Store.Put(ctx, r)
}

func (c *countingStore) Delete(ctx context.Context, k string) error {
	c.writes++
	return c.Store.Delete(ctx, k)
}

func (c *countingStore) Lease(ctx context.Context, k, o string, now, until time.Time) (bool, error) {
	c.writes++
	return c.Store.Lease(ctx, k, o, now, until)
}

func (c *countingStore) Swap(ctx context.Context, r tokentable.Record, old string) (bool, error) {
	c.writes++
	return c.Store.Swap(ctx, r, old)
}
