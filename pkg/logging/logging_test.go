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
)

func TestLinesCarryRequestIDAndContext(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, "info")
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	ctx = logging.With(ctx, slog.String("key", "upload/image/a.jpg"))
	log.InfoContext(ctx, "uploaded", "bytes", 42)
	log.DebugContext(ctx, "not shown at info")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("want one JSON line, got %q", buf.String())
	}
	if line["request_id"] != "req-1" || line["key"] != "upload/image/a.jpg" || line["bytes"] != float64(42) || line["msg"] != "uploaded" {
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
