package metrics_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/wxmedia/wxmedia/internal/emftest"
	"github.com/wxmedia/wxmedia/pkg/metrics"
)

// clock ticks 10 ms on each reading.
func clock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(10 * time.Millisecond)
		return t
	}
}

func invocation(fn string) context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1",
		InvokedFunctionArn: "arn:aws:lambda:ap-east-1:123456789012:function:" + fn})
}

func TestScriptedRun(t *testing.T) {
	var out bytes.Buffer
	r := metrics.New(&out, metrics.Options{Namespace: "wxmedia-test", Now: clock(), Detailed: true})

	// An upload that retried once and succeeded.
	ctx := r.Begin(invocation("stack-Upload"), "upload")
	r.TokenFetch(ctx)
	r.SecretRead(ctx, false)
	r.WeChatAttempt(ctx, 120*time.Millisecond)
	r.WeChatRetry(ctx)
	r.WeChatAttempt(ctx, 80*time.Millisecond)
	r.WeChatCall(ctx, false)
	r.S3Call(ctx, 5*time.Millisecond, false)
	r.S3Call(ctx, 7*time.Millisecond, true)
	r.SentToWeChat(ctx, 2048)
	r.End(ctx, 0, 200)
	r.Reused(ctx) // after End: dropped

	// Two refusals and a WeChat failure.
	for _, code := range []int{40005, 40005, -1} {
		ctx := r.Begin(invocation("stack-Upload"), "upload")
		if code == -1 {
			r.WeChatCall(ctx, true)
		}
		r.End(ctx, code, map[int]int{40005: 415, -1: 502}[code])
	}
	// A get answered from the bucket, and an S3 record of another function.
	ctx = r.Begin(invocation("stack-Get"), "get")
	r.Reused(ctx)
	r.End(ctx, 0, 200)
	ctx = r.Begin(invocation("stack-UploadImg"), metrics.RouteS3)
	r.End(ctx, 45009, 429)
	r.End(ctx, 45009, 429) // a second End writes nothing

	docs, err := emftest.DecodeLines(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 6 {
		t.Fatalf("got %d documents, want one per scope (6):\n%s", len(docs), out.String())
	}
	sums, counts := emftest.Sums(docs)
	up := map[string]string{"Function": "stack-Upload", "Route": "upload"}
	for series, want := range map[string]float64{
		emftest.Series("Requests", up):  4,
		emftest.Series("Requests", nil): 6,
		emftest.Series("Requests", map[string]string{"Function": "stack-Get", "Route": "get"}):                                          1,
		emftest.Series("Errors", map[string]string{"ErrCode": "40005"}):                                                                 2,
		emftest.Series("Errors", map[string]string{"ErrCode": "-1"}):                                                                    1,
		emftest.Series("Errors", map[string]string{"ErrCode": "45009"}):                                                                 1,
		emftest.Series("Errors", map[string]string{"Function": "stack-Upload", "Route": "upload", "ErrCode": "40005", "Status": "415"}): 2,
		emftest.Series("Errors", map[string]string{"Function": "stack-UploadImg", "Route": "s3", "ErrCode": "45009", "Status": "429"}):  1,
		emftest.Series("WeChatRetries", up):                                                                                             1,
		emftest.Series("TokenFetches", up):                                                                                              1,
		emftest.Series("WeChatLatency", up):                                                                                             200,
		emftest.Series("S3Latency", up):                                                                                                 12,
		emftest.Series("S3Failures", up):                                                                                                1,
		emftest.Series("WeChatFailures", up):                                                                                            1,
		emftest.Series("BytesToWeChat", up):                                                                                             2048,
		emftest.Series("ReusedMediaIds", map[string]string{"Function": "stack-Get", "Route": "get"}):                                    1,
		emftest.Series("ReusedMediaIds", up):                                                                                            0,
		emftest.Series("SecretsManagerFailures", up):                                                                                    0,
	} {
		if got := sums[series]; got != want {
			t.Errorf("%s: got %v, want %v", series, got, want)
		}
	}
	if n := counts[emftest.Series(metrics.Outcome, nil)]; n != 6 {
		t.Errorf("Outcome values: got %d, want one per request (6)", n)
	}
	if n := counts[emftest.Series("WeChatLatency", up)]; n != 2 {
		t.Errorf("WeChatLatency samples: got %d, want 2 (one per attempt)", n)
	}
	for _, d := range docs {
		if d.Members["request_id"] != "req-1" {
			t.Errorf("request_id: got %v, want the invocation's", d.Members["request_id"])
		}
		for _, dir := range d.Directives {
			if dir.Namespace != "wxmedia-test" {
				t.Errorf("namespace %q, want the configured one", dir.Namespace)
			}
			for _, m := range dir.Metrics {
				if unit := metrics.Names()[m.Name]; unit != m.Unit {
					t.Errorf("%s: unit %s, want %s", m.Name, m.Unit, unit)
				}
			}
		}
	}
}

// TestDefaultSeries: without Detailed, the documents carry every
// measurement for a log query, but file only DefaultSeries, whatever the
// routes and errcodes; Outcome's values are the classes of the answers.
func TestDefaultSeries(t *testing.T) {
	var out bytes.Buffer
	r := metrics.New(&out, metrics.Options{Now: clock()})
	codes := []int{0, -1, 40164, 45009, 40005, 0}
	for i, code := range codes {
		ctx := r.Begin(invocation(fmt.Sprint("stack-F", i%2)), []string{"upload", metrics.RouteS3, "get"}[i%3])
		r.WeChatAttempt(ctx, time.Millisecond)
		r.S3Call(ctx, time.Millisecond, true)
		r.End(ctx, code, 502)
	}
	docs, err := emftest.DecodeLines(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	sums, counts := emftest.Sums(docs)
	var want []string
	for _, s := range metrics.DefaultSeries() {
		if len(s.Dimensions) != 0 {
			t.Fatalf("default series %v: want the service as a whole", s)
		}
		want = append(want, emftest.Series(s.Name, nil))
	}
	var got []string
	for series := range counts {
		got = append(got, series)
	}
	slices.Sort(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("series filed: got %v, want %v", got, want)
	}
	if n := counts[emftest.Series(metrics.Outcome, nil)]; n != len(codes) {
		t.Errorf("Outcome values: got %d, want one per request (%d)", n, len(codes))
	}
	if got, want := sums[emftest.Series(metrics.Outcome, nil)], float64(1+2+3); got != want {
		t.Errorf("Outcome sum: got %v, want %v (one each of -1, 40164, 45009)", got, want)
	}
	for _, d := range docs {
		for _, field := range []string{"Requests", "Latency", "WeChatLatency", "S3Failures", "Function", "Route"} {
			if _, ok := d.Members[field]; !ok {
				t.Errorf("document without %s, which the dashboard's log queries read: %v", field, d.Members)
			}
		}
	}
}

func TestAlarmedErrCodes(t *testing.T) {
	seen := map[int]bool{metrics.OutcomeOther: true}
	for _, a := range metrics.AlarmedErrCodes() {
		if got := metrics.OutcomeOf(a.ErrCode); got != a.Value || seen[a.Value] || a.Value < 0 {
			t.Errorf("errcode %d: Outcome %d, want %d, positive and its own", a.ErrCode, got, a.Value)
		}
		seen[a.Value] = true
	}
	if got := metrics.OutcomeOf(40005); got != metrics.OutcomeOther {
		t.Errorf("errcode 40005: Outcome %d, want %d", got, metrics.OutcomeOther)
	}
	if got := metrics.AlarmedErrCodes()[0].Stat(); got != "PR(0.5:1.5)" {
		t.Errorf("errcode -1's statistic: got %s, want PR(0.5:1.5)", got)
	}
}

func TestNoScopeRecordsNothing(t *testing.T) {
	var out bytes.Buffer
	r := metrics.New(&out, metrics.Options{})
	ctx := context.Background()
	r.WeChatRetry(ctx)
	r.S3Call(ctx, time.Second, true)
	r.End(ctx, -1, 502)
	var none *metrics.Recorder
	none.End(none.Begin(ctx, "upload"), 0, 200)
	if out.Len() != 0 {
		t.Errorf("got %q, want nothing without a scope", out.String())
	}
}

func TestSamplesCapped(t *testing.T) {
	var out bytes.Buffer
	r := metrics.New(&out, metrics.Options{})
	ctx := r.Begin(context.Background(), "get")
	for range 150 {
		r.S3Call(ctx, time.Millisecond, false)
	}
	r.End(ctx, 0, 200)
	if _, err := emftest.DecodeLines(out.Bytes()); err != nil {
		t.Fatalf("150 samples: %v", err)
	}
}

func TestDecodeRefusesWhatTheSpecForbids(t *testing.T) {
	for name, line := range map[string]string{
		"NoAWS":           `{"Requests":1}`,
		"NoTimestamp":     `{"_aws":{"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"Requests","Unit":"Count"}]}]},"Requests":1}`,
		"MissingValue":    `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"Requests","Unit":"Count"}]}]}}`,
		"MissingDim":      `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["Route"]],"Metrics":[{"Name":"Requests","Unit":"Count"}]}]},"Requests":1}`,
		"NumberDim":       `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["Route"]],"Metrics":[{"Name":"Requests","Unit":"Count"}]}]},"Route":3,"Requests":1}`,
		"BadUnit":         `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"Requests","Unit":"Things"}]}]},"Requests":1}`,
		"FractionCount":   `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"Requests","Unit":"Count"}]}]},"Requests":1.5}`,
		"StringValue":     `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"Requests","Unit":"Count"}]}]},"Requests":"1"}`,
		"31Dimensions":    fmt.Sprintf(`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[%s]],"Metrics":[{"Name":"R","Unit":"Count"}]}]},%s"R":1}`, dimKeys(31), dimMembers(31)),
		"TrailingGarbage": `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"R","Unit":"Count"}]}]},"R":1} x`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := emftest.Decode([]byte(line)); err == nil {
				t.Errorf("decoded %s, want an error", line)
			}
		})
	}
	ok := fmt.Sprintf(`{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[%s]],"Metrics":[{"Name":"R","Unit":"Count"}]}]},%s"R":[1,2]}`, dimKeys(30), dimMembers(30))
	if _, err := emftest.Decode([]byte(ok)); err != nil {
		t.Errorf("30 dimensions: %v", err)
	}
}

func dimKeys(n int) string {
	var k []string
	for i := range n {
		k = append(k, fmt.Sprintf(`"d%d"`, i))
	}
	return strings.Join(k, ",")
}

func dimMembers(n int) string {
	var m string
	for i := range n {
		m += fmt.Sprintf(`"d%d":"v",`, i)
	}
	return m
}

func ExampleRecorder() {
	var out bytes.Buffer
	r := metrics.New(&out, metrics.Options{Namespace: "wxmedia", Now: func() time.Time { return time.Unix(1795600800, 0) }})
	ctx := r.Begin(context.Background(), "get")
	r.Reused(ctx)
	r.End(ctx, 40007, 404)
	fmt.Print(out.String())
	// Output: {"ErrCode":"40007","Errors":1,"Function":"local","Latency":0,"Outcome":0,"Requests":1,"ReusedMediaIds":1,"Route":"get","Status":"404","_aws":{"Timestamp":1795600800000,"CloudWatchMetrics":[{"Namespace":"wxmedia","Dimensions":[[]],"Metrics":[{"Name":"Outcome","Unit":"None"}]}]}}
}
