package bootstrap_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/wxmedia/wxmedia/internal/awstest"
	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/stacktest"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/token"
)

const eventsBucket = "wxmedia-local" // the bucket the sample events name

// invokeHTTP runs an API Gateway event through the production JSON path.
func invokeHTTP(t *testing.T, st *stacktest.Stack, fn string, event []byte) (int, map[string]any, events.APIGatewayV2HTTPResponse) {
	t.Helper()
	out, err := st.Functions[fn].Invoke(context.Background(), event)
	if err != nil {
		t.Fatalf("invoke %s: %v", fn, err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("invoke %s answered %s: %v", fn, out, err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("invoke %s: body %q is not JSON", fn, resp.Body)
	}
	if strings.Contains(string(out), "CLIENT_SENT_TOKEN_IGNORED") {
		t.Errorf("the response echoes the client's access_token: %s", out)
	}
	return resp.StatusCode, body, resp
}

func TestEvents(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{Bucket: eventsBucket})

	var imageID string
	t.Run("apigw-upload-multipart", func(t *testing.T) {
		status, body, _ := invokeHTTP(t, st, "upload", stacktest.Event(t, "apigw-upload-multipart.json"))
		if status != 200 || body["type"] != "image" || body["media_id"] == "" || body["expires_at"] == nil {
			t.Fatalf("got %d %v, want 200 with an image media_id", status, body)
		}
		imageID = body["media_id"].(string)
		if got, _ := st.Sim.Media(imageID); !bytes.Equal(got, mediatest.Sample(media.JPEG, 2048)) {
			t.Errorf("WeChat got %d bytes, want the 2048 of the event's file", len(got))
		}
	})
	t.Run("apigw-upload-key", func(t *testing.T) {
		status, body, _ := invokeHTTP(t, st, "upload", stacktest.Event(t, "apigw-upload-key.json"))
		if id, _ := body["thumb_media_id"].(string); status != 200 || body["type"] != "thumb" || id == "" {
			t.Fatalf("got %d %v, want 200 with a thumb_media_id", status, body)
		}
		// The same key again reuses the recorded media_id: no second upload.
		before := st.Sim.Stats().Upload
		_, again, _ := invokeHTTP(t, st, "upload", stacktest.Event(t, "apigw-upload-key.json"))
		if again["thumb_media_id"] != body["thumb_media_id"] || st.Sim.Stats().Upload != before {
			t.Errorf("second upload of the same object: thumb_media_id %v (want %v), uploads %d (want %d)", again["thumb_media_id"], body["thumb_media_id"], st.Sim.Stats().Upload, before)
		}
	})
	t.Run("apigw-upload-bad-type", func(t *testing.T) {
		before := st.Sim.Stats().Upload
		status, body, _ := invokeHTTP(t, st, "upload", stacktest.Event(t, "apigw-upload-bad-type.json"))
		if status != 200 || body["errcode"] != float64(40005) {
			t.Fatalf("a JPEG as voice: got %d %v, want 200 errcode 40005", status, body)
		}
		if st.Sim.Stats().Upload != before {
			t.Error("a refused file reached WeChat")
		}
	})
	for _, name := range []string{"apigw-get.json", "apigw-get-redirect.json"} {
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			if imageID == "" {
				t.Fatal("no media uploaded: apigw-upload-multipart failed above")
			}
			event := bytes.ReplaceAll(stacktest.Event(t, name), []byte("MEDIA_ID"), []byte(imageID))
			out, err := st.Functions["get"].Invoke(context.Background(), event)
			if err != nil {
				t.Fatal(err)
			}
			var resp events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(name, "redirect") {
				if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Headers["Location"], "X-Amz-Signature") {
					t.Fatalf("got %d Location %q, want 302 to a presigned link", resp.StatusCode, resp.Headers["Location"])
				}
				return
			}
			// The file itself, as WeChat's media/get answers it: base64 through API Gateway.
			data, err := base64.StdEncoding.DecodeString(resp.Body)
			if err != nil || !resp.IsBase64Encoded || resp.StatusCode != 200 || !bytes.Equal(data, mediatest.Sample(media.JPEG, 2048)) ||
				resp.Headers["Content-Type"] != "image/jpeg" || resp.Headers["Content-Disposition"] != `attachment; filename="`+imageID+`.jpg"` {
				t.Fatalf("got %d %v, %d bytes (base64 %v); want the 2048 bytes as image/jpeg, attachment %s.jpg", resp.StatusCode, resp.Headers, len(data), resp.IsBase64Encoded, imageID)
			}
			if stored, ct := st.Object(t, "media/"+imageID+".jpg"); !bytes.Equal(stored, data) || ct != "image/jpeg" {
				t.Errorf("bucket holds %d bytes of %q, want the uploaded 2048 of image/jpeg", len(stored), ct)
			}
		})
	}
	t.Run("apigw-get-unknown", func(t *testing.T) {
		status, body, resp := invokeHTTP(t, st, "get", stacktest.Event(t, "apigw-get.json"))
		if status != 200 || body["errcode"] != float64(40007) || resp.Headers["Content-Type"] != "text/plain" {
			t.Errorf("unknown media: got %d %v (%s), want 200 errcode 40007 as text/plain, as WeChat answers", status, body, resp.Headers["Content-Type"])
		}
	})
	t.Run("apigw-uploadimg-multipart", func(t *testing.T) {
		status, body, _ := invokeHTTP(t, st, "uploadimg", stacktest.Event(t, "apigw-uploadimg-multipart.json"))
		if u, _ := body["url"].(string); status != 200 || !strings.HasPrefix(u, "http") {
			t.Fatalf("got %d %v, want 200 with a url", status, body)
		}
	})
	t.Run("apigw-uploadimg-key", func(t *testing.T) {
		status, body, _ := invokeHTTP(t, st, "uploadimg", stacktest.Event(t, "apigw-uploadimg-key.json"))
		if u, _ := body["url"].(string); status != 200 || !strings.HasPrefix(u, "http") {
			t.Fatalf("got %d %v, want 200 with a url", status, body)
		}
	})
	t.Run("s3-put-upload-image", func(t *testing.T) {
		if _, err := st.Functions["upload"].Invoke(context.Background(), stacktest.Event(t, "s3-put-upload-image.json")); err != nil {
			t.Fatal(err)
		}
		r := st.Result(t, "upload/image/holiday photo (1).jpg") // the decoded key
		if r["type"] != "image" || r["media_id"] == "" || r["etag"] == "" || r["key"] != "upload/image/holiday photo (1).jpg" {
			t.Errorf("result = %v", r)
		}
	})
	t.Run("s3-put-uploadimg", func(t *testing.T) {
		if _, err := st.Functions["uploadimg"].Invoke(context.Background(), stacktest.Event(t, "s3-put-uploadimg.json")); err != nil {
			t.Fatal(err)
		}
		r := st.Result(t, "uploadimg/banner图.png")
		if u, _ := r["url"].(string); !strings.HasPrefix(u, "http") {
			t.Errorf("result = %v, want a url", r)
		}
	})
	t.Run("s3-put-batch", func(t *testing.T) {
		before := st.Sim.Stats().Upload
		if _, err := st.Functions["upload"].Invoke(context.Background(), stacktest.Event(t, "s3-put-batch.json")); err != nil {
			t.Fatalf("a batch whose only failure is a refused file must not fail: %v", err)
		}
		for key, typ := range map[string]string{"upload/voice/greeting.mp3": "voice", "upload/video/clip.mp4": "video"} {
			if r := st.Result(t, key); r["type"] != typ || r["media_id"] == "" {
				t.Errorf("result of %s = %v", key, r)
			}
		}
		if r := st.Result(t, "upload/image/not-really-an-image.jpg"); r["errcode"] != float64(40005) {
			t.Errorf("text named .jpg: result = %v, want errcode 40005 recorded", r)
		}
		if got := st.Sim.Stats().Upload - before; got != 2 {
			t.Errorf("uploads = %d, want 2 (the text file never reaches WeChat)", got)
		}
		// S3 delivers at least once: the same event again uploads nothing.
		if _, err := st.Functions["upload"].Invoke(context.Background(), stacktest.Event(t, "s3-put-batch.json")); err != nil {
			t.Fatal(err)
		}
		if got := st.Sim.Stats().Upload - before; got != 2 {
			t.Errorf("after a duplicate delivery: uploads = %d, want still 2", got)
		}
	})
	t.Run("sqs-s3-put", func(t *testing.T) {
		// S3 -> SQS -> Lambda: a batch of S3's test event and a put.
		out, err := st.Functions["upload"].Invoke(context.Background(), stacktest.Event(t, "sqs-s3-put.json"))
		var resp events.SQSEventResponse
		if err != nil || json.Unmarshal(out, &resp) != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("answer %s, %v; want no batch item failures (S3's test event is dropped, the put is done)", out, err)
		}
		if r := st.Result(t, "upload/video/trailer.mp4"); r["type"] != "video" || r["media_id"] == "" {
			t.Errorf("result = %v, want a video media_id", r)
		}
	})
	t.Run("eventbridge-object-created", func(t *testing.T) {
		// S3 -> EventBridge -> Lambda: the key comes as it is, not URL-encoded.
		if _, err := st.Functions["uploadimg"].Invoke(context.Background(), stacktest.Event(t, "eventbridge-object-created.json")); err != nil {
			t.Fatal(err)
		}
		if r := st.Result(t, "uploadimg/海报 1.png"); !strings.HasPrefix(fmt.Sprint(r["url"]), "http") {
			t.Errorf("result = %v, want a url", r)
		}
	})
	// Direct invocations, in the cloud call's shape.
	direct := func(t *testing.T, fn string, event []byte) map[string]any {
		t.Helper()
		out, err := st.Functions[fn].Invoke(context.Background(), event)
		if err != nil {
			t.Fatalf("invoke %s: %v", fn, err)
		}
		var body map[string]any
		if err := json.Unmarshal(out, &body); err != nil || body["errCode"] != 0.0 || !strings.HasSuffix(fmt.Sprint(body["errMsg"]), ":ok") {
			t.Fatalf("answer %s: want errCode 0 and errMsg <api>:ok", out)
		}
		return body
	}
	t.Run("direct-upload-media", func(t *testing.T) {
		body := direct(t, "upload", stacktest.Event(t, "direct-upload-media.json"))
		id, _ := body["mediaId"].(string)
		if got, _ := st.Sim.Media(id); body["type"] != "image" || !bytes.Equal(got, mediatest.Sample(media.JPEG, 1024)) || body["createdAt"] == nil {
			t.Errorf("answer %v; WeChat holds %d bytes under mediaId; want the event's 1024-byte image", body, len(got))
		}
	})
	t.Run("direct-upload-key", func(t *testing.T) {
		// The key was uploaded by s3-put-batch: its recorded media_id answers.
		before := st.Sim.Stats().Upload
		body := direct(t, "upload", stacktest.Event(t, "direct-upload-key.json"))
		if r := st.Result(t, "upload/voice/greeting.mp3"); body["type"] != "voice" || body["mediaId"] != r["media_id"] || st.Sim.Stats().Upload != before {
			t.Errorf("answer %v, result %v, %d uploads; want the recorded voice media_id and no upload", body, r, st.Sim.Stats().Upload-before)
		}
	})
	t.Run("direct-uploadimg-buffer", func(t *testing.T) {
		body := direct(t, "uploadimg", stacktest.Event(t, "direct-uploadimg-buffer.json"))
		if u, _ := body["url"].(string); !strings.HasPrefix(u, "http") {
			t.Errorf("answer %v, want a url", body)
		}
	})
	t.Run("direct-uploadimg-key", func(t *testing.T) {
		body := direct(t, "uploadimg", stacktest.Event(t, "direct-uploadimg-key.json"))
		if r := st.Result(t, "uploadimg/banner.png"); body["url"] != r["url"] {
			t.Errorf("answer %v, result %v: want the recorded url", body, r)
		}
	})
	t.Run("direct-get", func(t *testing.T) {
		if imageID == "" {
			t.Fatal("no media uploaded: apigw-upload-multipart failed above")
		}
		body := direct(t, "get", bytes.ReplaceAll(stacktest.Event(t, "direct-get.json"), []byte("MEDIA_ID"), []byte(imageID)))
		buf, _ := base64.StdEncoding.DecodeString(fmt.Sprint(body["buffer"]))
		if body["contentType"] != "image/jpeg" || !bytes.Equal(buf, mediatest.Sample(media.JPEG, 2048)) {
			t.Errorf("answer %v: want image/jpeg and the 2048 bytes as its buffer", body)
		}
		// An unknown media_id is thrown, as the cloud call throws it.
		_, err := st.Functions["get"].Invoke(context.Background(), stacktest.Event(t, "direct-get.json"))
		var ie messages.InvokeResponse_Error
		if !errors.As(err, &ie) || ie.Type != "WeChatError" || !strings.Contains(ie.Message, `"errCode":40007`) {
			t.Errorf("unknown media: error %v, want WeChatError with errCode 40007", err)
		}
	})
	t.Run("s3-malformed-key", func(t *testing.T) {
		_, err := st.Functions["upload"].Invoke(context.Background(), stacktest.Event(t, "s3-malformed-key.json"))
		if err == nil || !strings.Contains(err.Error(), "malformed S3 event") {
			t.Errorf("error = %v, want a malformed S3 event error", err)
		}
	})
	if got := st.Sim.Stats().StableToken; got != 1 {
		t.Errorf("stable_token calls = %d over the whole run, want 1", got)
	}
}

// notEvents are the files in events/ that are no event: env.json is the
// environment for sam local invoke --env-vars (cmd/local and internal/deploy
// test it).
var notEvents = map[string]bool{"env.json": true}

func TestEventFilesAreAllTested(t *testing.T) {
	names, _ := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	src, _ := os.ReadFile("events_test.go")
	for _, n := range names {
		if base := filepath.Base(n); !notEvents[base] && !bytes.Contains(src, []byte(strings.TrimSuffix(base, ".json"))) {
			t.Errorf("events/%s is not fed through a handler in TestEvents", base)
		}
	}
}

func TestSecretProblemsAreClearErrors(t *testing.T) {
	tests := []struct {
		name, secret, want string
	}{
		{"ErrMissingAppSecret", `{"appid":"wx1"}`, `missing field "appsecret"`},
		{"ErrNotJSON", `appid=wx1`, `it is not JSON`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &stacktest.Logs{}
			st := stacktest.Start(t, stacktest.Options{Secret: tt.secret, Logs: logs})
			event := stacktest.Event(t, "apigw-upload-multipart.json")
			status, body, _ := invokeHTTP(t, st, "upload", event)
			if status != 200 || body["errcode"] != float64(-1) {
				t.Errorf("caller got %d %v, want 200 errcode -1", status, body)
			}
			if msg, _ := body["errmsg"].(string); strings.Contains(msg, "wxmedia/") {
				t.Errorf("the secret's name reached the caller: %q", msg)
			}
			// An S3 event fails the invocation, for Lambda to retry and keep: its
			// error says what failed; the operator's log names the secret and the problem.
			put := bytes.ReplaceAll(stacktest.Event(t, "s3-put-upload-image.json"), []byte(eventsBucket), []byte(st.Bucket))
			_, err := st.Functions["upload"].Invoke(context.Background(), put)
			if err == nil || !strings.Contains(err.Error(), "configuration failure") || !strings.Contains(err.Error(), "secret") {
				t.Fatalf("S3 event error = %v, want a configuration failure naming the secret", err)
			}
			if l := logs.String(); !strings.Contains(l, strings.ReplaceAll(tt.want, `"`, `\"`)) || !strings.Contains(l, `secret \"wxmedia/`) {
				t.Errorf("the log does not name the secret and %q:\n%s", tt.want, l)
			}
			r := st.Result(t, "upload/image/holiday photo (1).jpg")
			if r["errcode"] != float64(-1) {
				t.Errorf("result = %v, want the failure recorded", r)
			}
		})
	}
	t.Run("ErrSecretMissing", func(t *testing.T) {
		moto := awstest.Start(t)
		store := token.NewSecretStore(moto.SecretsManager(), "wxmedia/no-such-secret", token.StoreOptions{})
		_, err := store.Credentials(context.Background())
		if err == nil || !strings.Contains(err.Error(), `secret "wxmedia/no-such-secret": cannot read it`) || !strings.Contains(err.Error(), "ResourceNotFoundException") {
			t.Errorf("error = %v, want one naming the secret and ResourceNotFoundException", err)
		}
	})
}
