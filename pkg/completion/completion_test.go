package completion_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/wxmedia/wxmedia/internal/awstest"
	"github.com/wxmedia/wxmedia/internal/stacktest"
	"github.com/wxmedia/wxmedia/internal/wechatsim"
	"github.com/wxmedia/wxmedia/pkg/completion"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/ledger"
	"github.com/wxmedia/wxmedia/pkg/transfer"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// Each recorded outcome is published once, on the stack's bus, and a
// team's rule (here: to a queue) receives it.
func TestEachRecordedOutcomeIsPublished(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{})
	received := st.WatchEvents(t)
	ok := "upload/image/holiday photo (1).jpg"
	refused := "upload/image/not-really-an-image.jpg"
	for _, key := range []string{ok, refused, ok} { // the second ok is S3 delivering again
		if _, err := st.Functions["upload"].Invoke(t.Context(), st.S3Event(stacktest.Created{Key: key})); err != nil {
			t.Fatal(err)
		}
	}
	got := received()
	if len(got) != 2 {
		t.Fatalf("got %d events, want 2 (a duplicate delivery records nothing new): %v", len(got), got)
	}
	r := st.Result(t, ok)
	want := completion.Detail{Bucket: st.Bucket, AppID: stacktest.AppID, API: transfer.APIUpload, ResultKey: "results/" + ok + ".json",
		Result: ledger.Result{Key: ok, ETag: r["etag"].(string), Type: "image", MediaID: r["media_id"].(string),
			CreatedAt: int64(r["created_at"].(float64)), ExpiresAt: int64(r["expires_at"].(float64))}}
	if e := got[0]; e.Source != "wxmedia" || e.DetailType != "Media Uploaded" || e.Detail != want {
		t.Errorf("first event:\n got %v\nwant wxmedia Media Uploaded %+v", e, want)
	}
	if e := got[1]; e.DetailType != "Media Upload Failed" || e.Detail.Key != refused || e.Detail.ErrCode != failure.CodeInvalidFileType || !e.Detail.Final || e.Detail.MediaID != "" {
		t.Errorf("second event: got %v, want Media Upload Failed of %s with errcode 40005, final", e, refused)
	}

	// A failure that will be retried is published as such, then its success.
	st.Sim.SetFaults(wechatsim.Faults{ServerError: 100})
	key := "upload/voice/greeting.mp3"
	event := st.S3Event(stacktest.Created{Key: key})
	if _, err := st.Functions["upload"].Invoke(t.Context(), event); err == nil {
		t.Fatal("WeChat down: the invocation succeeded")
	}
	st.Sim.SetFaults(wechatsim.Faults{})
	if _, err := st.Functions["upload"].Invoke(t.Context(), event); err != nil {
		t.Fatal(err)
	}
	got = received()[2:]
	if len(got) != 2 || got[0].DetailType != "Media Upload Failed" || got[0].Detail.Final || got[0].Detail.ErrCode != -1 ||
		got[1].DetailType != "Media Uploaded" || got[1].Detail.MediaID == "" {
		t.Errorf("WeChat down, then up: got %v, want a failure not final, then the success", got)
	}
}

// A publish that fails never fails the work: the result is recorded and
// answered, and the log says the event was not published.
func TestPublishFailureLosesNothing(t *testing.T) {
	logs := &stacktest.Logs{}
	st := stacktest.Start(t, stacktest.Options{Logs: logs, Env: map[string]string{"EVENT_BUS_NAME": "no-such-bus"}})
	key := "upload/image/test.jpg"
	if _, err := st.Functions["upload"].Invoke(t.Context(), st.S3Event(stacktest.Created{Key: key})); err != nil {
		t.Fatalf("a failed publish failed the upload: %v", err)
	}
	if r := st.Result(t, key); r["media_id"] == nil {
		t.Errorf("result %v, want the media_id recorded", r)
	}
	if l := logs.String(); !strings.Contains(l, "completion event not published; the result is recorded") || !strings.Contains(l, `"attempts":3`) {
		t.Errorf("log: want the failed publish, after 3 attempts, in\n%s", l)
	}
}

// api answers PutEvents from a script: an error, an entry refused, or ok.
type api struct {
	answers []string
	calls   int
}

func (a *api) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	a.calls++
	answer := "ok"
	if len(a.answers) > 0 {
		answer, a.answers = a.answers[0], a.answers[1:]
	}
	switch answer {
	case "error":
		return nil, errors.New("throttled")
	case "refused":
		return &eventbridge.PutEventsOutput{FailedEntryCount: 1, Entries: []types.PutEventsResultEntry{{ErrorCode: aws.String("InternalFailure"), ErrorMessage: aws.String("try again")}}}, nil
	}
	return &eventbridge.PutEventsOutput{Entries: []types.PutEventsResultEntry{{EventId: aws.String("1")}}}, nil
}

func TestRetries(t *testing.T) {
	w := ledger.Work{Key: "upload/image/a.jpg", ETag: `"e"`, API: transfer.APIUpload, Type: "image"}
	r := ledger.Result{Key: w.Key, ETag: w.ETag, Type: "image", MediaID: "M"}
	for _, tt := range []struct {
		name    string
		answers []string
		calls   int
		logged  bool
	}{
		{"FirstTime", nil, 1, false},
		{"AfterAnErrorAndARefusal", []string{"error", "refused"}, 3, false},
		{"Never", []string{"error", "refused", "error", "ok"}, 3, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			a := &api{answers: tt.answers}
			p := completion.New(completion.Options{API: a, Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Backoff: 1})
			p.Recorded(context.Background(), w, r, "results/upload/image/a.jpg.json")
			if a.calls != tt.calls || strings.Contains(logs.String(), "not published") != tt.logged {
				t.Errorf("%d calls, logged %q; want %d calls, logged %v", a.calls, logs.String(), tt.calls, tt.logged)
			}
		})
	}
}
