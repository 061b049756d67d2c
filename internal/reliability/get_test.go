package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wxmedia/wxmedia/internal/stacktest"
	"github.com/wxmedia/wxmedia/internal/wechatsim"
)

// invokeJSON runs an API Gateway event through a function and decodes the answer.
func invokeJSON(t *testing.T, st *stacktest.Stack, fn string, event []byte, timeout time.Duration) (int, map[string]any, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	out, err := st.Functions[fn].Invoke(ctx, event)
	if err != nil {
		t.Fatalf("invoke %s: %v", fn, err)
	}
	if took := time.Since(start); took >= timeout {
		t.Errorf("answered after %v: Lambda would have killed it at %v", took, timeout)
	}
	var resp events.APIGatewayV2HTTPResponse
	json.Unmarshal(out, &resp)
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("body %q: %v", resp.Body, err)
	}
	return resp.StatusCode, body, string(out)
}

// The get route under WeChat's faults: nothing half-stored, nothing leaked.
func TestGetFaults(t *testing.T) {
	cases := []struct {
		name       string
		faults     wechatsim.Faults
		advance    time.Duration
		wantStatus int
		wantCode   int
	}{
		{"OK", wechatsim.Faults{}, 0, 200, 0},
		{"BusyOnce", wechatsim.Faults{Busy: 1}, 0, 200, 0},
		{"DroppedMidBodyOnce", wechatsim.Faults{Drop: 1}, 0, 200, 0}, // fetched again
		{"DroppedMidBodyAlways", wechatsim.Faults{Drop: 100}, 0, 502, -1},
		{"SlowPastDeadline", wechatsim.Faults{Slow: time.Minute}, 0, 504, -1},
		{"ErrorLabelledText", wechatsim.Faults{WrongContentType: 1}, 73 * time.Hour, 404, 40007},
		{"Expired", wechatsim.Faults{}, 73 * time.Hour, 404, 40007},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs := &stacktest.Logs{}
			st := stacktest.Start(t, stacktest.Options{Logs: logs})
			_, up, _ := invokeJSON(t, st, "upload", stacktest.Event(t, "apigw-upload-multipart.json"), invokeTimeout)
			id, _ := up["media_id"].(string)
			if id == "" {
				t.Fatalf("upload answered %v", up)
			}
			if tc.advance > 0 {
				st.Sim.Advance(tc.advance)
				st.Sim.ExpireTokens()
			}
			st.Sim.SetFaults(tc.faults)
			// The descriptor (&format=json) says what was stored; the bytes themselves are httpapi's tests'.
			event := bytes.ReplaceAll(stacktest.Event(t, "apigw-get.json"), []byte("MEDIA_ID"), []byte(id+"&format=json"))
			status, body, raw := invokeJSON(t, st, "get", event, invokeTimeout)
			code, _ := body["errcode"].(float64)
			if status != 200 || int(code) != tc.wantCode {
				t.Errorf("got %d %s, want 200 errcode %d", status, raw, tc.wantCode)
			}
			if got := failureStatus(logs.String()); tc.wantStatus != 200 && got != tc.wantStatus {
				t.Errorf("the log says the failure stands for %d, want %d", got, tc.wantStatus)
			}
			stored, err := st.Moto.S3().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &st.Bucket, Key: ptr("media/" + id + ".jpg")})
			switch {
			case code == 0 && (err != nil || *stored.ContentLength != 2048):
				t.Errorf("after a success the bucket holds %v (%v), want the 2048 bytes", stored, err)
			case code != 0 && err == nil:
				t.Errorf("after errcode %v the bucket holds media/%s.jpg (%d bytes): a failed get stored something", code, id, *stored.ContentLength)
			}
			noLeaks(t, st, logs.String(), raw)
		})
	}
}

// An upload through the {"key"} route never overwrites what an S3 event
// recorded for the same object, so the event's redelivery still reuses it.
func TestKeyRouteKeepsEventResult(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{})
	key := "upload/image/holiday photo (1).jpg"
	event := bytes.ReplaceAll(stacktest.Event(t, "s3-put-upload-image.json"), []byte(`"wxmedia-local"`), []byte(`"`+st.Bucket+`"`))
	if _, err := st.Functions["upload"].Invoke(context.Background(), event); err != nil {
		t.Fatal(err)
	}
	before := st.Result(t, key)
	for _, typ := range []string{"thumb", "voice"} { // a JPEG is a valid thumb, and an invalid voice
		req := bytes.Replace(stacktest.Event(t, "apigw-upload-key.json"), []byte("upload/thumb/thumb.jpg"), []byte(key), 1)
		req = bytes.ReplaceAll(req, []byte("type=thumb"), []byte("type="+typ))
		req = bytes.ReplaceAll(req, []byte(`"type": "thumb"`), []byte(`"type": "`+typ+`"`))
		status, body, _ := invokeJSON(t, st, "upload", req, invokeTimeout)
		if ok := body["thumb_media_id"] != nil; status != 200 || (typ == "thumb") != ok {
			t.Errorf("type=%s: got %d %v", typ, status, body)
		}
	}
	if after := st.Result(t, key); after["media_id"] != before["media_id"] || after["type"] != "image" {
		t.Errorf("result changed from %v to %v", before, after)
	}
	uploads := st.Sim.Stats().Upload
	if _, err := st.Functions["upload"].Invoke(context.Background(), event); err != nil {
		t.Fatal(err)
	}
	if st.Sim.Stats().Upload != uploads {
		t.Error("the redelivered event uploaded again")
	}
}

func ptr(s string) *string { return &s }

// uploadimg's S3 route under faults: the same outcomes as upload's.
func TestUploadImgFaults(t *testing.T) {
	cases := []struct {
		name     string
		faults   wechatsim.Faults
		wantCode int
		retried  bool
	}{
		{"BusyOnce", wechatsim.Faults{Busy: 1}, 0, false},
		{"BusyAlways", wechatsim.Faults{Busy: 100}, -1, true},
		{"Quota", wechatsim.Faults{Quota: 100}, 45009, true}, // kept for a redrive once the quota resets
		{"DroppedOnce", wechatsim.Faults{Drop: 1}, -1, true}, // may be stored: Lambda's retry is the one extra upload
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs := &stacktest.Logs{}
			st := stacktest.Start(t, stacktest.Options{Logs: logs})
			st.Sim.SetFaults(tc.faults)
			event := bytes.ReplaceAll(stacktest.Event(t, "s3-put-uploadimg.json"), []byte(`"wxmedia-local"`), []byte(`"`+st.Bucket+`"`))
			_, err := st.Functions["uploadimg"].Invoke(context.Background(), event)
			if (err != nil) != tc.retried {
				t.Errorf("invocation error %v, want retried=%v", err, tc.retried)
			}
			r := st.Result(t, "uploadimg/banner图.png")
			code, _ := r["errcode"].(float64)
			if int(code) != tc.wantCode || (tc.wantCode == 0 && r["url"] == nil) {
				t.Errorf("recorded %v, want errcode %d", r, tc.wantCode)
			}
			noLeaks(t, st, logs.String())
		})
	}
}
