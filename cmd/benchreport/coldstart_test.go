package main

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/wxmedia/wxmedia/internal/awstest"
	"github.com/wxmedia/wxmedia/internal/rie"
)

// TestColdStarts runs the cold-start measurement of `make bench` for real:
// each function's bootstrap under the emulator against make local's
// backends. Init calls nothing; the first invocation reads the secret and
// fetches a token; the warm one only does its job.
func TestColdStarts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the functions and runs the Lambda emulator (-short)")
	}
	emulator := awstest.Tool(t, rie.DefaultBinary)
	t.Chdir("../..") // the module root, as make bench runs it
	dir := t.TempDir()
	ctx := context.Background()
	if err := goBuild(ctx, "go", runtime.GOARCH, dir); err != nil {
		t.Fatal(err)
	}
	cold, err := coldStarts(ctx, emulator, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cold) != len(functions) {
		t.Fatalf("got %d cold starts, want one per function (%d)", len(cold), len(functions))
	}
	for _, cs := range cold {
		t.Run(cs.fn, func(t *testing.T) {
			if cs.initCalls != 0 {
				t.Errorf("calls during init: got %d, want 0", cs.initCalls)
			}
			if f := cs.firstCalls; f.secrets != 1 || f.token != 1 || f.wechat != 1 || f.s3 < 1 {
				t.Errorf("first invocation: got %v, want the secret once, one token, one WeChat media call and S3", f)
			}
			if w := cs.warmCalls; w.secrets != 0 || w.token != 0 || w.wechat != 1 || w.s3 < 1 {
				t.Errorf("warm invocation: got %v, want no secret or token, one WeChat media call and S3", w)
			}
			if cs.initMS <= 0 || cs.firstMS <= 0 || cs.warmMS <= 0 || cs.firstClientMS < cs.firstMS {
				t.Errorf("got init %.2f, first %.2f (client %.2f), warm %.2f ms: want each timed", cs.initMS, cs.firstMS, cs.firstClientMS, cs.warmMS)
			}
			if lines := strings.Join(cs.reportLines, "\n"); !strings.Contains(lines, "INIT REPORT") || strings.Count(lines, "INVOKE RTDONE") != 2 {
				t.Errorf("report lines: want an INIT REPORT and two INVOKE RTDONE in\n%s", lines)
			}
		})
	}
}
