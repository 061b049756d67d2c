// Package completion announces each outcome the ledger records on
// EventBridge, so that whoever put an object can be told when its work is
// done without polling: source "wxmedia", detail-type "Media Uploaded" (a
// media_id or url) or "Media Upload Failed" (an errcode, final or to be
// retried), the detail naming the object (bucket, key, etag), the app and
// the result.
//
// The result object is the source of truth: a publish that fails is
// retried a few times and then logged, never turned into a failure of the
// work, which is done and recorded.
package completion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/wxmedia/wxmedia/pkg/ledger"
)

// API is the part of the EventBridge client the publisher uses.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

var _ API = (*eventbridge.Client)(nil)

// The events' source and detail types.
const (
	Source   = "wxmedia"
	Uploaded = "Media Uploaded"
	Failed   = "Media Upload Failed"
)

// Detail is an event's detail: the result as recorded (key, etag, type,
// media_id, created_at, expires_at or url; errcode, errmsg and final for a
// failure), and where it is.
type Detail struct {
	ledger.Result
	Bucket string `json:"bucket"`
	AppID  string `json:"appid,omitempty"`
	// API is the WeChat API the object went to: "upload" or "uploadimg".
	API string `json:"api"`
	// ResultKey is where the outcome is recorded: results/<key>.json.
	ResultKey string `json:"result"`
}

// Options configure a Publisher.
type Options struct {
	API    API    // required
	Bus    string // the event bus's name or ARN; default "default"
	Bucket string // the media bucket, named in each event
	// AppID names the app the work was done for; nil leaves it out.
	AppID  func(ctx context.Context) string
	Logger *slog.Logger // default slog.Default()
	// Attempts is how many times a publish is tried; default 3. Backoff is
	// the wait before the second, doubling after; default 100 ms.
	Attempts int
	Backoff  time.Duration
	// Timeout bounds a whole publish, its retries included; default 5 s.
	Timeout time.Duration
}

// Publisher publishes completion events.
type Publisher struct{ o Options }

// New returns a Publisher.
func New(o Options) *Publisher {
	if o.Bus == "" {
		o.Bus = "default"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.Backoff <= 0 {
		o.Backoff = 100 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	return &Publisher{o: o}
}

// Of is the detail of r, recorded for w at resultKey.
func (p *Publisher) Of(ctx context.Context, w ledger.Work, r ledger.Result, resultKey string) (string, Detail) {
	d := Detail{Result: r, Bucket: p.o.Bucket, API: w.API, ResultKey: resultKey}
	d.Key, d.ETag = w.Key, w.ETag
	if d.Type == "" {
		d.Type = w.Type
	}
	switch {
	case w.AppID != "":
		d.AppID = w.AppID // the app the work was done for
	case p.o.AppID != nil:
		d.AppID = p.o.AppID(ctx)
	}
	if r.Success() {
		return Uploaded, d
	}
	return Failed, d
}

// Recorded publishes the event of r, just recorded for w at resultKey,
// within ctx's deadline (the caller's, past the work's own: see
// transfer's announced) and Options.Timeout. It never fails: a publish that
// still fails after its attempts, or runs out of time, is logged.
func (p *Publisher) Recorded(ctx context.Context, w ledger.Work, r ledger.Result, resultKey string) {
	ctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	detailType, d := p.Of(ctx, w, r, resultKey)
	detail, _ := json.Marshal(d) // plain fields: never fails
	entry := types.PutEventsRequestEntry{EventBusName: aws.String(p.o.Bus), Source: aws.String(Source),
		DetailType: aws.String(detailType), Detail: aws.String(string(detail)), Time: aws.Time(time.Now())}
	var err error
	wait := p.o.Backoff
	for attempt := 1; ; attempt++ {
		if err = p.put(ctx, entry); err == nil {
			p.o.Logger.DebugContext(ctx, "completion event published", "detail_type", detailType, "key", w.Key)
			return
		}
		if attempt == p.o.Attempts || ctx.Err() != nil {
			break
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		wait *= 2
	}
	p.o.Logger.ErrorContext(ctx, "completion event not published; the result is recorded", "detail_type", detailType,
		"key", w.Key, "result", resultKey, "bus", p.o.Bus, "attempts", p.o.Attempts, "error", err.Error())
}

// put sends one entry; an entry EventBridge refused is an error.
func (p *Publisher) put(ctx context.Context, e types.PutEventsRequestEntry) error {
	out, err := p.o.API.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{e}})
	if err != nil {
		return err
	}
	if out.FailedEntryCount > 0 {
		for _, r := range out.Entries {
			if r.ErrorCode != nil {
				return fmt.Errorf("entry refused: %s: %s", aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
			}
		}
		return errors.New("entry refused")
	}
	return nil
}
