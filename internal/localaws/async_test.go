package localaws

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func TestAsync(t *testing.T) {
	e, err := Event(Created{Bucket: "b", Key: "upload/image/a b.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		failures int // the attempts that fail before one succeeds
		calls    int
		failed   int
	}{
		{"OK", 0, 1, 0},
		{"FirstRetry", 1, 2, 0},
		{"SecondRetry", 2, 3, 0},
		{"RetriesExhausted", 3, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			a := NewAsync(func(ctx context.Context, e events.S3Event) error {
				if int(calls.Add(1)) <= tc.failures {
					return errors.New("1 record(s) failed and will be retried")
				}
				return nil
			}, AsyncOptions{TimeScale: 1e-4, FunctionARN: func(events.S3Event) string { return "arn:aws:lambda:us-east-1:000000000000:function:f" }})
			defer a.Close()
			start := time.Now()
			if err := a.Invoke(context.Background(), e); err != nil {
				t.Fatalf("Invoke: %v, want nil (accepted)", err)
			}
			a.Wait()
			if got := int(calls.Load()); got != tc.calls {
				t.Errorf("calls: got %d, want %d", got, tc.calls)
			}
			// Lambda's 1 and 2 minutes, scaled: 6 ms and 12 ms.
			if tc.calls == 3 && time.Since(start) < 18*time.Millisecond {
				t.Errorf("3 attempts in %v, want at least 18 ms (1 min + 2 min at 1e-4)", time.Since(start))
			}
			f := a.Failed()
			if len(f) != tc.failed {
				t.Fatalf("failed events: got %d, want %d", len(f), tc.failed)
			}
			if tc.failed == 0 {
				return
			}
			rc := f[0].RequestContext
			if rc.Condition != "RetriesExhausted" || rc.ApproximateInvokeCount != 3 || rc.FunctionARN != "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST" ||
				f[0].RequestPayload.Records[0].S3.Object.Key != "upload/image/a+b.jpg" || f[0].ResponsePayload.ErrorMessage == "" {
				t.Errorf("failed event: got %+v, want Lambda's invocation record of the event", f[0])
			}
			// A redrive invokes the function again, and empties the queue.
			if n := a.Redrive(); n != 1 {
				t.Errorf("redriven: got %d, want 1", n)
			}
			a.Wait()
			if got := int(calls.Load()); got != tc.calls+1 || len(a.Failed()) != 0 {
				t.Errorf("after the redrive: %d calls, %d failed; want %d and 0", got, len(a.Failed()), tc.calls+1)
			}
		})
	}
}
