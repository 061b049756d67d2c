package deploy

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/internal/emftest"
	"github.com/wxmedia/wxmedia/pkg/bootstrap"
	"github.com/wxmedia/wxmedia/pkg/metrics"
	"github.com/wxmedia/wxmedia/pkg/tracing"
)

// TestLogsAndTracing: JSON logs at the LogLevel parameter (Lambda sets
// AWS_LAMBDA_LOG_LEVEL from it), tracing from the Tracing parameter
// (Active by default), and the functions told the metrics' namespace.
func TestLogsAndTracing(t *testing.T) {
	tpl := loadTemplate(t)
	params, _ := tpl["Parameters"].(map[string]any)
	for name, want := range map[string]struct {
		def    string
		values []any
	}{
		"LogLevel":        {"INFO", []any{"TRACE", "DEBUG", "INFO"}},
		"Tracing":         {"PassThrough", []any{tracing.Active, "PassThrough"}},
		"DetailedMetrics": {"false", []any{"true", "false"}},
	} {
		p, _ := params[name].(map[string]any)
		if p["Default"] != want.def || !reflect.DeepEqual(p["AllowedValues"], want.values) {
			t.Errorf("parameter %s: default %v of %v, want %v of %v", name, p["Default"], p["AllowedValues"], want.def, want.values)
		}
	}
	if p, _ := params["MetricsNamespace"].(map[string]any); p["Default"] != metrics.DefaultNamespace {
		t.Errorf("MetricsNamespace default %v, want %s", p["Default"], metrics.DefaultNamespace)
	}
	for _, tc := range []map[string]string{nil, {"LogLevel": "DEBUG", "Tracing": tracing.Active, "MetricsNamespace": "wxmedia/prod", "DetailedMetrics": "true"}} {
		s := newStack(t, tpl, tc)
		globals, _ := s.eval(path(tpl, "Globals", "Function")).(map[string]any)
		want := func(name, def string) string {
			if v, ok := tc[name]; ok {
				return v
			}
			return def
		}
		logging := path(globals, "LoggingConfig")
		if path(logging, "LogFormat") != "JSON" || path(logging, "ApplicationLogLevel") != want("LogLevel", "INFO") || path(logging, "SystemLogLevel") == nil {
			t.Errorf("%v: LoggingConfig %v, want JSON at ApplicationLogLevel %s", tc, logging, want("LogLevel", "INFO"))
		}
		if got := globals["Tracing"]; got != want("Tracing", "PassThrough") {
			t.Errorf("%v: Tracing %v, want %s", tc, got, want("Tracing", "PassThrough"))
		}
		env := path(globals, "Environment", "Variables")
		if path(env, "METRICS_NAMESPACE") != want("MetricsNamespace", "wxmedia") || path(env, tracing.EnvTracing) != want("Tracing", "PassThrough") ||
			path(env, bootstrap.EnvDetailedMetrics) != want("DetailedMetrics", "false") {
			t.Errorf("%v: environment %v, want METRICS_NAMESPACE, TRACING and DETAILED_METRICS from the parameters", tc, env)
		}
	}
}

// TestThrottlingAndConcurrency: route throttling on the HTTP API, and each
// function's reserved concurrency, unset with -1.
func TestThrottlingAndConcurrency(t *testing.T) {
	tpl := loadTemplate(t)
	reserved := map[string]string{"UploadFunction": "UploadReservedConcurrency", "UploadImgFunction": "UploadImgReservedConcurrency", "GetFunction": "GetReservedConcurrency",
		"ComponentFunction": "ComponentReservedConcurrency", "ResultFunction": "ResultReservedConcurrency"}
	for _, tc := range []map[string]string{nil, {"UploadReservedConcurrency": "-1", "GetReservedConcurrency": "3", "ApiThrottlingRateLimit": "5", "ApiThrottlingBurstLimit": "9"}} {
		s := newStack(t, tpl, tc)
		res := s.resources()
		settings := path(res["MediaApi"], "Properties", "DefaultRouteSettings")
		if path(settings, "ThrottlingRateLimit") != s.params["ApiThrottlingRateLimit"] || path(settings, "ThrottlingBurstLimit") != s.params["ApiThrottlingBurstLimit"] ||
			path(settings, "ThrottlingRateLimit") == nil {
			t.Errorf("%v: DefaultRouteSettings %v, want the throttling parameters", tc, settings)
		}
		for fn, param := range reserved {
			got, set := path(res[fn], "Properties").(map[string]any)["ReservedConcurrentExecutions"]
			switch v := s.params[param]; {
			case v == "-1" && set:
				t.Errorf("%v: %s reserves %v, want no reservation for -1", tc, fn, got)
			case v != "-1" && got != v:
				t.Errorf("%v: %s reserves %v, want %v", tc, fn, got, v)
			}
		}
	}
	// The defaults reserve, and the API's rate fits what they serve.
	s := newStack(t, tpl, nil)
	for _, param := range reserved {
		if s.params[param] == "-1" {
			t.Errorf("%s: no reservation by default", param)
		}
	}
}

// alarms are the template's alarms, by id.
func alarms(res map[string]map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range res {
		if r["Type"] == "AWS::CloudWatch::Alarm" {
			out[id] = r["Properties"].(map[string]any)
		}
	}
	return out
}

// alarmMetrics are the metrics an alarm reads: its own, or those of its
// math expression.
func alarmMetrics(a map[string]any) []map[string]any {
	if a["MetricName"] != nil {
		return []map[string]any{{"Namespace": a["Namespace"], "MetricName": a["MetricName"], "Dimensions": a["Dimensions"],
			"Stat": a["ExtendedStatistic"], "Threshold": a["Threshold"]}}
	}
	var out []map[string]any
	for _, m := range a["Metrics"].([]any) {
		if metric, ok := path(m, "MetricStat", "Metric").(map[string]any); ok {
			out = append(out, map[string]any{"Namespace": metric["Namespace"], "MetricName": metric["MetricName"],
				"Dimensions": metric["Dimensions"], "Stat": path(m, "MetricStat", "Stat"), "Threshold": a["Threshold"]})
		}
	}
	return out
}

// TestAlarms: the alarms docs/operations.md explains, each on
// what it says, and all notifying the topic when one is given. Every
// function's failures, throttles and near-timeouts are watched: on the
// HTTP side by the API's 5xx and integration latency, on the S3-triggered
// side by Lambda's own metrics of upload and uploadimg; the errcodes only
// the code sees through Outcome, one statistic each.
func TestAlarms(t *testing.T) {
	tpl := loadTemplate(t)
	s := newStack(t, tpl, map[string]string{"MetricsNamespace": "wxmedia/prod"})
	res := s.resources()
	globals, _ := s.eval(path(tpl, "Globals", "Function")).(map[string]any)
	all := alarms(res)
	found := map[string]bool{}
	for id, a := range all {
		for _, m := range alarmMetrics(a) {
			dims := fmt.Sprint(m["Dimensions"])
			switch m["Namespace"] {
			case "AWS/SQS":
				if m["MetricName"] != "ApproximateNumberOfMessagesVisible" || !strings.Contains(dims, "getatt:FailedEventsQueue.QueueName") ||
					a["Threshold"] != 0 || a["ComparisonOperator"] != "GreaterThanThreshold" {
					t.Errorf("%s: %v, want the failed-events queue's depth above zero", id, a)
				}
				found["queue"] = true
			case "AWS/ApiGateway":
				if !strings.Contains(dims, "ref:MediaApi") {
					t.Errorf("%s: dimensions %s, want the HTTP API", id, dims)
				}
				if m["MetricName"] == "IntegrationLatency" && (m["Stat"] != "p99" || m["Threshold"].(int) < 29000/2 || m["Threshold"].(int) >= 29000) {
					t.Errorf("%s: %v above %v ms, want p99 near the functions' 29 s", id, m["Stat"], m["Threshold"])
				}
				found[fmt.Sprint("http ", m["MetricName"])] = true
			case "AWS/Lambda":
				fn := strings.TrimPrefix(fmt.Sprint(path(m["Dimensions"].([]any)[0], "Value")), "ref:")
				if _, ok := res[fn]; !ok {
					t.Errorf("%s: dimension %s names no function", id, dims)
					continue
				}
				found[fmt.Sprint(m["MetricName"], " ", fn)] = true
				if m["MetricName"] == "Duration" {
					timeout, ok := path(res[fn], "Properties", "Timeout").(int)
					if !ok {
						timeout = globals["Timeout"].(int)
					}
					th, _ := m["Threshold"].(int)
					if m["Stat"] != "p99" || th < timeout*1000/2 || th >= timeout*1000 {
						t.Errorf("%s: p99 above %v ms, want near the %d s timeout", id, m["Threshold"], timeout)
					}
				}
			case "wxmedia/prod":
				if m["MetricName"] != metrics.Outcome {
					t.Errorf("%s: metric %v, want %s, the one default series", id, m["MetricName"], metrics.Outcome)
				}
				found[fmt.Sprint(m["MetricName"], " ", m["Stat"])] = true
			default:
				t.Errorf("%s: namespace %v, want the MetricsNamespace parameter or AWS's", id, m["Namespace"])
			}
		}
	}
	want := []string{"queue", "http 5xx", "http IntegrationLatency"}
	for _, fn := range []string{"UploadFunction", "UploadImgFunction"} { // the S3-triggered ones
		want = append(want, "Errors "+fn, "Throttles "+fn, "Duration "+fn)
	}
	for _, a := range metrics.AlarmedErrCodes() {
		want = append(want, metrics.Outcome+" "+a.Stat())
	}
	for _, w := range want {
		if !found[w] {
			t.Errorf("no alarm on %s", w)
		}
	}
	// Every function is behind the API whose 5xx the alarm reads.
	for _, fn := range functions {
		behind := false
		for _, e := range path(res[fn], "Properties", "Events").(map[string]any) {
			behind = behind || (path(e, "Type") == "HttpApi" && path(e, "Properties", "ApiId") == "ref:MediaApi")
		}
		if !behind {
			t.Errorf("%s: not behind MediaApi, so no alarm reads its failures", fn)
		}
	}
	// Actions: none without a topic; the topic, firing and clearing, with one.
	topic := "arn:aws:sns:ap-east-1:123456789012:wxmedia-alarms"
	for id, a := range alarms(newStack(t, tpl, map[string]string{"AlarmTopicArn": topic}).resources()) {
		if !reflect.DeepEqual(a["AlarmActions"], []any{topic}) || !reflect.DeepEqual(a["OKActions"], []any{topic}) {
			t.Errorf("%s: actions %v / %v, want the topic", id, a["AlarmActions"], a["OKActions"])
		}
		if all[id]["AlarmActions"] != nil {
			t.Errorf("%s: actions without a topic: %v", id, all[id]["AlarmActions"])
		}
	}
}

// TestFixedCost: what the defaults bill each month at any volume (alarm
// metrics, the dashboard, the secret, the default series) is at most $5,
// and the alarms and the dashboard's metric widgets read no custom series
// but the default ones, which FixedCost counts.
func TestFixedCost(t *testing.T) {
	f, err := FixedCost(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	var perAlarm int
	for _, a := range alarms(newStack(t, loadTemplate(t), nil).resources()) {
		perAlarm += len(alarmMetrics(a))
	}
	if perAlarm != f.AlarmMetrics || len(f.Alarms) == 0 || f.Dashboards != 1 || f.Secrets != 1 {
		t.Errorf("FixedCost: %+v, want %d alarm metrics (as the stack reads them), 1 dashboard, 1 secret", f, perAlarm)
	}
	t.Logf("fixed: %d alarm metrics x $%.2f + %d dashboard x $%.2f + %d secret x $%.2f + %d series x $%.2f = $%.2f a month",
		f.AlarmMetrics, PriceAlarmMetric, f.Dashboards, PriceDashboard, f.Secrets, PriceSecret, len(f.Series), PriceSeries, f.Dollars())
	if f.Dollars() > 5 {
		t.Errorf("fixed cost $%.2f a month, want at most $5", f.Dollars())
	}
	defaults := map[string]bool{}
	for _, s := range f.Series {
		defaults[emftest.Series(s.Name, nil)] = len(s.Dimensions) == 0
	}
	for name, read := range customMetricsRead(t) {
		if !defaults[emftest.Series(name, nil)] {
			t.Errorf("%s reads custom metric %s, not a default series: each costs $%.2f a month", read, name, PriceSeries)
		}
	}
}

// customMetricsRead are the metrics of the MetricsNamespace parameter the
// alarms and the dashboard's metric widgets read, each with a reader.
func customMetricsRead(t *testing.T) map[string]string {
	t.Helper()
	s := newStack(t, loadTemplate(t), map[string]string{"MetricsNamespace": "wxmedia/prod"})
	out := map[string]string{}
	for id, a := range alarms(s.resources()) {
		for _, m := range alarmMetrics(a) {
			if m["Namespace"] == "wxmedia/prod" {
				out[fmt.Sprint(m["MetricName"])] = id
			}
		}
	}
	for _, w := range dashboardWidgets(t, s.resources()) {
		rows, _ := w.Properties["metrics"].([]any) // log widgets have none
		for _, m := range rows {
			if row, ok := m.([]any); ok && len(row) > 1 && row[0] == "wxmedia/prod" {
				out[fmt.Sprint(row[1])] = "the dashboard's " + fmt.Sprint(w.Properties["title"])
			}
		}
	}
	return out
}

type widget struct {
	Type       string         `json:"type"`
	Properties map[string]any `json:"properties"`
}

// dashboardWidgets are the one dashboard's widgets.
func dashboardWidgets(t *testing.T, res map[string]map[string]any) []widget {
	t.Helper()
	var dashboards []map[string]any
	for _, r := range res {
		if r["Type"] == "AWS::CloudWatch::Dashboard" {
			dashboards = append(dashboards, r)
		}
	}
	if len(dashboards) != 1 {
		t.Fatalf("dashboards: got %d, want 1", len(dashboards))
	}
	raw, _ := path(dashboards[0], "Properties", "DashboardBody").(string)
	var body struct {
		Widgets []widget `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(raw), &body); err != nil {
		t.Fatalf("DashboardBody is not JSON: %v", err)
	}
	return body.Widgets
}

// TestDashboard: one dashboard, a valid body, every metric the functions
// write on it (as a metric, or a field its log queries read from every
// function's log lines) and every alarm on it.
func TestDashboard(t *testing.T) {
	res := newStack(t, loadTemplate(t), nil).resources()
	var text []string
	shown := map[string]bool{}
	for _, w := range dashboardWidgets(t, res) {
		b, _ := json.Marshal(w.Properties)
		text = append(text, string(b))
		switch w.Type {
		case "alarm":
			for _, a := range w.Properties["alarms"].([]any) {
				shown[strings.TrimSuffix(strings.TrimPrefix(fmt.Sprint(a), "getatt:"), ".Arn")] = true
			}
		case "log":
			q, _ := w.Properties["query"].(string)
			for _, fn := range functions {
				if !strings.Contains(q, "SOURCE '/aws/lambda/ref:"+fn+"'") {
					t.Errorf("widget %v: its query does not read %s's log group: %s", w.Properties["title"], fn, q)
				}
			}
		}
	}
	all := strings.Join(text, "\n")
	fields := regexp.MustCompile(`[A-Za-z0-9]+`)
	words := map[string]bool{}
	for _, w := range fields.FindAllString(all, -1) {
		words[w] = true
	}
	for _, name := range slices.Sorted(maps.Keys(metrics.Names())) {
		if !words[name] {
			t.Errorf("metric %s is not on the dashboard", name)
		}
	}
	for _, want := range []string{"AWS/Lambda", "Throttles", "Duration", "ApproximateNumberOfMessagesVisible", "AWS/ApiGateway", "5xx", "IntegrationLatency",
		"ref:UploadFunction", "ref:GetFunction", "ref:UploadImgFunction", "ref:ComponentFunction", "ref:ResultFunction"} {
		if !strings.Contains(all, want) {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
	for _, a := range metrics.AlarmedErrCodes() {
		if !strings.Contains(all, a.Stat()) {
			t.Errorf("the dashboard does not show errcode %d's rate (%s of %s)", a.ErrCode, a.Stat(), metrics.Outcome)
		}
	}
	for id := range alarms(res) {
		if !shown[id] {
			t.Errorf("alarm %s is not on the dashboard", id)
		}
	}
}
