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
// call the first of these applies, in this order: IPBlocked, Slow, Drop,
// ServerError, Busy, Quota, MalformedJSON. IPBlocked also applies to the
// token endpoints; WrongContentType counts get calls only.
//
// In JSON the fields are snake_case and Slow is a Go duration string:
//
//	{"ip_blocked":false,"slow":"2s","drop":0,"server_error":0,"busy":0,
//	 "quota":0,"malformed_json":0,"wrong_content_type":0}
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
	if slow < 0 || j.Drop < 0 || j.ServerError < 0 || j.Busy < 0 || j.Quota < 0 || j.MalformedJSON < 0 || j.WrongContentType < 0 {
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
