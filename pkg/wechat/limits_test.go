package wechat_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/wechatsim"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/quota"
	"github.com/wxmedia/wxmedia/pkg/token"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

// waits records the client's waits between tries. Each wait moves the
// simulator's clock by as much, if advance is set: time passes for WeChat
// as it would, and the test does not wait.
type waits struct {
	mu      sync.Mutex
	sim     *wechatsim.Server
	advance bool
	start   time.Time // the client's clock starts here
	total   time.Duration
	each    []time.Duration
}

func (w *waits) now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.start.Add(w.total)
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.total += d
	w.each = append(w.each, d)
	w.mu.Unlock()
	if w.advance {
		w.sim.Advance(d)
	}
	return ctx.Err()
}

// limitedSetup starts a simulator whose clock starts at start with WeChat's
// limits f, and a client on a clock that only its own waits move.
func limitedSetup(t *testing.T, start time.Time, f wechatsim.Faults, advance bool, opts wechat.Options) (*wechatsim.Server, *wechat.Client, *waits) {
	t.Helper()
	sim, base := wechatsim.NewTestServer(t, wechatsim.Options{AppID: appID, AppSecret: appSecret, Faults: f,
		Now: func() time.Time { return start }})
	w := &waits{sim: sim, advance: advance, start: time.Now()}
	tokens := token.New(token.Options{WeChat: wechat.New(wechat.Options{BaseURL: base}), Credentials: token.Static(appID, appSecret)})
	opts.BaseURL, opts.Tokens, opts.Now, opts.Sleep = base, tokens, w.now, w.sleep
	return sim, wechat.New(opts), w
}

func jpeg() wechat.Body {
	return wechat.BytesBody("media.jpg", "image/jpeg", mediatest.Sample(media.JPEG, 2000))
}

// checkBackoff checks each wait is in [d/2, d] for d doubling from first up to max.
func checkBackoff(t *testing.T, each []time.Duration, first, max time.Duration) {
	t.Helper()
	d := first
	for i, got := range each {
		if got < d/2 || got > d {
			t.Errorf("wait %d: %v, want within [%v, %v]", i+1, got, d/2, d)
		}
		d = min(2*d, max)
	}
}

func TestMinuteLimitRetriedIntoTheNextMinute(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC)
	sim, client, w := limitedSetup(t, start, wechatsim.Faults{PerMinute: 1}, true, wechat.Options{})
	ctx := context.Background()
	if _, err := client.Upload(ctx, "image", jpeg()); err != nil {
		t.Fatalf("first upload of the minute: %v", err)
	}
	up, err := client.Upload(ctx, "image", jpeg())
	if err != nil {
		t.Fatalf("second upload, past the minute's limit: %v, want it retried into the next minute", err)
	}
	if _, ok := sim.Media(up.MediaID); !ok {
		t.Errorf("WeChat has no media %s", up.MediaID)
	}
	st := sim.Stats()
	if st.MinuteLimited == 0 || st.MinuteLimited != int64(len(w.each)) || st.Upload != 2+st.MinuteLimited {
		t.Errorf("stats %+v after waits %v: want every 45011 followed by one wait and one more try", st, w.each)
	}
	if now := sim.Now(); now.Before(start.Truncate(time.Minute).Add(time.Minute)) {
		t.Errorf("succeeded at %s, within the limited minute", now)
	}
	checkBackoff(t, w.each, time.Second, 16*time.Second)
}

func TestMinuteLimitBoundedByTheDeadline(t *testing.T) {
	// WeChat's clock stays in the limited minute: every try is refused.
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sim, client, w := limitedSetup(t, start, wechatsim.Faults{PerMinute: 1}, false, wechat.Options{})
	client.Upload(context.Background(), "image", jpeg())
	ctx, cancel := context.WithDeadline(context.Background(), w.now().Add(12*time.Second))
	defer cancel()
	began := time.Now()
	_, err := client.Upload(ctx, "image", jpeg())
	if fe := failure.As(err); fe == nil || fe.Code != failure.CodeMinuteQuota || fe.Kind != failure.WeChat {
		t.Fatalf("error %v, want WeChat's 45011 as WeChat's failure (it passes: S3 events are retried)", err)
	}
	dl, _ := ctx.Deadline()
	if end := w.now(); end.After(dl.Add(-time.Second)) {
		t.Errorf("waited until %v before the deadline; want no try started that could not finish a second before it",
			dl.Sub(end))
	}
	if len(w.each) == 0 || len(w.each) >= 7 {
		t.Errorf("waits %v: want retries, stopped by the deadline before the 8 tries", w.each)
	}
	if st := sim.Stats(); st.MinuteLimited != int64(len(w.each))+1 {
		t.Errorf("stats %+v, want one 45011 per try (%d)", st, len(w.each)+1)
	}
	checkBackoff(t, w.each, time.Second, 16*time.Second)
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("took %v of real time; the waits are the test clock's", took)
	}
}

func TestMinuteLimitTriesAtMostRateLimitAttempts(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sim, client, w := limitedSetup(t, start, wechatsim.Faults{PerMinute: 1}, false,
		wechat.Options{RateLimitAttempts: 4, RateLimitBackoff: 3 * time.Second, RateLimitMaxDelay: 5 * time.Second})
	client.Upload(context.Background(), "image", jpeg())
	_, err := client.Upload(context.Background(), "image", jpeg()) // no deadline
	if failure.CodeOf(err) != failure.CodeMinuteQuota {
		t.Fatalf("error %v, want 45011", err)
	}
	if st := sim.Stats(); st.MinuteLimited != 4 || len(w.each) != 3 {
		t.Errorf("45011 answers %d, waits %v; want 4 tries and 3 waits", st.MinuteLimited, w.each)
	}
	checkBackoff(t, w.each, 3*time.Second, 5*time.Second)
}

func TestDailyQuotaBreaker(t *testing.T) {
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC) // 18:00 in Beijing
	var sim *wechatsim.Server
	breaker := quota.New(quota.DefaultResetHour, func() time.Time { return sim.Now() })
	sim, client, _ := limitedSetup(t, start, wechatsim.Faults{PerDay: 1}, false, wechat.Options{Quota: breaker})
	ctx := context.Background()
	up, err := client.Upload(ctx, "image", jpeg())
	if err != nil {
		t.Fatalf("first upload of the day: %v", err)
	}
	_, fromWeChat := client.Upload(ctx, "image", jpeg())
	if st := sim.Stats(); st.Upload != 2 || st.QuotaSpent != 1 {
		t.Fatalf("stats %+v, want WeChat's 45009 on the second upload", st)
	}
	var a *wechat.Answer
	if !errors.As(fromWeChat, &a) || a.Code != failure.CodeDailyQuota {
		t.Errorf("error %v, want WeChat's own answer as its cause", fromWeChat)
	}
	for i := range 5 {
		_, fromBreaker := client.Upload(ctx, "image", jpeg())
		if !errors.Is(fromBreaker, wechat.ErrQuotaSpent) {
			t.Fatalf("upload %d after the 45009: %v, want the breaker's answer", i+3, fromBreaker)
		}
		we, br := failure.As(fromWeChat), failure.As(fromBreaker)
		if we.Kind != failure.Config || br.Kind != we.Kind || br.Code != we.Code || br.Message != we.Message {
			t.Errorf("breaker answered %v %d %q; WeChat's was %v %d %q: want the same configuration failure",
				br.Kind, br.Code, br.Message, we.Kind, we.Code, we.Message)
		}
	}
	if want := "not called again before 2026-03-01T16:00:00Z (the daily reset)"; !strings.Contains(failure.MessageOf(fromWeChat), want) {
		t.Errorf("message %q, want it to say %q", failure.MessageOf(fromWeChat), want)
	}
	if st := sim.Stats(); st.Upload != 2 {
		t.Errorf("upload calls %d, want none after the 45009 (2)", st.Upload)
	}
	// Another API's quota is its own.
	if m, err := client.Get(ctx, up.MediaID); err != nil {
		t.Errorf("get after upload's 45009: %v, want it called", err)
	} else {
		m.Body.Close()
	}
	// WeChat's day ends at midnight Beijing time: both the simulator's
	// quota and the breaker reset.
	sim.Advance(6*time.Hour - time.Second)
	if _, err := client.Upload(ctx, "image", jpeg()); !errors.Is(err, wechat.ErrQuotaSpent) {
		t.Errorf("a second before the reset: %v, want the breaker's answer", err)
	}
	sim.Advance(time.Second)
	if _, err := client.Upload(ctx, "image", jpeg()); err != nil {
		t.Errorf("after the reset: %v, want an upload", err)
	}
	if st := sim.Stats(); st.QuotaSpent != 1 || len(sim.MediaIDs()) != 2 {
		t.Errorf("stats %+v, %d media; want one 45009 and 2 media stored", st, len(sim.MediaIDs()))
	}
}
