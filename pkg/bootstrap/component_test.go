package bootstrap_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/wxmedia/wxmedia/internal/stacktest"
	"github.com/wxmedia/wxmedia/pkg/routes"
)

// viaGateway serves HTTP through one function's Lambda handler, as API
// Gateway invokes it: each request becomes a payload 2.0 event.
func viaGateway(t testing.TB, fn lambda.Handler) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "$default", RawPath: r.URL.Path, RawQueryString: r.URL.RawQuery,
			Headers: map[string]string{"content-type": r.Header.Get("Content-Type")}, Body: string(body)}
		e.RequestContext.HTTP.Method, e.RequestContext.HTTP.Path, e.RequestContext.HTTP.SourceIP = r.Method, r.URL.Path, "203.0.113.7"
		e.RequestContext.RequestID = "push"
		payload, _ := json.Marshal(e)
		out, err := fn.Invoke(r.Context(), payload)
		if err != nil {
			http.Error(w, "invoke: "+err.Error(), http.StatusBadGateway)
			return
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			http.Error(w, "answer: "+err.Error(), http.StatusBadGateway)
			return
		}
		for k, v := range resp.Headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(resp.StatusCode)
		io.WriteString(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// The platform's pushes have a function of their own, as deployed (a
// public route whose flood must take none of the media functions'
// concurrency): it acts on WeChat's signed pushes and refuses a forged
// one, serves nothing else, and the upload function no longer serves them.
func TestComponentFunction(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{Platform: true})
	ctx := context.Background()
	component := viaGateway(t, st.Functions["component"])
	st.Sim.SetPushURL(component + routes.PathPlatformEvents)

	if r, err := st.Sim.PushTicket(ctx); err != nil || r.Status != 200 || r.Body != "success" {
		t.Fatalf("ticket: %+v %v, want 200 success", r, err)
	}
	// The authorization needs the component token, fetched with the ticket just stored.
	if r, err := st.Sim.Authorize(ctx, "wx-stack-authorizer-a"); err != nil || r.Status != 200 || r.Body != "success" {
		t.Fatalf("authorize: %+v %v, want 200 success", r, err)
	}
	if got := st.Sim.Stats().ComponentToken; got != 1 {
		t.Errorf("api_component_token calls: %d, want 1", got)
	}

	post := func(base, path, body string) (int, string) {
		t.Helper()
		resp, err := http.Post(base+path, "text/xml", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	forged := "<xml><AppId>" + stacktest.ComponentAppID + "</AppId><Encrypt>AAAA</Encrypt></xml>"
	if status, body := post(component, routes.PathPlatformEvents+"?timestamp=1&nonce=n&encrypt_type=aes&msg_signature=00", forged); status != http.StatusUnauthorized {
		t.Errorf("a forged push: %d %q, want 401", status, body)
	}
	if status, _ := post(component, routes.PathUpload+"?type=image", "x"); status != http.StatusNotFound {
		t.Errorf("a media path on the component function: %d, want 404", status)
	}
	// Neither an S3 event nor a direct invocation is the component function's.
	if _, err := st.Functions["component"].Invoke(ctx, st.S3Event(stacktest.Created{Key: "upload/image/test.jpg"})); err == nil {
		t.Error("an S3 event on the component function: answered, want an error")
	}
	if _, err := st.Functions["component"].Invoke(ctx, []byte(`{"type":"image","key":"upload/image/test.jpg"}`)); err == nil {
		t.Error("a direct invocation of the component function: answered, want an error")
	}
	// The upload function answers the push path as no route of its own.
	upload := viaGateway(t, st.Functions["upload"])
	if status, body := post(upload, routes.PathPlatformEvents, forged); status != http.StatusOK || !strings.Contains(body, `"errcode"`) {
		t.Errorf("the push path on the upload function: %d %q, want its no-route answer", status, body)
	}
}

// BenchmarkForgedPush is what a flood of forged pushes costs the
// component function: one invocation each, through Lambda's JSON path,
// refused by signature before the token table is read.
func BenchmarkForgedPush(b *testing.B) {
	st := stacktest.Start(b, stacktest.Options{Platform: true})
	fn := st.Functions["component"]
	e := events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: routes.PathPlatformEvents,
		RawQueryString: "timestamp=1700000000&nonce=1234567890&encrypt_type=aes&msg_signature=0123456789abcdef0123456789abcdef01234567",
		Body:           "<xml><AppId>" + stacktest.ComponentAppID + "</AppId><Encrypt>" + strings.Repeat("QUFB", 200) + "</Encrypt></xml>"}
	e.RequestContext.HTTP.Method, e.RequestContext.HTTP.Path = http.MethodPost, routes.PathPlatformEvents
	payload, _ := json.Marshal(e)
	ctx := context.Background()
	if _, err := fn.Invoke(ctx, payload); err != nil { // the secret read once, as a warm container has it
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := fn.Invoke(ctx, payload); err != nil {
			b.Fatal(err)
		}
	}
}
