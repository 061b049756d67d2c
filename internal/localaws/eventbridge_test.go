package localaws_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/wxmedia/wxmedia/internal/localaws"
)

// The SDK publishes to it as to EventBridge, also under a path of a
// server that serves other things (the local runner's API port).
func TestEventBridgeTakesPutEvents(t *testing.T) {
	var published []localaws.BusEvent
	eb := localaws.NewEventBridge(localaws.EventBridgeOptions{Published: func(e localaws.BusEvent) { published = append(published, e) }})
	mux := http.NewServeMux()
	mux.Handle("/_local/eventbridge", eb)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := eventbridge.New(eventbridge.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL + "/_local/eventbridge"),
		Credentials: credentials.NewStaticCredentialsProvider("any", "thing", "")})

	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	out, err := client.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
		{Source: aws.String("wxmedia"), DetailType: aws.String("Media Uploaded"), Detail: aws.String(`{"key":"upload/image/a.jpg"}`), Time: &at},
		{Source: aws.String("wxmedia"), DetailType: aws.String("Media Uploaded"), Detail: aws.String(`not json`)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.FailedEntryCount != 1 || aws.ToString(out.Entries[0].EventId) == "" || aws.ToString(out.Entries[1].ErrorCode) != "MalformedDetail" {
		t.Fatalf("answer %+v, want the first accepted and the second refused as MalformedDetail", out)
	}
	got := eb.Events()
	if len(got) != 1 || len(published) != 1 || got[0].Source != "wxmedia" || got[0].DetailType != "Media Uploaded" ||
		string(got[0].Detail) != `{"key":"upload/image/a.jpg"}` || got[0].Time != "2026-12-03T10:00:00Z" || got[0].Bus != "default" {
		t.Errorf("events %+v (published %d), want the one accepted, as a rule's target receives it", got, len(published))
	}
	if _, err := client.ListRules(context.Background(), &eventbridge.ListRulesInput{}); err == nil {
		t.Error("ListRules answered: want an unknown operation")
	}
}
