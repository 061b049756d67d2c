package bootstrap_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/wxmedia/wxmedia/internal/emftest"
	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/stacktest"
	"github.com/wxmedia/wxmedia/pkg/bootstrap"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/tracing"
)

const traceHeader = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

// invocation is the context Lambda gives an invocation of fn with tracing
// Active: its request id, its function, its trace header.
func invocation(fn, header string) context.Context {
	h, _ := tracing.ParseHeader(header)
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-" + fn,
		InvokedFunctionArn: "arn:aws:lambda:ap-east-1:123456789012:function:wxmedia-" + fn})
	return tracing.WithHeader(ctx, h)
}

// lines are the JSON log lines in logs, split into EMF documents and the rest.
func lines(t *testing.T, logs string) (emf []emftest.Doc, other []map[string]any) {
	t.Helper()
	for _, l := range strings.Split(logs, "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("a log line that is not JSON: %q", l)
		}
		if _, ok := m["_aws"]; !ok {
			other = append(other, m)
			continue
		}
		d, err := emftest.Decode([]byte(l))
		if err != nil {
			t.Fatalf("EMF line: %v: %s", err, l)
		}
		emf = append(emf, d)
	}
	return emf, other
}

// TestS3UploadObserved: an S3-triggered upload, as an operator sees it:
// the spans of its WeChat, S3 and Secrets Manager calls under the
// invocation's trace, its metrics, and the trace id on every log line.
func TestS3UploadObserved(t *testing.T) {
	logs := &stacktest.Logs{}
	// The detailed metrics, as DetailedMetrics=true deploys them.
	st := stacktest.Start(t, stacktest.Options{Logs: logs, Env: map[string]string{bootstrap.EnvDetailedMetrics: "true"}})
	object := mediatest.Sample(media.JPEG, 4096)
	event := st.S3Event(stacktest.Created{Key: "upload/image/observed.jpg", ETag: st.Put(t, "upload/image/observed.jpg", object)})
	if _, err := st.Functions["upload"].Invoke(invocation("upload", traceHeader), event); err != nil {
		t.Fatal(err)
	}

	ops := map[string]int{}
	for _, d := range st.Subsegments(t) {
		if d.TraceID != "1-5759e988-bd862e3fe1be46a994272793" || d.ParentID == "" || d.Type != "subsegment" {
			t.Errorf("span %+v: not in the invocation's trace", d)
		}
		op, _ := d.Annotations["wechat_op"].(string)
		if d.AWS != nil {
			op, _ = d.AWS["operation"].(string)
		}
		ops[d.Name+" "+op]++
		if d.Fault {
			t.Errorf("span %s %s: a fault on the happy path (%+v)", d.Name, op, d.Cause)
		}
	}
	for span, want := range map[string]int{
		"SecretsManager GetSecretValue": 1, "WeChat stable_token": 1, "WeChat media/upload": 1,
		"S3 GetObject": 2, "S3 PutObject": 1, // the result read and the object; the result (claim and index: DynamoDB)
	} {
		if ops[span] != want {
			t.Errorf("spans %q: got %d, want %d (all: %v)", span, ops[span], want, ops)
		}
	}
	// Children of the invocation's segment, or of another span of the trace.
	parents := map[string]bool{"53995c3f42cd8ad8": true}
	for _, d := range st.Subsegments(t) {
		parents[d.ID] = true
	}
	for _, d := range st.Subsegments(t) {
		if !parents[d.ParentID] {
			t.Errorf("span %s: parent %s is neither the invocation's segment nor a span", d.Name, d.ParentID)
		}
	}

	emf, other := lines(t, logs.String())
	sums, counts := emftest.Sums(emf)
	s3 := map[string]string{"Function": "wxmedia-upload", "Route": "s3"}
	for series, want := range map[string]float64{
		emftest.Series("Requests", s3):      1,
		emftest.Series("TokenFetches", s3):  1,
		emftest.Series("BytesToWeChat", s3): float64(len(object)),
		emftest.Series("WeChatRetries", s3): 0,
		emftest.Series("S3Failures", s3):    0,
		emftest.Series("Outcome", nil):      0, // a success
	} {
		if got := sums[series]; got != want {
			t.Errorf("%s: got %v, want %v", series, got, want)
		}
	}
	if n := counts[emftest.Series("S3Latency", s3)]; n != 3 {
		t.Errorf("S3Latency samples: got %d, want the happy path's 3 S3 requests", n)
	}
	if n := counts[emftest.Series("WeChatLatency", s3)]; n != 2 {
		t.Errorf("WeChatLatency samples: got %d, want 2 (stable_token, media/upload)", n)
	}
	for _, l := range other {
		if l["trace_id"] != "1-5759e988-bd862e3fe1be46a994272793" || l["request_id"] != "req-upload" {
			t.Errorf("log line without the invocation's trace and request ids: %v", l)
		}
	}
}

// TestAccessLine: one access line per HTTP request, naming who called,
// from where, the route, the app, the errcode and the status it stands
// for, the bytes and the time taken, with the trace id.
func TestAccessLine(t *testing.T) {
	withAuth := func(auth string) []byte {
		return bytes.Replace(stacktest.Event(t, "apigw-upload-key.json"), []byte(`"requestId":`), []byte(`"authorizer": `+auth+`, "requestId":`), 1)
	}
	tests := []struct {
		name, caller string
		event        []byte
		errcode      float64
		status       float64
	}{
		{"IAM", "arn:aws:iam::123456789012:role/media-uploader",
			withAuth(`{"iam": {"accessKey": "ASIAEXAMPLE", "accountId": "123456789012", "userArn": "arn:aws:iam::123456789012:role/media-uploader", "userId": "AROAEXAMPLE"}}`), 0, 200},
		{"JWT", "jwt:user-42", withAuth(`{"jwt": {"claims": {"sub": "user-42", "iss": "https://issuer.example.com"}, "scopes": null}}`), 0, 200},
		{"Refused", "", bytes.Replace(stacktest.Event(t, "apigw-upload-key.json"), []byte("upload/thumb/thumb.jpg"), []byte("results/x.json"), 1), 40035, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &stacktest.Logs{}
			st := stacktest.Start(t, stacktest.Options{Bucket: eventsBucket, Logs: logs})
			if _, err := st.Functions["upload"].Invoke(invocation("upload", traceHeader), tt.event); err != nil {
				t.Fatal(err)
			}
			emf, other := lines(t, logs.String())
			var access []map[string]any
			for _, l := range other {
				if msg := l["msg"]; msg == "request" || msg == "request refused" || msg == "request failed" {
					access = append(access, l)
				}
			}
			if len(access) != 1 {
				t.Fatalf("access lines: got %d, want 1:\n%s", len(access), logs)
			}
			a := access[0]
			status := a["failure_status"]
			if status == nil {
				status = a["status"]
			}
			if a["caller"] != tt.caller || a["source_ip"] != "203.0.113.7" || a["route"] != "upload" || a["appid"] != "default" ||
				a["errcode"] != tt.errcode || status != tt.status || a["bytes_in"] != float64(bodyLen(t, tt.event)) || a["bytes_out"] == float64(0) ||
				a["ms"] == nil || a["trace_id"] != "1-5759e988-bd862e3fe1be46a994272793" {
				t.Errorf("access line %v: want caller %q, source_ip, route, appid, errcode %v standing for %v, bytes, ms and the trace id",
					a, tt.caller, tt.errcode, tt.status)
			}
			if strings.Contains(logs.String(), "ASIAEXAMPLE") {
				t.Error("the caller's access key id is in the logs")
			}
			if len(emf) != 1 || emf[0].Members["Route"] != "upload" {
				t.Errorf("EMF documents: got %d, want the request's one", len(emf))
			}
		})
	}
}

func bodyLen(t *testing.T, event []byte) int {
	var e struct{ Body string }
	if err := json.Unmarshal(event, &e); err != nil {
		t.Fatal(err)
	}
	return len(e.Body)
}

// TestUnsampledInvocationSendsNoSpans: X-Ray decides: an invocation it did
// not sample sends nothing to the daemon.
func TestUnsampledInvocationSendsNoSpans(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{Bucket: eventsBucket})
	unsampled := strings.Replace(traceHeader, "Sampled=1", "Sampled=0", 1)
	if _, err := st.Functions["upload"].Invoke(invocation("upload", unsampled), stacktest.Event(t, "s3-put-upload-image.json")); err != nil {
		t.Fatal(err)
	}
	if got := st.Traces(); len(got) != 0 {
		t.Errorf("sent %d spans for an unsampled invocation, want none", len(got))
	}
}
