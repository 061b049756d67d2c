package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/wxmedia/wxmedia/pkg/logging"
	"github.com/wxmedia/wxmedia/pkg/tracing"
)

func TestLinesCarryRequestIDAndContext(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, "info")
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	h, _ := tracing.ParseHeader("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	ctx = tracing.WithHeader(ctx, h)
	ctx = logging.With(ctx, slog.String("key", "upload/image/a.jpg"))
	log.InfoContext(ctx, "uploaded", "bytes", 42)
	log.DebugContext(ctx, "not shown at info")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("want one JSON line, got %q", buf.String())
	}
	if line["request_id"] != "req-1" || line["trace_id"] != "1-5759e988-bd862e3fe1be46a994272793" || line["key"] != "upload/image/a.jpg" || line["bytes"] != float64(42) || line["msg"] != "uploaded" {
		t.Errorf("line = %v", line)
	}
}

func ExampleWith() {
	var buf bytes.Buffer
	log := logging.New(&buf, "info")
	ctx := logging.With(context.Background(), slog.String("media_type", "image"))
	log.InfoContext(ctx, "uploaded")
	var line map[string]any
	json.Unmarshal(buf.Bytes(), &line)
	fmt.Println(line["msg"], line["media_type"])
	// Output: uploaded image
}

func TestLevels(t *testing.T) {
	for level, debugShown := range map[string]bool{"TRACE": true, "DEBUG": true, "INFO": false, "": false, "WARN": false} {
		var buf bytes.Buffer
		logging.New(&buf, level).Debug("detail")
		if got := buf.Len() > 0; got != debugShown {
			t.Errorf("level %q: debug shown %v, want %v", level, got, debugShown)
		}
	}
	var buf bytes.Buffer
	logging.New(&buf, "ERROR").Warn("not shown")
	if buf.Len() != 0 {
		t.Errorf("ERROR shows a warning: %s", buf.String())
	}
}
