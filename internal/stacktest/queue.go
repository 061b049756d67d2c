package stacktest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/wxmedia/wxmedia/internal/awstest"
)

// Lambda's SQS event source mapping, as template.yaml configures it with
// TriggerMode=SQS (FunctionResponseTypes: ReportBatchItemFailures): it
// receives a batch from the function's queue and invokes the function with
// it; it then deletes the messages the answer's BatchItemFailures does not
// name. Those, and the whole batch if the invocation failed, become visible
// again after the queue's visibility timeout, until the queue's redrive
// policy moves them to its dead-letter queue.

// Batch is one delivery of a queue's messages to a function.
type Batch struct {
	Messages []events.SQSMessage
	// Response is the function's answer; Err its error, which fails the
	// whole batch.
	Response events.SQSEventResponse
	Err      error
	// Deleted are the ids of the messages deleted after the invocation.
	Deleted []string
}

// Keys are the object keys the batch's S3 notifications name (decoded),
// by message id; S3's test event names none.
func (b *Batch) Keys() map[string][]string {
	out := map[string][]string{}
	for _, m := range b.Messages {
		var n events.S3Event
		if json.Unmarshal([]byte(m.Body), &n) != nil {
			continue
		}
		for _, r := range n.Records {
			out[m.MessageId] = append(out[m.MessageId], r.S3.Object.URLDecodedKey)
		}
	}
	return out
}

// PollSQS receives up to max messages from the queue (waiting up to wait
// seconds for one) and hands them to function fn as the event source
// mapping does. It returns nil if no message came.
func (st *Stack) PollSQS(t testing.TB, fn, queueURL string, max, wait int32) *Batch {
	t.Helper()
	ctx := context.Background()
	c := st.Moto.SQS()
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &queueURL, MaxNumberOfMessages: max, WaitTimeSeconds: wait,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}})
	if err != nil {
		t.Fatalf("receive from %s: %v", queueURL, err)
	}
	if len(out.Messages) == 0 {
		return nil
	}
	arn := st.Moto.QueueARN(t, queueURL)
	b := &Batch{}
	handles := map[string]*string{}
	for _, m := range out.Messages {
		id := aws.ToString(m.MessageId)
		handles[id] = m.ReceiptHandle
		b.Messages = append(b.Messages, events.SQSMessage{
			// moto's notifications lack the zone of S3's eventTime: mended, nothing else.
			MessageId: id, ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: awstest.S3Notification(aws.ToString(m.Body)),
			Md5OfBody: aws.ToString(m.MD5OfBody), Attributes: m.Attributes,
			EventSource: "aws:sqs", EventSourceARN: arn, AWSRegion: awstest.Region,
		})
	}
	payload, err := json.Marshal(events.SQSEvent{Records: b.Messages})
	if err != nil {
		t.Fatal(err)
	}
	answer, err := st.Functions[fn].Invoke(ctx, payload)
	if b.Err = err; err != nil {
		return b
	}
	if err := json.Unmarshal(answer, &b.Response); err != nil {
		t.Fatalf("%s answered an SQS batch with %s: %v", fn, answer, err)
	}
	failed := map[string]bool{}
	for _, f := range b.Response.BatchItemFailures {
		if _, ok := handles[f.ItemIdentifier]; !ok {
			// Lambda fails the whole batch when an identifier is not one of its messages.
			t.Fatalf("%s reported a failure of message %q, which is not in the batch", fn, f.ItemIdentifier)
		}
		failed[f.ItemIdentifier] = true
	}
	for id, h := range handles {
		if failed[id] {
			continue
		}
		if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &queueURL, ReceiptHandle: h}); err != nil {
			t.Fatalf("delete %s from %s: %v", id, queueURL, err)
		}
		b.Deleted = append(b.Deleted, id)
	}
	return b
}

// DrainSQS polls the queue until it is empty (a poll waits up to wait
// seconds), failing t if any batch reports a failure or fails. It returns
// the keys of the notifications handled.
func (st *Stack) DrainSQS(t testing.TB, fn, queueURL string, wait int32) []string {
	t.Helper()
	var keys []string
	for i := 0; ; i++ {
		b := st.PollSQS(t, fn, queueURL, 10, wait)
		if b == nil {
			return keys
		}
		if b.Err != nil || len(b.Response.BatchItemFailures) > 0 {
			t.Fatalf("batch %d of %s: error %v, failures %v", i, fn, b.Err, b.Response.BatchItemFailures)
		}
		for _, ks := range b.Keys() {
			keys = append(keys, ks...)
		}
		if i > 100 {
			t.Fatalf("%s: the queue does not empty", queueURL)
		}
	}
}
