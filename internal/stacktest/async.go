package stacktest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Lambda's asynchronous invocation, as template.yaml configures it for the
// S3-triggered functions: an event whose invocation fails is retried
// (MaximumRetryAttempts: 2), then sent to the on-failure destination, the
// stack's FailedEventsQueue, in Lambda's destination record.

// Retries is the template's MaximumRetryAttempts.
const Retries = 2

// destinationRecord is what Lambda sends to an on-failure destination.
type destinationRecord struct {
	Version        string `json:"version"`
	Timestamp      string `json:"timestamp"`
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionArn            string `json:"functionArn"`
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	RequestPayload  json.RawMessage `json:"requestPayload"`
	ResponseContext struct {
		StatusCode      int    `json:"statusCode"`
		ExecutedVersion string `json:"executedVersion"`
		FunctionError   string `json:"functionError"`
	} `json:"responseContext"`
	ResponsePayload struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	} `json:"responsePayload"`
}

// InvokeAsync invokes fn with event as Lambda does an S3 notification: up
// to 1+Retries times while it fails, then into the failed-events queue. It
// reports whether the event ended there.
func (st *Stack) InvokeAsync(t testing.TB, fn string, event []byte) (failed bool) {
	t.Helper()
	return st.InvokeAsyncIn(t, st.Functions, fn, event)
}

// InvokeAsyncIn is InvokeAsync in a container of the stack's (Container):
// its tries run there.
func (st *Stack) InvokeAsyncIn(t testing.TB, container map[string]lambda.Handler, fn string, event []byte) (failed bool) {
	t.Helper()
	var err error
	for attempt := 1; attempt <= 1+Retries; attempt++ {
		if _, err = container[fn].Invoke(context.Background(), event); err == nil {
			return false
		}
	}
	var rec destinationRecord
	rec.Version, rec.Timestamp = "1.0", time.Now().UTC().Format(time.RFC3339Nano)
	rec.RequestContext.RequestID = "async-" + fn
	rec.RequestContext.FunctionArn = "arn:aws:lambda:us-east-1:123456789012:function:wxmedia-" + fn + ":$LATEST"
	rec.RequestContext.Condition = "RetriesExhausted"
	rec.RequestContext.ApproximateInvokeCount = 1 + Retries
	rec.RequestPayload = event
	rec.ResponseContext.StatusCode, rec.ResponseContext.ExecutedVersion, rec.ResponseContext.FunctionError = 200, "$LATEST", "Unhandled"
	rec.ResponsePayload.ErrorMessage, rec.ResponsePayload.ErrorType = err.Error(), "RecordsError"
	body, _ := json.Marshal(rec)
	if _, err := st.Moto.SQS().SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &st.FailedEvents, MessageBody: aws.String(string(body))}); err != nil {
		t.Fatalf("send to the failed-events queue: %v", err)
	}
	return true
}

// Redrive takes every event in the failed-events queue and invokes fn with
// it again (asynchronously, as `aws lambda invoke --invocation-type Event`
// would), deleting the message once it is handed over, as the redrive
// of docs/deploying.md does. It returns how many events it redrove.
func (st *Stack) Redrive(t testing.TB, fn string) int {
	t.Helper()
	n := 0
	for {
		out, err := st.Moto.SQS().ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &st.FailedEvents, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatalf("receive from the failed-events queue: %v", err)
		}
		if len(out.Messages) == 0 {
			return n
		}
		for _, m := range out.Messages {
			var rec destinationRecord
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &rec); err != nil || len(rec.RequestPayload) == 0 {
				t.Fatalf("a failed-events message without the event: %v", errors.Join(err, errors.New(aws.ToString(m.Body))))
			}
			st.InvokeAsync(t, fn, rec.RequestPayload)
			if _, err := st.Moto.SQS().DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &st.FailedEvents, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("delete from the failed-events queue: %v", err)
			}
			n++
		}
	}
}
