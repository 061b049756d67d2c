package wechatsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/internal/wechatsim"
)

// outcome is what a caller sees of one media call.
type outcome struct {
	status  int
	errcode int
	text    string // errmsg, or the Content-Type of a non-JSON answer
	failed  bool   // the connection failed
}

func (o outcome) String() string {
	if o.failed {
		return "connection failed"
	}
	return strings.Join([]string{http.StatusText(o.status), strconv.Itoa(o.errcode), o.text}, " / ")
}

// uploadOutcome uploads a small valid image and reports what came back.
func uploadOutcome(t *testing.T, ctx context.Context, base, tok string) outcome {
	t.Helper()
	body, ct := form(t, "media", "a.jpg", bytes.Repeat([]byte{1}, 64<<10))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/cgi-bin/media/upload?type=image&access_token="+tok, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return outcome{failed: true}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return outcome{failed: true}
	}
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		return outcome{status: resp.StatusCode, errcode: -999, text: resp.Header.Get("Content-Type")}
	}
	if a.Errcode == 0 && a.MediaID == "" {
		t.Fatalf("upload answered %s without media_id", b)
	}
	return outcome{status: resp.StatusCode, errcode: a.Errcode, text: a.Errmsg}
}

func TestFaults(t *testing.T) {
	ok := outcome{status: 200}
	busy := outcome{status: 200, errcode: -1, text: "system error"}
	quota := outcome{status: 200, errcode: 45009, text: "reach max api daily quota limit"}
	unavailable := outcome{status: 503, errcode: -999, text: "text/html"}
	malformed := outcome{status: 200, errcode: -999, text: "application/json; encoding=utf-8"}
	dropped := outcome{failed: true}
	tests := []struct {
		name   string
		faults wechatsim.Faults
		want   []outcome // successive upload calls
	}{
		{"None", wechatsim.Faults{}, []outcome{ok, ok}},
		{"Busy", wechatsim.Faults{Busy: 2}, []outcome{busy, busy, ok}},
		{"ServerError", wechatsim.Faults{ServerError: 1}, []outcome{unavailable, ok}},
		{"Quota", wechatsim.Faults{Quota: 1}, []outcome{quota, ok}},
		{"MalformedJSON", wechatsim.Faults{MalformedJSON: 1}, []outcome{malformed, ok}},
		{"Drop", wechatsim.Faults{Drop: 1}, []outcome{dropped, ok}},
		{"Order", wechatsim.Faults{Drop: 1, ServerError: 1, Busy: 1, Quota: 1, MalformedJSON: 1},
			[]outcome{dropped, unavailable, busy, quota, malformed, ok}},
		{"IPBlockedWinsOverCounters", wechatsim.Faults{IPBlocked: true, Busy: 1},
			[]outcome{{status: 200, errcode: 40164, text: "invalid ip 127.0.0.1, not in whitelist"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, base := setup(t)
			tok := token(t, base)
			sim.SetFaults(tt.faults)
			for i, want := range tt.want {
				if got := uploadOutcome(t, context.Background(), base, tok); got != want {
					t.Errorf("call %d: got %v, want %v", i+1, got, want)
				}
			}
			if got := sim.Stats().Upload; got != int64(len(tt.want)) {
				t.Errorf("stats upload: got %d, want %d", got, len(tt.want))
			}
		})
	}
}

func TestFaultIPBlocked(t *testing.T) {
	sim, base := setup(t)
	tok := token(t, base)
	sim.SetFaults(wechatsim.Faults{IPBlocked: true})
	img, ct := form(t, "media", "a.jpg", []byte("x"))
	tests := []struct {
		name string
		call func() []byte
	}{
		{"Token", func() []byte {
			_, b := get(t, base+"/cgi-bin/token?grant_type=client_credential&appid="+testAppID+"&secret="+testSecret)
			return b
		}},
		{"StableToken", func() []byte {
			_, b := post(t, base+"/cgi-bin/stable_token", "application/json", []byte(stableBody(false)))
			return b
		}},
		{"Upload", func() []byte {
			_, b := post(t, base+"/cgi-bin/media/upload?type=image&access_token="+tok, ct, img)
			return b
		}},
		{"Get", func() []byte { _, b := get(t, base+"/cgi-bin/media/get?media_id=x&access_token="+tok); return b }},
		{"UploadImg", func() []byte {
			_, b := post(t, base+"/cgi-bin/media/uploadimg?access_token="+tok, ct, img)
			return b
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := decode(t, tt.call())
			if a.Errcode != 40164 || !strings.Contains(a.Errmsg, "not in whitelist") {
				t.Errorf("got %d %q, want 40164 \"invalid ip …, not in whitelist\"", a.Errcode, a.Errmsg)
			}
		})
	}
	sim.SetFaults(wechatsim.Faults{})
	if a := upload(t, base, "/cgi-bin/media/upload?type=image&access_token="+tok, "a.jpg", []byte("x")); a.Errcode != 0 {
		t.Errorf("after clearing: got errcode %d, want 0", a.Errcode)
	}
}

func TestFaultSlow(t *testing.T) {
	sim, base := setup(t)
	tok := token(t, base)

	t.Run("Delays", func(t *testing.T) {
		sim.SetFaults(wechatsim.Faults{Slow: 100 * time.Millisecond})
		start := time.Now()
		if got := uploadOutcome(t, context.Background(), base, tok); got != (outcome{status: 200}) {
			t.Fatalf("got %v, want OK", got)
		}
		if d := time.Since(start); d < 100*time.Millisecond {
			t.Errorf("took %v, want >= 100ms", d)
		}
	})
	t.Run("HonorsCancellation", func(t *testing.T) {
		sim.SetFaults(wechatsim.Faults{Slow: time.Minute})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		if got := uploadOutcome(t, ctx, base, tok); !got.failed {
			t.Errorf("got %v, want the call to fail on its deadline", got)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %v, want about 50ms", d)
		}
	})
	sim.SetFaults(wechatsim.Faults{})
}

func TestFaultDropGet(t *testing.T) {
	sim, base := setup(t)
	tok := token(t, base)
	data := bytes.Repeat([]byte("0123456789"), 10000)
	id := upload(t, base, "/cgi-bin/media/upload?type=voice&access_token="+tok, "a.mp3", data).MediaID
	sim.SetFaults(wechatsim.Faults{Drop: 1})

	resp, err := http.Get(base + "/cgi-bin/media/get?access_token=" + tok + "&media_id=" + id)
	if err != nil {
		t.Fatalf("get: %v, want headers then a cut body", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) || resp.ContentLength != int64(len(data)) || len(body) >= len(data) {
		t.Errorf("got %d of %d bytes (Content-Length %d), error %v; want fewer bytes and %v", len(body), len(data), resp.ContentLength, err, io.ErrUnexpectedEOF)
	}
	if _, body := get(t, base+"/cgi-bin/media/get?access_token="+tok+"&media_id="+id); !bytes.Equal(body, data) {
		t.Errorf("next get: got %d bytes, want the %d uploaded", len(body), len(data))
	}
}

func TestFaultWrongContentType(t *testing.T) {
	sim, base := setup(t)
	tok := token(t, base)
	sim.SetFaults(wechatsim.Faults{WrongContentType: 1})
	for _, want := range []string{"application/json; encoding=utf-8", "text/plain"} {
		resp, body := get(t, base+"/cgi-bin/media/get?access_token="+tok+"&media_id=unknown")
		if got := resp.Header.Get("Content-Type"); got != want {
			t.Errorf("Content-Type: got %q, want %q", got, want)
		}
		if a := decode(t, body); a.Errcode != 40007 {
			t.Errorf("errcode: got %d, want 40007", a.Errcode)
		}
	}
}

func TestFaultsJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    wechatsim.Faults
		wantErr bool
	}{
		{"Empty", `{}`, wechatsim.Faults{}, false},
		{"All", `{"ip_blocked":true,"slow":"1.5s","drop":1,"server_error":2,"busy":3,"quota":4,"malformed_json":5,"wrong_content_type":6,"per_minute":7,"per_day":8}`,
			wechatsim.Faults{IPBlocked: true, Slow: 1500 * time.Millisecond, Drop: 1, ServerError: 2, Busy: 3, Quota: 4, MalformedJSON: 5, WrongContentType: 6, PerMinute: 7, PerDay: 8}, false},
		{"ErrNegativeLimit", `{"per_day":-1}`, wechatsim.Faults{}, true},
		{"ErrUnknownField", `{"slow_ms":100}`, wechatsim.Faults{}, true},
		{"ErrBadDuration", `{"slow":"soon"}`, wechatsim.Faults{}, true},
		{"ErrNegative", `{"busy":-1}`, wechatsim.Faults{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got wechatsim.Faults
			err := json.Unmarshal([]byte(tt.in), &got)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error: got %v, want error=%v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if tt.wantErr {
				return
			}
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			var back wechatsim.Faults
			if err := json.Unmarshal(b, &back); err != nil || back != got {
				t.Errorf("round trip of %s: got %+v (%v), want %+v", b, back, err, got)
			}
		})
	}
}
