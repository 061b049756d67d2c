package tracing

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The span attributes the exporter gives a meaning in X-Ray.
const (
	// AttrAWSOperation names an AWS API call (GetObject): the subsegment is
	// in X-Ray's "aws" namespace, with aws.operation set.
	AttrAWSOperation = "aws.operation"
	// AttrHTTPStatus is the HTTP status of the call's answer.
	AttrHTTPStatus = "http.response.status_code"
	// AttrCallerFault marks a failed span whose failure is the caller's
	// (an X-Ray error rather than a fault).
	AttrCallerFault = "failure.caller"
	// AttrThrottled marks a call the dependency refused for its rate or quota.
	AttrThrottled = "throttled"
)

// daemonHeader starts every document sent to the daemon.
const daemonHeader = "{\"format\":\"json\",\"version\":1}\n"

// Exporter writes ended spans to the X-Ray daemon as subsegment documents,
// one UDP datagram each. It implements the OpenTelemetry SDK's
// SpanExporter.
type Exporter struct {
	mu   sync.Mutex
	conn *net.UDPConn
}

var _ sdktrace.SpanExporter = (*Exporter)(nil)

// NewExporter returns an Exporter to the daemon at addr (host:port;
// default 127.0.0.1:2000). It sends nothing until a span ends.
func NewExporter(addr string) (*Exporter, error) {
	ua, err := daemonAddr(addr)
	if err != nil {
		return nil, err
	}
	conn, err := net.DialUDP("udp", nil, ua)
	if err != nil {
		return nil, err
	}
	return &Exporter{conn: conn}, nil
}

// ExportSpans sends each span; a datagram that cannot be sent is dropped,
// as the X-Ray SDKs drop it: tracing never fails the work.
func (e *Exporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range spans {
		doc, err := json.Marshal(Subsegment(s))
		if err != nil {
			continue
		}
		_, _ = e.conn.Write(append([]byte(daemonHeader), doc...))
	}
	return nil
}

// Shutdown closes the socket.
func (e *Exporter) Shutdown(context.Context) error { return e.conn.Close() }

// Document is an X-Ray subsegment document, sent on its own: it names its
// trace and its parent (the invocation's segment, or another span).
type Document struct {
	Name        string         `json:"name"`
	ID          string         `json:"id"`
	TraceID     string         `json:"trace_id"`
	ParentID    string         `json:"parent_id"`
	Type        string         `json:"type"`
	StartTime   float64        `json:"start_time"`
	EndTime     float64        `json:"end_time"`
	Namespace   string         `json:"namespace,omitempty"`
	Error       bool           `json:"error,omitempty"`
	Fault       bool           `json:"fault,omitempty"`
	Throttle    bool           `json:"throttle,omitempty"`
	HTTP        *HTTP          `json:"http,omitempty"`
	AWS         map[string]any `json:"aws,omitempty"`
	Annotations map[string]any `json:"annotations,omitempty"`
	Cause       *Cause         `json:"cause,omitempty"`
}

// HTTP is a subsegment's HTTP answer.
type HTTP struct {
	Response struct {
		Status int64 `json:"status"`
	} `json:"response"`
}

// Cause is why a subsegment failed.
type Cause struct {
	Exceptions []Exception `json:"exceptions"`
}

// Exception is one failure of a subsegment.
type Exception struct {
	Message string `json:"message"`
}

// Subsegment is span s as an X-Ray subsegment: span attributes become
// annotations (searchable in X-Ray), with AttrAWSOperation, AttrHTTPStatus,
// AttrCallerFault and AttrThrottled read as X-Ray's own fields. The span's
// status description is its cause: it must say nothing a log line may not.
func Subsegment(s sdktrace.ReadOnlySpan) Document {
	d := Document{
		Name:      s.Name(),
		ID:        s.SpanContext().SpanID().String(),
		TraceID:   xrayTraceID(s.SpanContext().TraceID()),
		ParentID:  s.Parent().SpanID().String(),
		Type:      "subsegment",
		StartTime: float64(s.StartTime().UnixMicro()) / 1e6,
		EndTime:   float64(s.EndTime().UnixMicro()) / 1e6,
		Namespace: "remote",
	}
	callerFault := false
	for _, kv := range s.Attributes() {
		switch string(kv.Key) {
		case AttrAWSOperation:
			d.Namespace, d.AWS = "aws", map[string]any{"operation": kv.Value.AsString()}
		case AttrHTTPStatus:
			d.HTTP = &HTTP{}
			d.HTTP.Response.Status = kv.Value.AsInt64()
		case AttrCallerFault:
			callerFault = kv.Value.AsBool()
			continue
		case AttrThrottled:
			d.Throttle = kv.Value.AsBool()
			continue
		}
		if d.Annotations == nil {
			d.Annotations = map[string]any{}
		}
		d.Annotations[annotationKey(kv.Key)] = annotationValue(kv.Value)
	}
	if st := s.Status(); st.Code == codes.Error {
		if callerFault || d.Throttle {
			d.Error = true
		} else {
			d.Fault = true
		}
		if st.Description != "" {
			d.Cause = &Cause{Exceptions: []Exception{{Message: st.Description}}}
		}
	}
	return d
}

// annotationKey is k as X-Ray takes annotation keys: letters, digits and _.
func annotationKey(k attribute.Key) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, string(k))
}

func annotationValue(v attribute.Value) any {
	switch v.Type() {
	case attribute.BOOL:
		return v.AsBool()
	case attribute.INT64:
		return v.AsInt64()
	case attribute.FLOAT64:
		return v.AsFloat64()
	}
	return v.Emit()
}
