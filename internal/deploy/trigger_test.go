package deploy

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/transfer"
)

// triggerModes are TriggerMode's values, the default first.
var triggerModes = []string{"S3", "SQS", "EventBridge"}

// triggerPrefix is the key prefix whose puts trigger each function.
var triggerPrefix = map[string]string{"UploadFunction": transfer.UploadPrefix, "UploadImgFunction": transfer.UploadImgPrefix}

// short is a function's id without "Function", which names its trigger
// resources and parameters (UploadQueue, UploadQueueConcurrency).
func short(fn string) string { return strings.TrimSuffix(fn, "Function") }

// target names the resource of a "ref:X" or "getatt:X.Arn".
func target(v any) string {
	s := strings.TrimPrefix(strings.TrimPrefix(fmt.Sprint(v), "ref:"), "getatt:")
	return strings.TrimSuffix(s, ".Arn")
}

// ofType lists the ids of the resources of a type, sorted.
func ofType(res map[string]map[string]any, typ string) []string {
	var ids []string
	for id, r := range res {
		if r["Type"] == typ {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// invokers lists, for each function, whatever in the stack can invoke it
// other than its HTTP API routes (whose permissions SAM writes): resource
// permissions, event source mappings, EventBridge rule targets, the
// bucket's notifications and SAM events of any other type.
func invokers(res map[string]map[string]any) map[string][]string {
	out := map[string][]string{}
	add := func(fn, how string) { out[fn] = append(out[fn], how) }
	for id, r := range res {
		props, _ := r["Properties"].(map[string]any)
		switch r["Type"] {
		case "AWS::Lambda::Permission":
			add(target(props["FunctionName"]), fmt.Sprintf("%v from %v", props["Principal"], props["SourceArn"]))
		case "AWS::Lambda::EventSourceMapping":
			add(target(props["FunctionName"]), fmt.Sprintf("mapping of %v", props["EventSourceArn"]))
		case "AWS::Events::Rule":
			targets, _ := props["Targets"].([]any)
			for _, tg := range targets {
				add(target(path(tg, "Arn")), "rule "+id)
			}
		case "AWS::S3::Bucket":
			confs, _ := path(props, "NotificationConfiguration", "LambdaConfigurations").([]any)
			for _, c := range confs {
				add(target(path(c, "Function")), "notification of "+id)
			}
		case "AWS::Serverless::Function":
			evs, _ := props["Events"].(map[string]any)
			for name, ev := range evs {
				if typ := path(ev, "Type"); typ != "HttpApi" {
					add(id, fmt.Sprintf("SAM %v event %s", typ, name))
				}
			}
		}
	}
	for _, l := range out {
		slices.Sort(l)
	}
	return out
}

// onlyPrefix is the one key filter of an S3 notification, which must be a
// prefix.
func onlyPrefix(t *testing.T, where string, conf any) string {
	t.Helper()
	if e := path(conf, "Event"); e != "s3:ObjectCreated:*" {
		t.Errorf("%s: event %v, want s3:ObjectCreated:*", where, e)
	}
	rules, _ := path(conf, "Filter", "S3Key", "Rules").([]any)
	if len(rules) != 1 || !strings.EqualFold(fmt.Sprint(path(rules[0], "Name")), "prefix") {
		t.Errorf("%s: key filter %v, want exactly one prefix", where, rules)
		return ""
	}
	return fmt.Sprint(path(rules[0], "Value"))
}

// timeoutOf is a function's timeout in seconds, its own or the Globals'.
func timeoutOf(s *stack, fn map[string]any) int {
	if v, ok := path(fn, "Properties", "Timeout").(int); ok {
		return v
	}
	v, _ := path(s.eval(path(s.template, "Globals", "Function")), "Timeout").(int)
	return v
}

func TestTriggerParameters(t *testing.T) {
	params, _ := loadTemplate(t)["Parameters"].(map[string]any)
	mode, _ := params["TriggerMode"].(map[string]any)
	if mode["Default"] != "S3" || !reflect.DeepEqual(mode["AllowedValues"], []any{"S3", "SQS", "EventBridge"}) {
		t.Errorf("TriggerMode: default %v of %v, want S3 of [S3 SQS EventBridge]", mode["Default"], mode["AllowedValues"])
	}
	// MaximumConcurrency is at least 2 (AWS refuses less); a batch holds at most 10 without a batching window.
	for name, want := range map[string][2]int{"UploadQueueConcurrency": {2, 1000}, "UploadImgQueueConcurrency": {2, 1000}, "QueueBatchSize": {1, 10}} {
		p, _ := params[name].(map[string]any)
		def, _ := p["Default"].(int)
		if p["Type"] != "Number" || p["MinValue"] != want[0] || p["MaxValue"] != want[1] || def < want[0] || def > want[1] {
			t.Errorf("%s: %v, want a Number from %d to %d", name, p, want[0], want[1])
		}
	}
	// The queue's cap leaves the HTTP routes some of the function's reserved concurrency.
	for _, fn := range []string{"Upload", "UploadImg"} {
		queue, _ := path(params, fn+"QueueConcurrency", "Default").(int)
		reserved, _ := path(params, fn+"ReservedConcurrency", "Default").(int)
		if reserved != -1 && queue >= reserved {
			t.Errorf("%sQueueConcurrency %d, want below %sReservedConcurrency %d by default", fn, queue, fn, reserved)
		}
	}
}

// TestTriggers checks, for each TriggerMode, which resources exist, that
// the bucket's notifications or rules filter exactly the trigger prefixes,
// and that each function is invoked by what that mode wires and nothing
// else.
func TestTriggers(t *testing.T) {
	tpl := loadTemplate(t)
	wantTypes := map[string]map[string][]string{
		"S3": {
			"AWS::Lambda::Permission":         {"UploadImgS3Permission", "UploadS3Permission"},
			"AWS::SQS::Queue":                 {"FailedEventsQueue"},
			"AWS::SQS::QueuePolicy":           nil,
			"AWS::Lambda::EventSourceMapping": nil,
			"AWS::Events::Rule":               nil,
		},
		"SQS": {
			"AWS::Lambda::Permission":         nil,
			"AWS::SQS::Queue":                 {"FailedEventsQueue", "UploadDeadLetterQueue", "UploadImgDeadLetterQueue", "UploadImgQueue", "UploadQueue"},
			"AWS::SQS::QueuePolicy":           {"UploadImgQueuePolicy", "UploadQueuePolicy"},
			"AWS::Lambda::EventSourceMapping": {"UploadImgQueueMapping", "UploadQueueMapping"},
			"AWS::Events::Rule":               nil,
		},
		"EventBridge": {
			"AWS::Lambda::Permission":         {"UploadEventsPermission", "UploadImgEventsPermission"},
			"AWS::SQS::Queue":                 {"FailedEventsQueue", "UploadDeadLetterQueue", "UploadImgDeadLetterQueue"},
			"AWS::SQS::QueuePolicy":           {"UploadDeadLetterQueuePolicy", "UploadImgDeadLetterQueuePolicy"},
			"AWS::Lambda::EventSourceMapping": nil,
			"AWS::Events::Rule":               {"UploadEventsRule", "UploadImgEventsRule"},
		},
	}
	bucketARN := "arn:aws:s3:::wxmedia-media-123456789012"
	wantInvokers := map[string]map[string][]string{
		"S3": {
			"UploadFunction":    {"notification of MediaBucket", "s3.amazonaws.com from " + bucketARN},
			"UploadImgFunction": {"notification of MediaBucket", "s3.amazonaws.com from " + bucketARN},
		},
		"SQS": {
			"UploadFunction":    {"mapping of getatt:UploadQueue.Arn"},
			"UploadImgFunction": {"mapping of getatt:UploadImgQueue.Arn"},
		},
		"EventBridge": {
			"UploadFunction":    {"events.amazonaws.com from getatt:UploadEventsRule.Arn", "rule UploadEventsRule"},
			"UploadImgFunction": {"events.amazonaws.com from getatt:UploadImgEventsRule.Arn", "rule UploadImgEventsRule"},
		},
	}
	wantNotifications := map[string][]string{"S3": {"LambdaConfigurations"}, "SQS": {"QueueConfigurations"}, "EventBridge": {"EventBridgeConfiguration"}}
	for _, mode := range triggerModes {
		t.Run(mode, func(t *testing.T) {
			var overrides map[string]string
			if mode != "S3" {
				overrides = map[string]string{"TriggerMode": mode}
			}
			s := newStack(t, tpl, overrides)
			res := s.resources()
			for typ, want := range wantTypes[mode] {
				if got := ofType(res, typ); !slices.Equal(got, want) {
					t.Errorf("%s: got %v, want %v", typ, got, want)
				}
			}
			if got := invokers(res); !reflect.DeepEqual(got, wantInvokers[mode]) {
				t.Errorf("what invokes the functions:\n got %v\nwant %v", got, wantInvokers[mode])
			}
			bucket := res["MediaBucket"]
			notif, _ := path(bucket, "Properties", "NotificationConfiguration").(map[string]any)
			if got := slices.Sorted(maps.Keys(notif)); !slices.Equal(got, wantNotifications[mode]) {
				t.Errorf("MediaBucket notifications %v, want only %v", got, wantNotifications[mode])
			}
			got := map[string]string{} // function -> the prefix that triggers it
			switch mode {
			case "S3":
				checkS3Mode(t, s, res, got)
			case "SQS":
				checkSQSMode(t, s, res, got)
			case "EventBridge":
				checkEventBridgeMode(t, s, res, got)
			}
			if !reflect.DeepEqual(got, triggerPrefix) {
				t.Errorf("trigger prefixes: got %v, want %v", got, triggerPrefix)
			}
			// S3 checks a notification's destination when the notification is
			// written: the bucket waits for what its destinations need.
			var ready []string
			for _, r := range strs(path(bucket, "Metadata", "TriggerDestinationsReady")) {
				ready = append(ready, target(r))
			}
			slices.Sort(ready)
			var wantReady []string
			switch mode {
			case "S3":
				wantReady = ofType(res, "AWS::Lambda::Permission")
			case "SQS":
				wantReady = ofType(res, "AWS::SQS::QueuePolicy")
			}
			if !slices.Equal(ready, wantReady) {
				t.Errorf("MediaBucket waits for %v, want %v", ready, wantReady)
			}
			// An event that still fails after Lambda's retries (S3 and EventBridge
			// invoke asynchronously) is kept, not dropped.
			for id := range triggerPrefix {
				dest := path(res[id], "Properties", "EventInvokeConfig", "DestinationConfig", "OnFailure")
				if path(dest, "Type") != "SQS" || path(dest, "Destination") != "getatt:FailedEventsQueue.Arn" {
					t.Errorf("%s: on-failure destination %v, want FailedEventsQueue", id, dest)
				}
			}
		})
	}
	// What the functions write must never trigger them.
	for _, p := range triggerPrefix {
		for _, written := range []string{bucket.ResultsPrefix, bucket.ClaimsPrefix, bucket.MediaPrefix} {
			if p == "" || strings.HasPrefix(written, p) || strings.HasPrefix(p, written) {
				t.Errorf("trigger prefix %q overlaps %s", p, written)
			}
		}
	}
	// The ledger's claims expire: they matter for the hours an event is retried.
	expires := false
	rules, _ := path(newStack(t, tpl, nil).resources()["MediaBucket"], "Properties", "LifecycleConfiguration", "Rules").([]any)
	for _, r := range rules {
		if path(r, "Prefix") == bucket.ClaimsPrefix && path(r, "Status") == "Enabled" && path(r, "ExpirationInDays") != nil {
			expires = true
		}
	}
	if !expires {
		t.Errorf("no lifecycle rule expires %s", bucket.ClaimsPrefix)
	}
}

func checkS3Mode(t *testing.T, s *stack, res map[string]map[string]any, got map[string]string) {
	confs, _ := path(res["MediaBucket"], "Properties", "NotificationConfiguration", "LambdaConfigurations").([]any)
	for i, c := range confs {
		got[target(path(c, "Function"))] = onlyPrefix(t, fmt.Sprintf("LambdaConfigurations[%d]", i), c)
	}
	for _, id := range ofType(res, "AWS::Lambda::Permission") {
		if acct := path(res[id], "Properties", "SourceAccount"); acct != s.pseudo["AWS::AccountId"] {
			t.Errorf("%s: SourceAccount %v, want the stack's account", id, acct)
		}
	}
}

func checkSQSMode(t *testing.T, s *stack, res map[string]map[string]any, got map[string]string) {
	mapped := map[string]string{} // queue -> function
	for _, id := range ofType(res, "AWS::Lambda::EventSourceMapping") {
		props := res[id]["Properties"].(map[string]any)
		fn := target(props["FunctionName"])
		mapped[target(props["EventSourceArn"])] = fn
		if !reflect.DeepEqual(props["FunctionResponseTypes"], []any{"ReportBatchItemFailures"}) {
			t.Errorf("%s: FunctionResponseTypes %v, want [ReportBatchItemFailures] (s3event.HandleSQS answers them)", id, props["FunctionResponseTypes"])
		}
		if got, want := fmt.Sprint(path(props, "ScalingConfig", "MaximumConcurrency")), s.params[short(fn)+"QueueConcurrency"]; got != want {
			t.Errorf("%s: MaximumConcurrency %s, want %sQueueConcurrency's %v", id, got, short(fn), want)
		}
		if got, want := fmt.Sprint(props["BatchSize"]), s.params["QueueBatchSize"]; got != want {
			t.Errorf("%s: BatchSize %s, want QueueBatchSize's %v", id, got, want)
		}
	}
	confs, _ := path(res["MediaBucket"], "Properties", "NotificationConfiguration", "QueueConfigurations").([]any)
	for i, c := range confs {
		queue := target(path(c, "Queue"))
		fn, ok := mapped[queue]
		if !ok {
			t.Errorf("QueueConfigurations[%d]: queue %s is read by no function", i, queue)
			continue
		}
		got[fn] = onlyPrefix(t, fmt.Sprintf("QueueConfigurations[%d]", i), c)
		q, _ := res[queue]["Properties"].(map[string]any)
		// Lambda's advice: six times the function's timeout.
		if vt, _ := q["VisibilityTimeout"].(int); vt < 6*timeoutOf(s, res[fn]) {
			t.Errorf("%s: VisibilityTimeout %v, want at least 6 x %s's %d s", queue, q["VisibilityTimeout"], fn, timeoutOf(s, res[fn]))
		}
		dlq := target(path(q, "RedrivePolicy", "deadLetterTargetArn"))
		n, _ := path(q, "RedrivePolicy", "maxReceiveCount").(int)
		if res[dlq]["Type"] != "AWS::SQS::Queue" || n < 5 || n > 20 {
			t.Errorf("%s: RedrivePolicy %v, want a dead-letter queue of the stack after 5 to 20 receives", queue, q["RedrivePolicy"])
		}
		// A standard queue's dead letters keep their first enqueue time: the
		// dead-letter queue must keep them longer than the queue did.
		if keep, _ := path(res[dlq], "Properties", "MessageRetentionPeriod").(int); keep <= q["MessageRetentionPeriod"].(int) {
			t.Errorf("%s keeps messages %d s, want longer than %s's %v s", dlq, keep, queue, q["MessageRetentionPeriod"])
		}
		policy := queuePolicyOf(t, res, queue)
		checkSendOnlyFrom(t, queue, policy, "s3.amazonaws.com", map[string]map[string]any{
			"ArnEquals":    {"aws:SourceArn": "arn:aws:s3:::" + fmt.Sprint(path(res["MediaBucket"], "Properties", "BucketName"))},
			"StringEquals": {"aws:SourceAccount": s.pseudo["AWS::AccountId"]},
		})
	}
}

func checkEventBridgeMode(t *testing.T, s *stack, res map[string]map[string]any, got map[string]string) {
	if on := path(res["MediaBucket"], "Properties", "NotificationConfiguration", "EventBridgeConfiguration", "EventBridgeEnabled"); on != true {
		t.Errorf("EventBridgeConfiguration.EventBridgeEnabled %v, want true", on)
	}
	bucket := path(res["MediaBucket"], "Properties", "BucketName")
	for _, id := range ofType(res, "AWS::Events::Rule") {
		props := res[id]["Properties"].(map[string]any)
		if bus, ok := props["EventBusName"]; ok && bus != "default" {
			t.Errorf("%s: bus %v, want the default bus, where S3 sends", id, bus)
		}
		targets, _ := props["Targets"].([]any)
		if len(targets) != 1 {
			t.Errorf("%s: targets %v, want one function", id, targets)
			continue
		}
		fn := target(path(targets[0], "Arn"))
		pattern := props["EventPattern"]
		prefix, _ := path(pattern, "detail", "object", "key").([]any)
		if len(prefix) == 1 {
			got[fn] = fmt.Sprint(path(prefix[0], "prefix"))
		}
		want := map[string]any{"source": []any{"aws.s3"}, "detail-type": []any{"Object Created"},
			"detail": map[string]any{"bucket": map[string]any{"name": []any{bucket}}, "object": map[string]any{"key": []any{map[string]any{"prefix": triggerPrefix[fn]}}}}}
		if !reflect.DeepEqual(pattern, want) {
			t.Errorf("%s: pattern %v, want %v", id, pattern, want)
		}
		retry := path(targets[0], "RetryPolicy")
		if n, _ := path(retry, "MaximumRetryAttempts").(int); n < 1 || path(retry, "MaximumEventAgeInSeconds") == nil {
			t.Errorf("%s: RetryPolicy %v, want retries for a bounded age", id, retry)
		}
		dlq := target(path(targets[0], "DeadLetterConfig", "Arn"))
		if res[dlq]["Type"] != "AWS::SQS::Queue" {
			t.Errorf("%s: dead-letter queue %q is not a queue of the stack", id, dlq)
			continue
		}
		checkSendOnlyFrom(t, dlq, queuePolicyOf(t, res, dlq), "events.amazonaws.com", map[string]map[string]any{
			"ArnEquals": {"aws:SourceArn": "getatt:" + id + ".Arn"},
		})
	}
}

// queuePolicyOf is the one queue policy of a queue.
func queuePolicyOf(t *testing.T, res map[string]map[string]any, queue string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, id := range ofType(res, "AWS::SQS::QueuePolicy") {
		for _, q := range strs(path(res[id], "Properties", "Queues")) {
			if target(q) == queue {
				found = append(found, res[id])
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: %d queue policies, want 1", queue, len(found))
	}
	return found[0]
}

// checkSendOnlyFrom checks that a queue's policy lets exactly one service
// send to it, under exactly these conditions.
func checkSendOnlyFrom(t *testing.T, queue string, policy map[string]any, service string, conditions map[string]map[string]any) {
	t.Helper()
	stmts, _ := path(policy, "Properties", "PolicyDocument", "Statement").([]any)
	if len(stmts) != 1 {
		t.Fatalf("%s policy: %d statements, want 1", queue, len(stmts))
	}
	st := stmts[0]
	if path(st, "Effect") != "Allow" || !reflect.DeepEqual(path(st, "Principal"), map[string]any{"Service": service}) ||
		!slices.Equal(strs(path(st, "Action")), []string{"sqs:SendMessage"}) || !slices.Equal(strs(path(st, "Resource")), []string{"getatt:" + queue + ".Arn"}) {
		t.Errorf("%s policy: %v, want sqs:SendMessage on it for %s alone", queue, st, service)
	}
	want := map[string]any{}
	for k, v := range conditions {
		want[k] = v
	}
	if got := path(st, "Condition"); !reflect.DeepEqual(got, want) {
		t.Errorf("%s policy: condition %v, want %v", queue, got, want)
	}
}

// checkQueuePolicy checks a queue policy anywhere in a stack: a service
// may send to the queue the policy is attached to, from one source.
// TestTriggers checks which service and source.
func checkQueuePolicy(t *testing.T, id string, r map[string]any) {
	t.Helper()
	queues := strs(path(r, "Properties", "Queues"))
	stmts, _ := path(r, "Properties", "PolicyDocument", "Statement").([]any)
	for i, st := range stmts {
		where := fmt.Sprintf("%s.Statement[%d]", id, i)
		svc, _ := path(st, "Principal", "Service").(string)
		if !slices.Contains([]string{"s3.amazonaws.com", "events.amazonaws.com"}, svc) || path(st, "Effect") != "Allow" ||
			!slices.Equal(strs(path(st, "Action")), []string{"sqs:SendMessage"}) {
			t.Errorf("%s: %v, want S3 or EventBridge allowed sqs:SendMessage alone", where, st)
		}
		for _, r := range strs(path(st, "Resource")) {
			if len(queues) != 1 || r != "getatt:"+target(queues[0])+".Arn" {
				t.Errorf("%s: resource %s, want the queue the policy is attached to, %v", where, r, queues)
			}
		}
		if path(st, "Condition", "ArnEquals", "aws:SourceArn") == nil {
			t.Errorf("%s: no aws:SourceArn condition: any bucket or rule could send", where)
		}
	}
}

// triggerGrants are what a function's role needs for the TriggerMode, not
// for its code's calls: with SQS, Lambda's poller reads the function's
// queue with the function's role (AWSLambdaSQSQueueExecutionRole's three
// actions, on that queue alone).
func triggerGrants(mode, fn string) []string {
	if _, ok := triggerPrefix[fn]; !ok || mode != "SQS" {
		return nil
	}
	q := "getatt:" + short(fn) + "Queue.Arn"
	return []string{"sqs:DeleteMessage " + q, "sqs:GetQueueAttributes " + q, "sqs:ReceiveMessage " + q}
}

func TestTriggerOutputs(t *testing.T) {
	tpl := loadTemplate(t)
	queues := []string{"UploadQueueUrl", "UploadImgQueueUrl"}
	dead := []string{"UploadDeadLetterQueueArn", "UploadDeadLetterQueueUrl", "UploadImgDeadLetterQueueArn", "UploadImgDeadLetterQueueUrl"}
	for mode, want := range map[string][]string{"S3": nil, "SQS": append(slices.Clone(queues), dead...), "EventBridge": dead} {
		var got []string
		outs := newStack(t, tpl, map[string]string{"TriggerMode": mode}).outputs()
		for name := range outs {
			if strings.Contains(name, "Queue") && name != "FailedEventsQueueUrl" {
				got = append(got, name)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: queue outputs %v, want %v", mode, got, want)
		}
		if v := path(outs["TriggerMode"], "Value"); v != mode {
			t.Errorf("%s: output TriggerMode %v", mode, v)
		}
	}
}
