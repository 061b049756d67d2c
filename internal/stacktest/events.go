package stacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/wxmedia/wxmedia/pkg/completion"
)

// Published is a completion event as a rule's SQS target receives it: the
// EventBridge envelope.
type Published struct {
	Source     string            `json:"source"`
	DetailType string            `json:"detail-type"`
	Detail     completion.Detail `json:"detail"`
}

// WatchEvents routes the completion events published on the stack's bus
// from now on to a queue, as a team's rule would (source wxmedia), and
// returns what has arrived there so far each time it is called.
func (st *Stack) WatchEvents(t testing.TB) func() []Published {
	t.Helper()
	ctx := context.Background()
	eb, q := st.Moto.EventBridge(), st.Moto.Queue(t)
	pattern, _ := json.Marshal(map[string][]string{"source": {completion.Source}})
	rule := "wxmedia-completion"
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: &rule, EventBusName: &st.EventBus, EventPattern: aws.String(string(pattern))}); err != nil {
		t.Fatalf("put rule: %v", err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: &rule, EventBusName: &st.EventBus,
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(st.Moto.QueueARN(t, q))}}}); err != nil {
		t.Fatalf("put targets: %v", err)
	}
	var got []Published
	return func() []Published {
		t.Helper()
		for {
			out, err := st.Moto.SQS().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &q, MaxNumberOfMessages: 10})
			if err != nil {
				t.Fatalf("receive events: %v", err)
			}
			if len(out.Messages) == 0 {
				return got
			}
			for _, m := range out.Messages {
				var p Published
				if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &p); err != nil {
					t.Fatalf("event %s: %v", aws.ToString(m.Body), err)
				}
				got = append(got, p)
				st.Moto.SQS().DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &q, ReceiptHandle: m.ReceiptHandle})
			}
		}
	}
}

// String is a compact form for failure messages.
func (p Published) String() string {
	return fmt.Sprintf("%s %s %+v", p.Source, p.DetailType, p.Detail)
}
