package wechatsim_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/internal/wechatsim"
)

// limited starts a simulator whose clock starts at start, with WeChat's
// limits from Options.
func limited(t *testing.T, start time.Time, f wechatsim.Faults) (*wechatsim.Server, string) {
	t.Helper()
	return wechatsim.NewTestServer(t, wechatsim.Options{AppID: testAppID, AppSecret: testSecret,
		Now: func() time.Time { return start }, Faults: f})
}

func TestPerMinuteLimit(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC) // mid-minute
	sim, base := limited(t, start, wechatsim.Faults{PerMinute: 2})
	tok := token(t, base)
	up := func() answer {
		return upload(t, base, "/cgi-bin/media/upload?type=image&access_token="+tok, "a.jpg", []byte("x"))
	}
	want := func(step string, a answer, code int) {
		t.Helper()
		if a.Errcode != code {
			t.Errorf("%s: errcode %d %q, want %d", step, a.Errcode, a.Errmsg, code)
		}
	}
	want("1st", up(), 0)
	want("2nd", up(), 0)
	a := up()
	want("3rd in the minute", a, 45011)
	if a.Errmsg != "api minute-quota reach limit  mustslower  retry next minute" {
		t.Errorf("errmsg %q, want WeChat's", a.Errmsg)
	}
	// Each API is counted apart.
	want("uploadimg in the same minute", upload(t, base, "/cgi-bin/media/uploadimg?access_token="+tok, "a.png", []byte("x")), 0)
	sim.Advance(29 * time.Second) // 12:00:59
	want("the same minute, later", up(), 45011)
	sim.Advance(time.Second) // 12:01:00
	want("the next minute", up(), 0)
	if st := sim.Stats(); st.MinuteLimited != 2 || st.Upload != 5 {
		t.Errorf("stats %+v, want 5 upload calls, 2 of them answered 45011", st)
	}
}

func TestDailyQuotaResetsAtMidnightBeijing(t *testing.T) {
	start := time.Date(2026, 3, 1, 15, 0, 0, 0, time.UTC) // 23:00 in Beijing
	sim, base := limited(t, start, wechatsim.Faults{PerDay: 2})
	tok := token(t, base)
	up := func() int {
		return upload(t, base, "/cgi-bin/media/upload?type=image&access_token="+tok, "a.jpg", []byte("x")).Errcode
	}
	for i, want := range []int{0, 0, 45009} {
		if got := up(); got != want {
			t.Errorf("call %d: errcode %d, want %d", i+1, got, want)
		}
	}
	sim.Advance(59*time.Minute + 59*time.Second) // 15:59:59 UTC
	if got := up(); got != 45009 {
		t.Errorf("a second before the reset: errcode %d, want 45009", got)
	}
	sim.Advance(time.Second) // 16:00 UTC, midnight in Beijing
	if got := up(); got != 0 {
		t.Errorf("after the reset: errcode %d, want 0", got)
	}
	if st := sim.Stats(); st.QuotaSpent != 2 {
		t.Errorf("quota_spent %d, want 2", st.QuotaSpent)
	}
}

// The limits switch like the other faults, and the day's calls made before
// count against a quota set later.
func TestLimitsThroughTheControlEndpoint(t *testing.T) {
	sim, base := setup(t)
	tok := token(t, base)
	up := func() int {
		return upload(t, base, "/cgi-bin/media/upload?type=image&access_token="+tok, "a.jpg", []byte("x")).Errcode
	}
	up()
	up()
	if resp, body := post(t, base+"/_sim/faults", "application/json", []byte(`{"per_day":2}`)); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /_sim/faults: %d %s", resp.StatusCode, body)
	}
	if got := up(); got != 45009 {
		t.Errorf("third call of the day with per_day 2: errcode %d, want 45009", got)
	}
	if got := sim.Faults(); got.PerDay != 2 {
		t.Errorf("Faults() = %+v, want per_day 2 still in force", got)
	}
	post(t, base+"/_sim/faults", "application/json", []byte(`{}`))
	if got := up(); got != 0 {
		t.Errorf("limits off: errcode %d, want 0", got)
	}
	_, body := get(t, base+"/_sim/stats")
	if want := `{"token":1,"stable_token":0,"upload":4,"get":0,"uploadimg":0,"quota_spent":1}`; string(body) != want {
		t.Errorf("GET /_sim/stats: %s, want %s", body, want)
	}
}
