package reliability

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/stacktest"
	"github.com/wxmedia/wxmedia/internal/wechatsim"
	"github.com/wxmedia/wxmedia/pkg/bootstrap"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/quota"
	"github.com/wxmedia/wxmedia/pkg/tracing"
)

// burstClock is the burst's time: the simulator's, the service's (its
// caches and quota breaker) and the WeChat client's, whose waits move it
// forward instead of waiting. No test waits on a real timer.
type burstClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *burstClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *burstClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *burstClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// inGoroutine is t for a goroutine other than the test's: Fatalf fails
// the test and ends that goroutine only.
type inGoroutine struct{ testing.TB }

func (g inGoroutine) Fatalf(format string, args ...any) {
	g.TB.Helper()
	g.TB.Errorf(format, args...)
	runtime.Goexit()
}

// eachParallel runs f for 0..n-1 on workers goroutines.
func eachParallel(n, workers int, f func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// A burst of 1,000 S3 puts meets WeChat's limits: 100 uploads a minute
// (45011 beyond) and 700 a day (45009 beyond, until midnight Beijing
// time). Four containers take the events, as Lambda with a reserved
// concurrency of 4. The 45011s are waited out in process; past the daily
// quota each container's breaker stops calling WeChat after its first
// 45009, the events fail through Lambda's retries into the failed-events
// queue, and a redrive after the reset uploads them. Every object ends with
// exactly one result, a success, and WeChat accepted exactly one upload
// per object.
func TestBurstUnderWeChatLimits(t *testing.T) {
	const (
		objects    = 1000
		perMinute  = 100
		perDay     = 700
		containers = 4
	)
	began := time.Now()
	start := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC) // 09:00 in Beijing
	clock := &burstClock{now: start}
	st := stacktest.Start(t, stacktest.Options{LocalS3: true, Now: clock.Now, Sleep: clock.Sleep,
		Sim: wechatsim.Options{Now: clock.Now, Faults: wechatsim.Faults{PerMinute: perMinute, PerDay: perDay}},
		// A thousand uploads' spans and info lines would only cost time here.
		Env: map[string]string{tracing.EnvTracing: "PassThrough", bootstrap.EnvLogLevel: "error"}})
	tb := inGoroutine{t}

	keys := make([]string, objects)
	events := make([][]byte, objects)
	data := mediatest.Sample(media.JPEG, 1500)
	eachParallel(objects, 8, func(i int) {
		keys[i] = fmt.Sprintf("upload/image/burst/%04d.jpg", i)
		events[i] = st.S3Event(stacktest.Created{Key: keys[i], ETag: st.Put(tb, keys[i], data)})
	})
	put := time.Since(began)

	// The burst: each container takes one event at a time, as Lambda runs them.
	var mu sync.Mutex
	queued := map[int]bool{}
	work := make(chan int)
	var wg sync.WaitGroup
	for range containers {
		c := st.Container()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if st.InvokeAsyncIn(tb, c, "upload", events[i]) {
					mu.Lock()
					queued[i] = true
					mu.Unlock()
				}
			}
		}()
	}
	for i := range objects {
		work <- i
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	burst := time.Since(began) - put
	day1 := st.Sim.Stats()
	spentAt := clock.Now()

	// Past the daily quota, the events wait in the failed-events queue, their
	// results the configuration's failure, nothing final.
	if len(queued) != objects-perDay {
		t.Errorf("%d events in the failed-events queue, want the %d past the daily quota", len(queued), objects-perDay)
	}
	results := func(which func(i int) bool) map[int]map[string]any {
		out := make([]map[string]any, objects)
		eachParallel(objects, 8, func(i int) {
			if which(i) {
				out[i] = st.Result(tb, keys[i])
			}
		})
		m := map[int]map[string]any{}
		for i, r := range out {
			if r != nil {
				m[i] = r
			}
		}
		return m
	}
	for i, r := range results(func(i int) bool { return queued[i] }) {
		if r["errcode"] != float64(45009) || r["final"] == true {
			t.Errorf("%s, in the failed-events queue: result %v, want errcode 45009, not final", keys[i], r)
		}
	}
	// WeChat heard 45009 at most once per container: then each breaker
	// answered for it. Every 45011 was tried again in process.
	if day1.QuotaSpent < 1 || day1.QuotaSpent > containers {
		t.Errorf("WeChat answered 45009 %d times, want 1 to %d (once per container at most)", day1.QuotaSpent, containers)
	}
	if day1.MinuteLimited == 0 {
		t.Errorf("no call met the per-minute limit: the burst did not test it")
	}
	if want := int64(perDay) + day1.MinuteLimited + day1.QuotaSpent; day1.Upload != want {
		t.Errorf("%d upload calls reached WeChat on day 1, want %d: %d accepted, %d answered 45011, %d answered 45009",
			day1.Upload, want, perDay, day1.MinuteLimited, day1.QuotaSpent)
	}

	// The reset, then the operator's redrive.
	clock.Set(quota.NextReset(clock.Now(), quota.DefaultResetHour).Add(time.Minute))
	if n := st.Redrive(t, "upload"); n != objects-perDay {
		t.Errorf("redrove %d events, want %d", n, objects-perDay)
	}
	if n := st.Redrive(t, "upload"); n != 0 {
		t.Errorf("%d events still in the failed-events queue after the redrive", n)
	}
	end := st.Sim.Stats()
	ids := map[string]string{}
	final := results(func(int) bool { return true })
	if len(final) != objects {
		t.Fatalf("%d results, want %d", len(final), objects)
	}
	for i, r := range final {
		id, _ := r["media_id"].(string)
		if id == "" {
			t.Errorf("%s: result %v, want a media_id", keys[i], r)
			continue
		}
		if other, dup := ids[id]; dup {
			t.Errorf("%s and %s have the same media_id", keys[i], other)
		}
		ids[id] = keys[i]
		if _, ok := st.Sim.Media(id); !ok {
			t.Errorf("%s: WeChat has no media %s", keys[i], id)
		}
	}
	if got := len(st.Sim.MediaIDs()); got != objects {
		t.Errorf("WeChat accepted %d uploads, want exactly one per object (%d)", got, objects)
	}
	if end.QuotaSpent != day1.QuotaSpent {
		t.Errorf("%d more 45009s after the reset, want none", end.QuotaSpent-day1.QuotaSpent)
	}
	if want := int64(objects) + end.MinuteLimited + end.QuotaSpent; end.Upload != want {
		t.Errorf("%d upload calls reached WeChat, want %d: one accepted per object, %d answered 45011, %d answered 45009",
			end.Upload, want, end.MinuteLimited, end.QuotaSpent)
	}
	t.Logf("%d objects, %d containers, WeChat limits %d/minute and %d/day: upload calls %d (accepted %d, 45011 %d, 45009 %d); "+
		"day 1 spent at %s (%v of simulated time), redrive after the reset; real time: puts %v, burst %v, in all %v",
		objects, containers, perMinute, perDay, end.Upload, len(st.Sim.MediaIDs()), end.MinuteLimited, end.QuotaSpent,
		spentAt.Format(time.TimeOnly), spentAt.Sub(start).Round(time.Second), put.Round(time.Millisecond),
		burst.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}
