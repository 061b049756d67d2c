package wechatsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Faults makes the simulator misbehave. The counters apply to the next N
// media calls (upload, get, uploadimg) and are decremented as used; on one
// call the first of these applies, in this order: IPBlocked, Slow, PerDay,
// PerMinute, Drop, ServerError, Busy, Quota, MalformedJSON. IPBlocked also
// applies to the token endpoints; WrongContentType counts get calls only.
// PerDay and PerMinute are WeChat's call limits, in force while set.
//
// In JSON the fields are snake_case and Slow is a Go duration string:
//
//	{"ip_blocked":false,"slow":"2s","drop":0,"server_error":0,"busy":0,
//	 "quota":0,"malformed_json":0,"wrong_content_type":0,
//	 "per_minute":0,"per_day":0}
type Faults struct {
	// IPBlocked answers every call, tokens too, with 40164
	// "invalid ip <caller>, not in whitelist", while set.
	IPBlocked bool
	// Slow delays every media call by this long before answering, while set;
	// the wait ends early when the request's context is cancelled.
	Slow time.Duration
	// Drop: upload and uploadimg read the whole request body and close the
	// connection without an answer (the answer is lost; the file is not
	// kept); get writes part of its answer (headers with the full
	// Content-Length, half the body), then closes the connection. This needs a connection that can
	// be hijacked; elsewhere (HTTP/2, httptest.ResponseRecorder) the handler
	// panics with http.ErrAbortHandler, as net/http expects.
	Drop int
	// ServerError answers HTTP 503 with a small HTML body.
	ServerError int
	// Busy answers {"errcode":-1,"errmsg":"system error"}.
	Busy int
	// Quota answers 45009 "reach max api daily quota limit".
	Quota int
	// MalformedJSON answers HTTP 200 with a truncated JSON body.
	MalformedJSON int
	// WrongContentType labels the error JSON of the next N get calls
	// "application/json; encoding=utf-8" instead of WeChat's "text/plain":
	// a client must tell an error from a file by the body.
	WrongContentType int

	// PerMinute is WeChat's frequency limit: each media API (upload, get
	// and uploadimg, counted apart) takes this many calls per minute of
	// the simulator's clock, and answers the rest 45011 "api minute-quota
	// reach limit  mustslower  retry next minute" until the next minute.
	// 0: no limit.
	PerMinute int
	// PerDay is WeChat's daily quota: each media API takes this many calls
	// a day and answers the rest 45009 "reach max api daily quota limit"
	// until the simulator's clock passes the daily reset, midnight Beijing
	// time (16:00 UTC). 0: no quota.
	PerDay int
}

type faultsJSON struct {
	IPBlocked        bool   `json:"ip_blocked"`
	Slow             string `json:"slow"`
	Drop             int    `json:"drop"`
	ServerError      int    `json:"server_error"`
	Busy             int    `json:"busy"`
	Quota            int    `json:"quota"`
	MalformedJSON    int    `json:"malformed_json"`
	WrongContentType int    `json:"wrong_content_type"`
	PerMinute        int    `json:"per_minute"`
	PerDay           int    `json:"per_day"`
}

// MarshalJSON encodes f with snake_case names and Slow as a duration string.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{
		IPBlocked:        f.IPBlocked,
		Slow:             f.Slow.String(),
		Drop:             f.Drop,
		ServerError:      f.ServerError,
		Busy:             f.Busy,
		Quota:            f.Quota,
		MalformedJSON:    f.MalformedJSON,
		WrongContentType: f.WrongContentType,
		PerMinute:        f.PerMinute,
		PerDay:           f.PerDay,
	})
}

// UnmarshalJSON decodes the form MarshalJSON writes; absent fields are zero,
// unknown fields and negative values are errors.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var j faultsJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("decode faults: %w", err)
	}
	var slow time.Duration
	if j.Slow != "" {
		d, err := time.ParseDuration(j.Slow)
		if err != nil {
			return fmt.Errorf("decode faults: slow: %w", err)
		}
		slow = d
	}
	if slow < 0 || j.Drop < 0 || j.ServerError < 0 || j.Busy < 0 || j.Quota < 0 || j.MalformedJSON < 0 || j.WrongContentType < 0 ||
		j.PerMinute < 0 || j.PerDay < 0 {
		return fmt.Errorf("decode faults: negative value")
	}
	*f = Faults{
		IPBlocked:        j.IPBlocked,
		Slow:             slow,
		Drop:             j.Drop,
		ServerError:      j.ServerError,
		Busy:             j.Busy,
		Quota:            j.Quota,
		MalformedJSON:    j.MalformedJSON,
		WrongContentType: j.WrongContentType,
		PerMinute:        j.PerMinute,
		PerDay:           j.PerDay,
	}
	return nil
}

// fault is the counted fault chosen for one media call.
type fault int

const (
	faultNone fault = iota
	faultDrop
	faultServerError
	faultBusy
	faultQuota
	faultMalformed
)

// takeFault consumes the first pending counted fault.
func (s *Server) takeFault() fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &s.faults
	for _, c := range []struct {
		n    *int
		kind fault
	}{
		{&f.Drop, faultDrop},
		{&f.ServerError, faultServerError},
		{&f.Busy, faultBusy},
		{&f.Quota, faultQuota},
		{&f.MalformedJSON, faultMalformed},
	} {
		if *c.n > 0 {
			*c.n--
			return c.kind
		}
	}
	return faultNone
}

// beijing is the time zone of WeChat's days.
var beijing = time.FixedZone("CST", 8*60*60)

// usageKey is one app's media API: WeChat counts each account's calls.
type usageKey struct {
	app string
	ep  endpoint
}

// usage is one media API's calls in the current minute and day.
type usage struct {
	minute   time.Time
	inMinute int
	day      string
	inDay    int
}

// limit applies WeChat's limits (Faults.PerDay, Faults.PerMinute) to a
// call of ep with a valid token: the answer if it is refused, else it
// counts the call.
func (s *Server) limit(app string, ep endpoint) (apiError, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	minute, day := now.Truncate(time.Minute), now.In(beijing).Format(time.DateOnly)
	key := usageKey{app, ep}
	u := s.usage[key]
	if u == nil {
		u = &usage{}
		s.usage[key] = u
	}
	if !u.minute.Equal(minute) {
		u.minute, u.inMinute = minute, 0
	}
	if u.day != day {
		u.day, u.inDay = day, 0
	}
	switch {
	case s.faults.PerDay > 0 && u.inDay >= s.faults.PerDay:
		s.stats.QuotaSpent++
		return errDailyQuota, true
	case s.faults.PerMinute > 0 && u.inMinute >= s.faults.PerMinute:
		s.stats.MinuteLimited++
		return errMinuteLimit, true
	}
	u.inMinute++
	u.inDay++
	return apiError{}, false
}

// sleep waits d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
