package quota

import (
	"sync"
	"time"
)

// DefaultResetHour is the UTC hour at which WeChat's daily quotas reset:
// midnight Beijing time (UTC+8).
const DefaultResetHour = 16

// Grace is how long a 45009 answered just after the reset holds the
// breaker: WeChat's count may reset a little after the hour this
// deployment expects, and a full day's hold would then be wrong. A second
// 45009 after the grace holds it to the next reset.
const Grace = 10 * time.Minute

// Breaker remembers, per quota, until when WeChat's daily quota is spent.
// A quota is named by whoever calls (the WeChat client names an API, or an
// app and an API); each is held apart. It is safe for concurrent use.
type Breaker struct {
	resetHour int
	now       func() time.Time

	mu    sync.Mutex
	until map[string]time.Time
}

// New returns a Breaker for quotas that reset at resetHour (0-23, UTC;
// DefaultResetHour for WeChat's), on the clock now (default time.Now).
func New(resetHour int, now func() time.Time) *Breaker {
	if now == nil {
		now = time.Now
	}
	return &Breaker{resetHour: resetHour, now: now, until: map[string]time.Time{}}
}

// Spent reports whether api's daily quota is known to be spent, and until
// when.
func (b *Breaker) Spent(api string) (until time.Time, spent bool) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.until[api]
	if ok && !now.Before(u) {
		delete(b.until, api) // the reset passed
		return time.Time{}, false
	}
	return u, ok
}

// Exhausted records that WeChat answered 45009 for api, and returns until
// when the breaker answers for it: the next reset, or Grace from now if
// the last reset is less than Grace ago.
func (b *Breaker) Exhausted(api string) (until time.Time) {
	now := b.now()
	until = NextReset(now, b.resetHour)
	if last := until.AddDate(0, 0, -1); now.Sub(last) < Grace {
		until = now.Add(Grace)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if u, ok := b.until[api]; ok && u.After(until) {
		return u
	}
	b.until[api] = until
	return until
}

// NextReset is the first reset after t: the next hour:00 UTC.
func NextReset(t time.Time, hour int) time.Time {
	t = t.UTC()
	r := time.Date(t.Year(), t.Month(), t.Day(), hour, 0, 0, 0, time.UTC)
	if !r.After(t) {
		r = r.AddDate(0, 0, 1)
	}
	return r
}
