package quota_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/pkg/quota"
	"github.com/wxmedia/wxmedia/pkg/wechat"
)

var _ wechat.Quota = (*quota.Breaker)(nil)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestNextReset(t *testing.T) {
	tests := []struct {
		name string
		now  string
		hour int
		want string
	}{
		{"BeforeTheHour", "2026-03-01T10:00:00Z", 16, "2026-03-01T16:00:00Z"},
		{"AtTheHour", "2026-03-01T16:00:00Z", 16, "2026-03-02T16:00:00Z"},
		{"AfterTheHour", "2026-03-01T16:00:01Z", 16, "2026-03-02T16:00:00Z"},
		{"AcrossAMonth", "2026-02-28T17:00:00Z", 16, "2026-03-01T16:00:00Z"},
		{"MidnightUTC", "2026-03-01T23:59:59Z", 0, "2026-03-02T00:00:00Z"},
		{"OtherZoneIn", "2026-03-02T01:00:00+08:00", 16, "2026-03-02T16:00:00Z"}, // 17:00 UTC the day before
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := quota.NextReset(at(tt.now), tt.hour)
			if !got.Equal(at(tt.want)) {
				t.Errorf("NextReset(%s, %d) = %s, want %s", tt.now, tt.hour, got, tt.want)
			}
		})
	}
}

// clock is a settable clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestBreakerHoldsUntilTheReset(t *testing.T) {
	c := &clock{at("2026-03-01T10:00:00Z")} // 18:00 in Beijing
	b := quota.New(quota.DefaultResetHour, c.now)
	if _, spent := b.Spent("media/upload"); spent {
		t.Fatal("a new breaker says spent")
	}
	until := b.Exhausted("media/upload")
	if want := at("2026-03-01T16:00:00Z"); !until.Equal(want) {
		t.Errorf("Exhausted = %s, want the reset %s (midnight Beijing time)", until, want)
	}
	for _, step := range []struct {
		at    string
		api   string
		spent bool
	}{
		{"2026-03-01T10:00:00Z", "media/upload", true},
		{"2026-03-01T10:00:00Z", "media/get", false}, // WeChat counts each API apart
		{"2026-03-01T15:59:59Z", "media/upload", true},
		{"2026-03-01T16:00:00Z", "media/upload", false},
		{"2026-03-01T16:00:01Z", "media/upload", false},
	} {
		c.t = at(step.at)
		if u, spent := b.Spent(step.api); spent != step.spent || (spent && !u.Equal(until)) {
			t.Errorf("at %s, Spent(%s) = %s, %v; want %v", step.at, step.api, u, spent, step.spent)
		}
	}
}

func TestBreakerGraceJustAfterTheReset(t *testing.T) {
	c := &clock{at("2026-03-01T16:03:00Z")}
	b := quota.New(quota.DefaultResetHour, c.now)
	if until, want := b.Exhausted("media/upload"), c.t.Add(quota.Grace); !until.Equal(want) {
		t.Errorf("a 45009 3 minutes after the reset holds until %s, want %s (WeChat may reset late)", until, want)
	}
	c.t = c.t.Add(quota.Grace)
	if _, spent := b.Spent("media/upload"); spent {
		t.Error("still spent after the grace")
	}
	if until, want := b.Exhausted("media/upload"), at("2026-03-02T16:00:00Z"); !until.Equal(want) {
		t.Errorf("a second 45009 after the grace holds until %s, want the next reset %s", until, want)
	}
}

func TestBreakerKeepsTheLaterReset(t *testing.T) {
	c := &clock{at("2026-03-01T10:00:00Z")}
	b := quota.New(3, c.now)
	first := b.Exhausted("media/upload") // 2026-03-02T03:00
	c.t = at("2026-03-01T02:00:00Z")     // a clock that stepped back
	if got := b.Exhausted("media/upload"); !got.Equal(first) {
		t.Errorf("Exhausted = %s, want the later %s kept", got, first)
	}
}

func ExampleBreaker() {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	b := quota.New(quota.DefaultResetHour, func() time.Time { return now })
	// The client tells the breaker when WeChat answers 45009 ...
	b.Exhausted("media/upload")
	// ... and asks it before each call.
	until, spent := b.Spent("media/upload")
	fmt.Println(spent, until.Format(time.RFC3339))
	_, spent = b.Spent("media/get")
	fmt.Println(spent)
	// Output:
	// true 2026-03-01T16:00:00Z
	// false
}
