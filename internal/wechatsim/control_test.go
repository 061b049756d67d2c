package wechatsim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wxmedia/wxmedia/internal/wechatsim"
)

func TestStats(t *testing.T) {
	sim, base := setup(t)
	tok := token(t, base)
	get(t, base+"/cgi-bin/token") // failed calls count too
	stableToken(t, base, stableBody(false))
	id := upload(t, base, "/cgi-bin/media/upload?type=image&access_token="+tok, "a.jpg", []byte("x")).MediaID
	upload(t, base, "/cgi-bin/media/upload?type=image&access_token="+tok, "a.txt", []byte("x"))
	get(t, base+"/cgi-bin/media/get?access_token="+tok+"&media_id="+id)
	upload(t, base, "/cgi-bin/media/uploadimg?access_token="+tok, "a.png", []byte("x"))
	sim.SetFaults(wechatsim.Faults{Busy: 1})
	get(t, base+"/cgi-bin/media/get?access_token="+tok+"&media_id="+id)

	want := wechatsim.Stats{Token: 2, StableToken: 1, Upload: 2, Get: 2, UploadImg: 1}
	if got := sim.Stats(); got != want {
		t.Errorf("Stats(): got %+v, want %+v", got, want)
	}
	resp, body := get(t, base+"/_sim/stats")
	wantJSON := `{"token":2,"stable_token":1,"upload":2,"get":2,"uploadimg":1}`
	if resp.StatusCode != http.StatusOK || string(body) != wantJSON {
		t.Errorf("GET /_sim/stats: got %d %s, want 200 %s", resp.StatusCode, body, wantJSON)
	}
}

func TestControlEndpoints(t *testing.T) {
	sim, base := setup(t)
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantBody                 string // substring
	}{
		{"GetFaults", "GET", "/_sim/faults", "", 200, `"busy":0`},
		{"SetFaults", "POST", "/_sim/faults", `{"busy":2,"slow":"10ms"}`, 200, `"slow":"10ms","drop":0,"server_error":0,"busy":2`},
		{"GetFaultsAfterSet", "GET", "/_sim/faults", "", 200, `"busy":2`},
		{"ErrFaultsBadJSON", "POST", "/_sim/faults", `{"busy":`, 400, `"errcode":-1`},
		{"ErrFaultsUnknownField", "POST", "/_sim/faults", `{"bussy":1}`, 400, `unknown field`},
		{"ClearFaults", "POST", "/_sim/faults", `{}`, 200, `"busy":0`},
		{"GetClock", "GET", "/_sim/clock", "", 200, `{"now":"2026-03-01T12:00:00Z","offset":"0s"}`},
		{"AdvanceClock", "POST", "/_sim/clock", `{"advance":"72h"}`, 200, `{"now":"2026-03-04T12:00:00Z","offset":"72h0m0s"}`},
		{"ErrClockNegative", "POST", "/_sim/clock", `{"advance":"-1h"}`, 400, `non-negative`},
		{"ErrClockBad", "POST", "/_sim/clock", `{"advance":"soon"}`, 400, `"errcode":-1`},
		{"ExpireTokens", "POST", "/_sim/expire-tokens", "", 200, `{"expired":`},
		{"ErrMethod", "DELETE", "/_sim/stats", "", 405, `method not allowed`},
		{"ErrUnknownSim", "GET", "/_sim/nothing", "", 404, `{"errcode":-1,"errmsg":"not found"}`},
		{"ErrUnknownPath", "GET", "/cgi-bin/nothing", "", 404, `{"errcode":-1,"errmsg":"not found"}`},
		{"ErrUnknownVideo", "GET", "/_sim/video/nope", "", 404, `not found`},
		{"ErrUnknownImg", "GET", "/_sim/img/nope.jpg", "", 404, `not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, base+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, body := do(t, req)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("got %d %s, want %d containing %s", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if !json.Valid(body) {
				t.Errorf("body %q is not JSON", body)
			}
		})
	}
	if got := sim.Now(); !got.Equal(t0.Add(72 * time.Hour)) {
		t.Errorf("Now(): got %v, want %v", got, t0.Add(72*time.Hour))
	}
}

func TestExpireTokensEndpoint(t *testing.T) {
	_, base := setup(t)
	tok := token(t, base)
	_, body := post(t, base+"/_sim/expire-tokens", "application/json", nil)
	if string(body) != `{"expired":1}` {
		t.Errorf("got %s, want {\"expired\":1}", body)
	}
	if got := tokenErrcode(t, base, tok); got != 42001 {
		t.Errorf("errcode: got %d, want 42001", got)
	}
	if got := tokenErrcode(t, base, token(t, base)); got != 41006 {
		t.Errorf("new token: got errcode %d, want 41006 (valid)", got)
	}
}

// TestServeHTTPInProcess uses the Server as a plain http.Handler, with the
// base URL taken from the request's Host.
func TestServeHTTPInProcess(t *testing.T) {
	sim := wechatsim.New(wechatsim.Options{})
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/cgi-bin/token?grant_type=client_credential&appid="+wechatsim.DefaultAppID+"&secret="+wechatsim.DefaultAppSecret, nil))
	a := decode(t, rec.Body.Bytes())
	if a.Errcode != 0 || a.ExpiresIn != 7200 {
		t.Fatalf("token with default credentials: got %+v, want a token", a)
	}
	body, ct := form(t, "media", "v.mp4", []byte("mp4"))
	req := httptest.NewRequest(http.MethodPost, "http://sim.test/cgi-bin/media/upload?type=video&access_token="+a.AccessToken, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", ct)
	rec = httptest.NewRecorder()
	sim.ServeHTTP(rec, req)
	id := decode(t, rec.Body.Bytes()).MediaID
	rec = httptest.NewRecorder()
	sim.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://sim.test/cgi-bin/media/get?access_token="+a.AccessToken+"&media_id="+id, nil))
	if got, want := decode(t, rec.Body.Bytes()).VideoURL, "http://sim.test/_sim/video/"+id; got != want {
		t.Errorf("video_url: got %q, want %q", got, want)
	}
}
