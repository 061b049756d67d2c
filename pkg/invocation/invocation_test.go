package invocation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/wxmedia/wxmedia/pkg/cloudcall"
	"github.com/wxmedia/wxmedia/pkg/invocation"
	"github.com/wxmedia/wxmedia/pkg/s3event"
	"github.com/wxmedia/wxmedia/pkg/transfer"
)

// recorder is an Uploader that records the keys it was asked for, by the
// work they ask.
type recorder struct {
	mu   sync.Mutex
	seen map[string]string // key -> "api/type"
}

func (r *recorder) UploadObject(_ context.Context, key, etag string) (transfer.Result, error) {
	w, err := transfer.TriggerWork(key, etag)
	if err != nil {
		return transfer.Result{Key: key}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[key] = w.API + "/" + w.Type
	return transfer.Result{Key: key}, nil
}

func handler(r *recorder) func(context.Context, json.RawMessage) (any, error) {
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"path":"` + req.URL.Path + `"}`))
	})
	return invocation.Handler(invocation.Options{HTTP: h, S3: s3event.New(r, "wxmedia-local", slog.New(slog.DiscardHandler)),
		Direct: func(_ context.Context, payload json.RawMessage) (any, error) {
			return map[string]string{"direct": string(payload)}, nil
		}})
}

func TestS3KeysAreDecoded(t *testing.T) {
	r := &recorder{seen: map[string]string{}}
	payload := `{"Records":[
	 {"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"wxmedia-local"},"object":{"key":"upload/voice/hello+world%21.mp3"}}},
	 {"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"wxmedia-local"},"object":{"key":"uploadimg/%E5%9B%BE.png"}}},
	 {"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"wxmedia-local"},"object":{"key":"results/x.json"}}},
	 {"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"other-bucket"},"object":{"key":"upload/image/a.jpg"}}},
	 {"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"wxmedia-local"},"object":{"key":"upload/image/b.jpg"}}}]}`
	if _, err := handler(r)(context.Background(), json.RawMessage(payload)); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"upload/voice/hello world!.mp3": "upload/voice", "uploadimg/图.png": "uploadimg/"}
	if len(r.seen) != len(want) {
		t.Errorf("handled %v, want %v", r.seen, want)
	}
	for k, typ := range want {
		if r.seen[k] != typ {
			t.Errorf("key %q: type %q, want %q", k, r.seen[k], typ)
		}
	}
}

func TestMalformedEvents(t *testing.T) {
	r := &recorder{seen: map[string]string{}}
	tests := []struct {
		name    string
		payload string
		want    error
	}{
		{"ErrNoRecords", `{"Records":[]}`, s3event.ErrNoRecords},
		{"ErrNotAnEvent", `{"hello":"world"}`, invocation.ErrUnknownEvent},
		{"ErrHalfADirectCall", `{"type":"image","file":"x"}`, invocation.ErrUnknownEvent},
		{"ErrNotJSON", `not json`, invocation.ErrUnknownEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := handler(r)(context.Background(), json.RawMessage(tt.payload)); !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
	_, err := handler(r)(context.Background(), json.RawMessage(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"wxmedia-local"},"object":{"key":"upload/image/%zz.jpg"}}}]}`))
	if err == nil || len(r.seen) != 0 {
		t.Errorf("a key with a malformed escape: error %v, handled %v; want an error and nothing handled", err, r.seen)
	}
}

// An event of no known shape is refused, naming what was seen.
func TestUnknownEventNamesWhatItSaw(t *testing.T) {
	_, err := handler(&recorder{})(context.Background(), json.RawMessage(`{"hello":"world","size":3}`))
	if err == nil || !strings.Contains(err.Error(), "[hello size]") || !strings.Contains(err.Error(), `{"mediaId"} for get`) {
		t.Errorf("error = %v, want one naming the keys seen and the shapes taken", err)
	}
	many := `{"k00":0,"k01":1,"k02":2,"k03":3,"k04":4,"k05":5,"k06":6,"k07":7,"k08":8,"k09":9,"k10":10,"k11":11}`
	if _, err := handler(&recorder{})(context.Background(), json.RawMessage(many)); err == nil || !strings.Contains(err.Error(), "k09 … (12 keys)]") || strings.Contains(err.Error(), "k10") {
		t.Errorf("error = %v, want the first 10 keys and the count", err)
	}
	sns := `{"Records":[{"EventSource":"aws:sns","Sns":{"Message":"{\"Records\":[]}"}}]}`
	if _, err := handler(&recorder{})(context.Background(), json.RawMessage(sns)); err == nil || !strings.Contains(err.Error(), "an SNS notification") {
		t.Errorf("error = %v, want one naming an SNS notification", err)
	}
}

// S3 notifications reach the service however they are delivered: through
// SQS (a failing message reported as a batch item failure, the others
// done) and through EventBridge (its key as it is, not URL-encoded).
func TestNotificationsThroughSQSAndEventBridge(t *testing.T) {
	r := &recorder{seen: map[string]string{}}
	s3body := func(key string) string {
		b, _ := json.Marshal(map[string]any{"Records": []any{map[string]any{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
			"s3": map[string]any{"bucket": map[string]string{"name": "wxmedia-local"}, "object": map[string]string{"key": key}}}}})
		return string(b)
	}
	sqs, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m1", EventSource: "aws:sqs", Body: s3body("upload/voice/hello+world.mp3")},
		{MessageId: "m2", EventSource: "aws:sqs", Body: `{"Service":"Amazon S3","Event":"s3:TestEvent"}`},
	}})
	out, err := handler(r)(context.Background(), sqs)
	if resp, ok := out.(events.SQSEventResponse); err != nil || !ok || len(resp.BatchItemFailures) != 0 {
		t.Errorf("SQS: got %#v, %v; want a response with no failures", out, err)
	}
	detail, _ := json.Marshal(map[string]any{"bucket": map[string]string{"name": "wxmedia-local"},
		"object": map[string]any{"key": "uploadimg/a b.png", "size": 10, "etag": "abc"}, "reason": "PutObject"})
	eb, _ := json.Marshal(events.EventBridgeEvent{Version: "0", ID: "e1", DetailType: "Object Created", Source: "aws.s3", Region: "us-east-1", Detail: detail})
	if _, err := handler(r)(context.Background(), eb); err != nil {
		t.Errorf("EventBridge: %v", err)
	}
	want := map[string]string{"upload/voice/hello world.mp3": "upload/voice", "uploadimg/a b.png": "uploadimg/"}
	if fmt.Sprint(r.seen) != fmt.Sprint(want) {
		t.Errorf("handled %v, want %v", r.seen, want)
	}
	out, err = handler(r)(context.Background(), json.RawMessage(`{"type":"image","key":"upload/image/a.jpg"}`))
	if m, _ := out.(map[string]string); err != nil || m["direct"] == "" {
		t.Errorf("a direct call: %v, %v; want it handed to Direct", out, err)
	}
}

func TestHTTPEventsReachTheHandler(t *testing.T) {
	out, err := handler(&recorder{})(context.Background(), json.RawMessage(`{"version":"2.0","rawPath":"/cgi-bin/media/get","requestContext":{"http":{"method":"GET","path":"/cgi-bin/media/get"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(out)
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	json.Unmarshal(b, &resp)
	if resp.StatusCode != 200 || resp.Body != `{"path":"/cgi-bin/media/get"}` {
		t.Errorf("got %s", b)
	}
}

// FuzzEvent feeds arbitrary payloads to a function: it never panics, and
// answers either a result or an error.
func FuzzEvent(f *testing.F) {
	f.Add([]byte(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"wxmedia-local"},"object":{"key":"upload/image/a+b.jpg"}}}]}`))
	f.Add([]byte(`{"Records":[{"eventSource":"aws:s3","s3":{"object":{"key":"%"}}}]}`))
	f.Add([]byte(`{"Records":null}`))
	f.Add([]byte(`{"version":"2.0","requestContext":{"http":{"method":"POST"}},"body":"!!","isBase64Encoded":true}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		r := &recorder{seen: map[string]string{}}
		_, _ = handler(r)(context.Background(), json.RawMessage(payload))
		for k := range r.seen {
			if !strings.HasPrefix(k, transfer.UploadPrefix) && !strings.HasPrefix(k, transfer.UploadImgPrefix) {
				t.Fatalf("handled %q, which is under no trigger prefix", k)
			}
		}
	})
}

// Through the runtime's own path (lambda.NewHandler, as lambda.Start runs
// it), an event cut at the invoke limit reaches Direct, not the runtime's
// JSON error, and answers are JSON without a trailing newline.
func TestRawPayloads(t *testing.T) {
	h := lambda.NewHandler(invocation.Raw(handler(&recorder{})))
	cut := `{"type":"image","media":{"value":{"type":"Buffer","data":[` + strings.Repeat("255,", cloudcall.MaxPayload/4)
	out, err := h.Invoke(context.Background(), []byte(cut))
	if err != nil || !bytes.HasPrefix(out, []byte(`{"direct":"{\"type\":\"image\"`)) {
		t.Errorf("an event cut at the limit: %.60s, %v; want it handed to Direct", out, err)
	}
	out, err = h.Invoke(context.Background(), []byte(`{"mediaId":"a<b>"}`))
	if err != nil || string(out) != `{"direct":"{\"mediaId\":\"a<b>\"}"}` {
		t.Errorf("got %q, %v; want the answer without a trailing newline, < > as they are", out, err)
	}
	if _, err := h.Invoke(context.Background(), []byte(`{"mediaId":`)); !errors.Is(err, invocation.ErrUnknownEvent) {
		t.Errorf("short broken JSON: %v, want ErrUnknownEvent", err)
	}
}
