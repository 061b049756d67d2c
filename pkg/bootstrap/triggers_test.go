package bootstrap_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/stacktest"
	"github.com/wxmedia/wxmedia/internal/wechatsim"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/transfer"
)

// The trigger modes of template.yaml against moto_server's own S3
// notifications: S3 -> SQS (TriggerMode=SQS) and S3 -> EventBridge
// (TriggerMode=EventBridge), the messages moto sends handed to the
// production handler as Lambda would hand them.

// prefixFilter is an S3 notification filter on a key prefix.
func prefixFilter(prefix string) *s3types.NotificationConfigurationFilter {
	return &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{
		FilterRules: []s3types.FilterRule{{Name: s3types.FilterRuleNamePrefix, Value: aws.String(prefix)}}}}
}

// putNotifications configures the stack's bucket in moto.
func putNotifications(t *testing.T, st *stacktest.Stack, conf s3types.NotificationConfiguration) {
	t.Helper()
	if _, err := st.Moto.S3().PutBucketNotificationConfiguration(context.Background(), &s3.PutBucketNotificationConfigurationInput{
		Bucket: &st.Bucket, NotificationConfiguration: &conf}); err != nil {
		t.Fatalf("put the bucket's notifications: %v", err)
	}
}

// TestSQSTrigger: S3 -> a queue per function (the template's prefixes) ->
// the function in batches with ReportBatchItemFailures. A record that
// fails in a way a retry may mend is reported, delivered again after the
// visibility timeout, and after maxReceiveCount receives kept in the
// dead-letter queue, whence it is redriven; the others are done once.
func TestSQSTrigger(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{})
	ctx := context.Background()
	// The template's queues, but a failed message is visible again at once
	// (visibility timeout 0 instead of 360 s) and moved aside after 2
	// receives instead of 5, to keep the test short.
	dlqURL, dlqARN := st.Moto.QueueWith(t, nil)
	redrive := fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"2"}`, dlqARN)
	uploadQ, uploadARN := st.Moto.QueueWith(t, map[string]string{"VisibilityTimeout": "0", "RedrivePolicy": redrive})
	imgQ, imgARN := st.Moto.QueueWith(t, map[string]string{"VisibilityTimeout": "0", "RedrivePolicy": redrive})
	created := []s3types.Event{"s3:ObjectCreated:*"}
	putNotifications(t, st, s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{
		{QueueArn: &uploadARN, Events: created, Filter: prefixFilter(transfer.UploadPrefix)},
		{QueueArn: &imgARN, Events: created, Filter: prefixFilter(transfer.UploadImgPrefix)},
	}})

	jpeg, png := mediatest.Sample(media.JPEG, 2048), mediatest.Sample(media.PNG, 4096)
	st.Put(t, "upload/image/holiday photo (2).jpg", jpeg)
	st.Put(t, "upload/thumb/t.jpg", mediatest.Sample(media.JPEG, 1024))
	st.Put(t, "uploadimg/banner 2.png", png)
	// Keys no prefix names: no message.
	st.Put(t, "results/upload/image/x.jpg.json", []byte(`{}`))
	st.Put(t, "uploadimgs/x.png", png)
	st.Put(t, "inbox/upload/image/x.jpg", jpeg)

	t.Run("OK", func(t *testing.T) {
		// S3's test event (sent when the notification was configured) is
		// dropped; each put is done once.
		got := st.DrainSQS(t, "upload", uploadQ, 0)
		slices.Sort(got)
		if want := []string{"upload/image/holiday photo (2).jpg", "upload/thumb/t.jpg"}; !slices.Equal(got, want) {
			t.Errorf("upload's queue carried %q, want %q", got, want)
		}
		if got, want := st.DrainSQS(t, "uploadimg", imgQ, 0), []string{"uploadimg/banner 2.png"}; !slices.Equal(got, want) {
			t.Errorf("uploadimg's queue carried %q, want %q", got, want)
		}
		if r := st.Result(t, "upload/image/holiday photo (2).jpg"); r["type"] != "image" || r["media_id"] == nil {
			t.Errorf("image result %v, want a media_id", r)
		}
		if r := st.Result(t, "upload/thumb/t.jpg"); r["type"] != "thumb" || r["media_id"] == nil {
			t.Errorf("thumb result %v, want a media_id", r)
		}
		if r := st.Result(t, "uploadimg/banner 2.png"); !strings.HasPrefix(fmt.Sprint(r["url"]), "http") {
			t.Errorf("uploadimg result %v, want a url", r)
		}
	})

	t.Run("PartialBatchFailure", func(t *testing.T) {
		st.Put(t, "upload/image/first.jpg", mediatest.Sample(media.JPEG, 3000))
		st.Put(t, "upload/image/second.jpg", mediatest.Sample(media.JPEG, 3001))
		// WeChat is busy for the next media call and its two retries: the
		// batch's first record fails (kept for a retry), its second is done.
		// (A spent daily quota would stop both: see package quota.)
		st.Sim.SetFaults(wechatsim.Faults{Busy: 3})
		b := st.PollSQS(t, "upload", uploadQ, 10, 0)
		if b == nil || b.Err != nil || len(b.Messages) != 2 {
			t.Fatalf("batch %+v, want the two puts answered", b)
		}
		first := b.Messages[0].MessageId
		if got := b.Response.BatchItemFailures; len(got) != 1 || got[0].ItemIdentifier != first {
			t.Fatalf("BatchItemFailures %v, want the first message, %s, alone", got, first)
		}
		failedKey := b.Keys()[first][0]
		doneKey := map[string]string{"upload/image/first.jpg": "upload/image/second.jpg", "upload/image/second.jpg": "upload/image/first.jpg"}[failedKey]
		if r := st.Result(t, doneKey); r["media_id"] == nil {
			t.Errorf("%s: result %v, want a media_id", doneKey, r)
		}
		if r := st.Result(t, failedKey); r["errcode"] != float64(-1) {
			t.Errorf("%s: result %v, want errcode -1 recorded meanwhile", failedKey, r)
		}
		// After the visibility timeout the failed message alone comes again.
		uploads := st.Sim.Stats().Upload
		if got := st.DrainSQS(t, "upload", uploadQ, 0); !slices.Equal(got, []string{failedKey}) {
			t.Errorf("redelivered %q, want %q alone", got, failedKey)
		}
		if r := st.Result(t, failedKey); r["media_id"] == nil {
			t.Errorf("%s: result %v after the retry, want a media_id", failedKey, r)
		}
		if n := st.Sim.Stats().Upload - uploads; n != 1 {
			t.Errorf("uploads on redelivery: %d, want 1", n)
		}
	})

	t.Run("DeadLetters", func(t *testing.T) {
		st.Sim.SetFaults(wechatsim.Faults{IPBlocked: true})
		key := "upload/image/blocked.jpg"
		st.Put(t, key, mediatest.Sample(media.JPEG, 3002))
		for receive := 1; receive <= 2; receive++ {
			b := st.PollSQS(t, "upload", uploadQ, 10, 0)
			if b == nil || len(b.Response.BatchItemFailures) != 1 || len(b.Deleted) != 0 {
				t.Fatalf("receive %d: %+v, want the message reported failed (40164) and kept", receive, b)
			}
		}
		// The third receive finds it past maxReceiveCount: moved aside.
		if b := st.PollSQS(t, "upload", uploadQ, 10, 0); b != nil {
			t.Fatalf("a third delivery %+v, want the message in the dead-letter queue", b)
		}
		out, err := st.Moto.SQS().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &dlqURL, MaxNumberOfMessages: 10})
		if err != nil || len(out.Messages) != 1 {
			t.Fatalf("dead-letter queue: %v, %v; want the one message", out, err)
		}
		if r := st.Result(t, key); r["errcode"] != float64(40164) {
			t.Errorf("result %v, want errcode 40164 recorded: nothing fails silently", r)
		}
		// Mended, the dead letter goes back to its queue (what
		// start-message-move-task does) and is done.
		st.Sim.SetFaults(wechatsim.Faults{})
		if _, err := st.Moto.SQS().SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &uploadQ, MessageBody: out.Messages[0].Body}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Moto.SQS().DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &dlqURL, ReceiptHandle: out.Messages[0].ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
		if got := st.DrainSQS(t, "upload", uploadQ, 0); !slices.Equal(got, []string{key}) {
			t.Errorf("redrove %q, want %q", got, key)
		}
		if r := st.Result(t, key); r["media_id"] == nil {
			t.Errorf("result %v after the redrive, want a media_id", r)
		}
	})
}

// TestEventBridgeTrigger: S3 -> EventBridge (the bucket's
// EventBridgeConfiguration) -> the template's rule for uploadimg/. moto
// cannot invoke a Go function, so the rule's target is a queue: it
// receives the event exactly as EventBridge hands it to a Lambda target,
// and the event is then the function's payload. EventBridge invokes
// asynchronously: a failure is retried by Lambda, then kept in the
// failed-events queue and redriven.
func TestEventBridgeTrigger(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{})
	ctx := context.Background()
	targetURL, targetARN := st.Moto.QueueWith(t, nil)
	putNotifications(t, st, s3types.NotificationConfiguration{EventBridgeConfiguration: &s3types.EventBridgeConfiguration{}})
	// The pattern of template.yaml's UploadImgEventsRule (internal/deploy checks the template's).
	pattern, _ := json.Marshal(map[string]any{"source": []string{"aws.s3"}, "detail-type": []string{"Object Created"},
		"detail": map[string]any{"bucket": map[string]any{"name": []string{st.Bucket}}, "object": map[string]any{"key": []any{map[string]string{"prefix": transfer.UploadImgPrefix}}}}})
	eb := st.Moto.EventBridge()
	rule := "wxmedia-uploadimg-" + st.Bucket
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: &rule, EventPattern: aws.String(string(pattern)), State: ebtypes.RuleStateEnabled}); err != nil {
		t.Fatalf("put rule: %v", err)
	}
	t.Cleanup(func() {
		eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: &rule, Ids: []string{"UploadImgFunction"}})
		eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: &rule})
	})
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: &rule, Targets: []ebtypes.Target{{Id: aws.String("UploadImgFunction"), Arn: &targetARN}}}); err != nil {
		t.Fatalf("put targets: %v", err)
	}
	// receive takes the events delivered so far.
	receive := func(t *testing.T) [][]byte {
		t.Helper()
		out, err := st.Moto.SQS().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &targetURL, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		var got [][]byte
		for _, m := range out.Messages {
			got = append(got, []byte(aws.ToString(m.Body)))
			st.Moto.SQS().DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &targetURL, ReceiptHandle: m.ReceiptHandle})
		}
		return got
	}
	png := mediatest.Sample(media.PNG, 4096)

	t.Run("OK", func(t *testing.T) {
		key := "uploadimg/海报 2.png"
		st.Put(t, key, png)
		st.Put(t, "upload/image/x.jpg", mediatest.Sample(media.JPEG, 2048)) // upload's rule, not this one
		st.Put(t, "results/uploadimg/x.png.json", []byte(`{}`))
		evs := receive(t)
		if len(evs) != 1 {
			t.Fatalf("the rule delivered %d events, want the one put under uploadimg/", len(evs))
		}
		var e struct {
			Source     string `json:"source"`
			DetailType string `json:"detail-type"`
			Detail     struct {
				Object struct{ Key string } `json:"object"`
			} `json:"detail"`
		}
		if err := json.Unmarshal(evs[0], &e); err != nil || e.Source != "aws.s3" || e.DetailType != "Object Created" || e.Detail.Object.Key != key {
			t.Fatalf("event %s (%v), want aws.s3 Object Created of %s", evs[0], err, key)
		}
		if _, err := st.Functions["uploadimg"].Invoke(ctx, evs[0]); err != nil {
			t.Fatalf("invoke with the event: %v", err)
		}
		if r := st.Result(t, key); !strings.HasPrefix(fmt.Sprint(r["url"]), "http") {
			t.Errorf("result %v, want a url", r)
		}
	})

	t.Run("FailedThenRedriven", func(t *testing.T) {
		key := "uploadimg/blocked.png"
		st.Put(t, key, mediatest.Sample(media.PNG, 4097))
		evs := receive(t)
		if len(evs) != 1 {
			t.Fatalf("the rule delivered %d events, want 1", len(evs))
		}
		st.Sim.SetFaults(wechatsim.Faults{IPBlocked: true})
		if failed := st.InvokeAsync(t, "uploadimg", evs[0]); !failed {
			t.Fatal("the event succeeded with WeChat refusing the IP; want it kept in the failed-events queue")
		}
		if r := st.Result(t, key); r["errcode"] != float64(40164) {
			t.Errorf("result %v, want errcode 40164 recorded", r)
		}
		st.Sim.SetFaults(wechatsim.Faults{})
		if n := st.Redrive(t, "uploadimg"); n != 1 {
			t.Errorf("redrove %d events, want 1", n)
		}
		if r := st.Result(t, key); !strings.HasPrefix(fmt.Sprint(r["url"]), "http") {
			t.Errorf("result %v after the redrive, want a url", r)
		}
	})
}
