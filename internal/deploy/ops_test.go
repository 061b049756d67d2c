package deploy

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

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
		"LogLevel": {"INFO", []any{"TRACE", "DEBUG", "INFO"}},
		"Tracing":  {tracing.Active, []any{tracing.Active, "PassThrough"}},
	} {
		p, _ := params[name].(map[string]any)
		if p["Default"] != want.def || !reflect.DeepEqual(p["AllowedValues"], want.values) {
			t.Errorf("parameter %s: default %v of %v, want %v of %v", name, p["Default"], p["AllowedValues"], want.def, want.values)
		}
	}
	if p, _ := params["MetricsNamespace"].(map[string]any); p["Default"] != metrics.DefaultNamespace {
		t.Errorf("MetricsNamespace default %v, want %s", p["Default"], metrics.DefaultNamespace)
	}
	for _, tc := range []map[string]string{nil, {"LogLevel": "DEBUG", "Tracing": "PassThrough", "MetricsNamespace": "wxmedia/prod"}} {
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
		if got := globals["Tracing"]; got != want("Tracing", tracing.Active) {
			t.Errorf("%v: Tracing %v, want %s", tc, got, want("Tracing", tracing.Active))
		}
		env := path(globals, "Environment", "Variables")
		if path(env, "METRICS_NAMESPACE") != want("MetricsNamespace", "wxmedia") || path(env, tracing.EnvTracing) != want("Tracing", tracing.Active) {
			t.Errorf("%v: environment %v, want METRICS_NAMESPACE and TRACING from the parameters", tc, env)
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

// TestAlarms: the alarms docs/operations.md explains, each on
// what it says, and all notifying the topic when one is given.
func TestAlarms(t *testing.T) {
	tpl := loadTemplate(t)
	s := newStack(t, tpl, map[string]string{"MetricsNamespace": "wxmedia/prod"})
	res := s.resources()
	globals, _ := s.eval(path(tpl, "Globals", "Function")).(map[string]any)
	all := alarms(res)
	found := map[string]bool{}
	for id, a := range all {
		dims := fmt.Sprint(a["Dimensions"])
		switch {
		case a["Namespace"] == "AWS/SQS":
			if a["MetricName"] != "ApproximateNumberOfMessagesVisible" || !strings.Contains(dims, "getatt:FailedEventsQueue.QueueName") ||
				a["Threshold"] != 0 || a["ComparisonOperator"] != "GreaterThanThreshold" {
				t.Errorf("%s: %v, want the failed-events queue's depth above zero", id, a)
			}
			found["queue"] = true
		case a["Namespace"] == "AWS/Lambda":
			fn := strings.TrimPrefix(fmt.Sprint(path(a["Dimensions"].([]any)[0], "Value")), "ref:")
			if _, ok := res[fn]; !ok {
				t.Errorf("%s: dimension %s names no function", id, dims)
				continue
			}
			found[fmt.Sprint(a["MetricName"], " ", fn)] = true
			if a["MetricName"] == "Duration" {
				timeout, ok := path(res[fn], "Properties", "Timeout").(int)
				if !ok {
					timeout = globals["Timeout"].(int)
				}
				th, _ := a["Threshold"].(int)
				if a["ExtendedStatistic"] != "p99" || th < timeout*1000/2 || th >= timeout*1000 {
					t.Errorf("%s: p99 above %v ms, want near the %d s timeout", id, a["Threshold"], timeout)
				}
			}
		case a["Metrics"] != nil:
			var code string
			for _, m := range a["Metrics"].([]any) {
				metric := path(m, "MetricStat", "Metric")
				if metric == nil {
					continue
				}
				if path(metric, "Namespace") != "wxmedia/prod" {
					t.Errorf("%s: namespace %v, want the MetricsNamespace parameter", id, path(metric, "Namespace"))
				}
				if _, ok := metrics.Names()[fmt.Sprint(path(metric, "MetricName"))]; !ok {
					t.Errorf("%s: metric %v is not one the functions write", id, path(metric, "MetricName"))
				}
				if d, _ := path(metric, "Dimensions").([]any); len(d) == 1 && path(d[0], "Name") == metrics.DimErrCode {
					code = fmt.Sprint(path(d[0], "Value"))
				}
			}
			found["errcode "+code] = true
		}
	}
	var want []string
	for _, fn := range functions {
		want = append(want, "Errors "+fn, "Throttles "+fn, "Duration "+fn)
	}
	want = append(want, "queue", "errcode -1", "errcode 40164", "errcode 45009")
	for _, w := range want {
		if !found[w] {
			t.Errorf("no alarm on %s", w)
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

// TestDashboard: one dashboard, a valid body, every metric the functions
// write and every alarm on it.
func TestDashboard(t *testing.T) {
	res := newStack(t, loadTemplate(t), nil).resources()
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
		Widgets []struct {
			Type       string         `json:"type"`
			Properties map[string]any `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(raw), &body); err != nil {
		t.Fatalf("DashboardBody is not JSON: %v", err)
	}
	var text []string
	shown := map[string]bool{}
	for _, w := range body.Widgets {
		b, _ := json.Marshal(w.Properties)
		text = append(text, string(b))
		if w.Type == "alarm" {
			for _, a := range w.Properties["alarms"].([]any) {
				shown[strings.TrimSuffix(strings.TrimPrefix(fmt.Sprint(a), "getatt:"), ".Arn")] = true
			}
		}
	}
	all := strings.Join(text, "\n")
	for _, name := range slices.Sorted(maps.Keys(metrics.Names())) {
		if !strings.Contains(all, `"`+name+`"`) && !strings.Contains(all, `\"`+name+`\"`) {
			t.Errorf("metric %s is not on the dashboard", name)
		}
	}
	for _, want := range []string{"AWS/Lambda", "Throttles", "Duration", "ApproximateNumberOfMessagesVisible", "ref:UploadFunction", "ref:GetFunction", "ref:UploadImgFunction", "ref:ComponentFunction", "ref:ResultFunction"} {
		if !strings.Contains(all, want) {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
	for id := range alarms(res) {
		if !shown[id] {
			t.Errorf("alarm %s is not on the dashboard", id)
		}
	}
}
