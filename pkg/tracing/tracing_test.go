package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/wxmedia/wxmedia/pkg/tracing"
)

// daemon is a UDP listener on 127.0.0.1 standing for the X-Ray daemon.
func daemon(t *testing.T) (addr string, docs func(wait time.Duration) []tracing.Document) {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn.LocalAddr().String(), func(wait time.Duration) []tracing.Document {
		var out []tracing.Document
		buf := make([]byte, 64<<10)
		for {
			conn.SetReadDeadline(time.Now().Add(wait))
			n, err := conn.Read(buf)
			if err != nil {
				return out
			}
			head, body, ok := bytes.Cut(buf[:n], []byte("\n"))
			if !ok || string(head) != `{"format":"json","version":1}` {
				t.Errorf("datagram %q: want the daemon's header line, then the document", buf[:n])
				continue
			}
			var d tracing.Document
			if err := json.Unmarshal(body, &d); err != nil {
				t.Errorf("document %s: %v", body, err)
			}
			out = append(out, d)
		}
	}
}

const header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

func TestSpansAreSubsegmentsOfTheInvocation(t *testing.T) {
	addr, docs := daemon(t)
	tp, err := tracing.NewProvider(tracing.Options{Enabled: true, Daemon: addr})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := tracing.ParseHeader(header)
	ctx := tracing.Invocation(tracing.WithHeader(context.Background(), h))
	tr := tp.Tracer("test")
	_, s3 := tr.Start(ctx, "S3", trace.WithAttributes(attribute.String(tracing.AttrAWSOperation, "GetObject")))
	s3.End()
	_, wx := tr.Start(ctx, "WeChat")
	wx.SetAttributes(attribute.String("wechat.op", "media/upload"), attribute.Int("wechat.errcode", 40164), attribute.Int(tracing.AttrHTTPStatus, 200))
	wx.SetStatus(codes.Error, "system error: the egress IP is not allowed")
	wx.End()

	got := docs(2 * time.Second)
	if len(got) != 2 {
		t.Fatalf("got %d documents, want 2", len(got))
	}
	for _, d := range got {
		if d.Type != "subsegment" || d.TraceID != "1-5759e988-bd862e3fe1be46a994272793" || d.ParentID != "53995c3f42cd8ad8" ||
			len(d.ID) != 16 || d.StartTime <= 0 || d.EndTime < d.StartTime {
			t.Errorf("document %+v: want a subsegment of the invocation's trace and segment", d)
		}
	}
	if d := got[0]; d.Name != "S3" || d.Namespace != "aws" || d.AWS["operation"] != "GetObject" || d.Fault || d.Error {
		t.Errorf("S3 span: got %+v", d)
	}
	if d := got[1]; d.Name != "WeChat" || d.Namespace != "remote" || !d.Fault || d.HTTP == nil || d.HTTP.Response.Status != 200 ||
		d.Annotations["wechat_errcode"] != float64(40164) || d.Annotations["wechat_op"] != "media/upload" ||
		d.Cause == nil || !strings.Contains(d.Cause.Exceptions[0].Message, "egress IP") {
		t.Errorf("WeChat span: got %+v", d)
	}
}

func TestUnsampledAndOffSendNothing(t *testing.T) {
	addr, docs := daemon(t)
	on, err := tracing.NewProvider(tracing.Options{Enabled: true, Daemon: addr})
	if err != nil {
		t.Fatal(err)
	}
	off, _ := tracing.NewProvider(tracing.Options{Enabled: false, Daemon: addr})
	unsampled, _ := tracing.ParseHeader(strings.Replace(header, "Sampled=1", "Sampled=0", 1))
	for name, run := range map[string]func(){
		"Unsampled": func() {
			_, s := on.Tracer("t").Start(tracing.Invocation(tracing.WithHeader(context.Background(), unsampled)), "S3")
			s.End()
		},
		"NoHeader": func() {
			_, s := on.Tracer("t").Start(tracing.Invocation(context.Background()), "S3")
			s.End()
		},
		"Off": func() {
			h, _ := tracing.ParseHeader(header)
			_, s := off.Tracer("t").Start(tracing.Invocation(tracing.WithHeader(context.Background(), h)), "S3")
			if s.IsRecording() {
				t.Error("Off: the span records")
			}
			s.End()
		},
	} {
		run()
		if got := docs(300 * time.Millisecond); len(got) != 0 {
			t.Errorf("%s: sent %+v, want nothing", name, got)
		}
	}
}

func TestHeader(t *testing.T) {
	h, ok := tracing.ParseHeader(header + ";Lineage=a87bd80c:1")
	if !ok || h.Root != "1-5759e988-bd862e3fe1be46a994272793" || h.Parent != "53995c3f42cd8ad8" || !h.Sampled {
		t.Fatalf("ParseHeader: got %+v %v", h, ok)
	}
	if h.String() != header {
		t.Errorf("String: got %q, want %q", h.String(), header)
	}
	for _, bad := range []string{"", "Root=abc", "Root=1-123-456", "Parent=53995c3f42cd8ad8"} {
		if _, ok := tracing.ParseHeader(bad); ok {
			t.Errorf("ParseHeader(%q): ok, want not", bad)
		}
	}
	n := tracing.NewHeader(time.Unix(0x5759e988, 0), true)
	if p, ok := tracing.ParseHeader(n.String()); !ok || !strings.HasPrefix(p.Root, "1-5759e988-") || len(p.Parent) != 16 {
		t.Errorf("NewHeader: %q does not parse back (%+v)", n, p)
	}
	ctx := tracing.WithHeader(context.Background(), h)
	if got := tracing.TraceID(ctx); got != h.Root {
		t.Errorf("TraceID: got %q, want %q", got, h.Root)
	}
	t.Setenv(tracing.EnvTraceHeader, header)
	if got := tracing.TraceID(context.Background()); got != h.Root {
		t.Errorf("TraceID from %s: got %q, want %q", tracing.EnvTraceHeader, got, h.Root)
	}
}

func TestFromEnv(t *testing.T) {
	env := map[string]string{tracing.EnvTracing: "Active", tracing.EnvDaemon: "169.254.79.129:2000"}
	if o := tracing.FromEnv(func(k string) string { return env[k] }); !o.Enabled || o.Daemon != "169.254.79.129:2000" {
		t.Errorf("Active: got %+v", o)
	}
	env[tracing.EnvTracing] = "PassThrough"
	if o := tracing.FromEnv(func(k string) string { return env[k] }); o.Enabled {
		t.Errorf("PassThrough: got %+v, want off", o)
	}
	if _, err := tracing.NewExporter("no such address"); err == nil {
		t.Error("NewExporter of a bad address: no error")
	}
}
