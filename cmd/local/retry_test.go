package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wxmedia/wxmedia/internal/mediatest"
)

// TestRetries: make local retries a failed S3-triggered invocation as
// Lambda does, then keeps it in the failed-events queue until redriven.
// Lambda's waits (1 and 2 minutes) are shortened a hundredfold.
func TestRetries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/local (-short)")
	}
	t.Parallel()
	bin := buildLocal(t)
	l := start(t, bin, EnvTimeScale+"=0.01")
	c := s3Client(l.s3URL)
	ctx := context.Background()
	// result is the media_id (or errcode) results/<key>.json holds, once it exists.
	type result struct {
		MediaID string `json:"media_id"`
		ErrCode int    `json:"errcode"`
	}
	read := func(key string) (result, bool) {
		data, err := getObject(ctx, c, "results/"+key+".json")
		var r result
		return r, err == nil && json.Unmarshal(data, &r) == nil
	}
	// waitFor polls until every key's result satisfies ok, or the deadline.
	waitFor := func(keys []string, within time.Duration, ok func(result) bool) (missing []string) {
		t.Helper()
		pending := keys
		for deadline := time.Now().Add(within); len(pending) > 0 && time.Now().Before(deadline); {
			var still []string
			for _, k := range pending {
				if r, found := read(k); !found || !ok(r) {
					still = append(still, k)
				}
			}
			if pending = still; len(pending) > 0 {
				time.Sleep(200 * time.Millisecond)
			}
		}
		return pending
	}
	failedEvents := func() []string {
		t.Helper()
		resp, err := client.Get(l.api + FailedEventsPath)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var lines []string
		for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
			lines = append(lines, sc.Text())
		}
		return lines
	}
	hasMediaID := func(r result) bool { return r.MediaID != "" }

	t.Run("Burst", func(t *testing.T) {
		// 300 objects into WeChat's busy answers, 503s and lost answers: the
		// retries recover them all; a lost answer costs one extra upload at
		// most (the ledger's rule), never a missing media_id.
		l.faults(t, `{"busy":10,"server_error":5,"drop":5}`)
		const n = 300
		keys := make([]string, n)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		sem := make(chan struct{}, 8)
		begin := time.Now()
		for i := range keys {
			keys[i] = fmt.Sprintf("upload/image/burst/%03d.jpg", i)
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(DefaultBucket), Key: aws.String(keys[i]),
					Body: bytes.NewReader(mediatest.JPEG()), ContentType: aws.String("image/jpeg")})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if missing := waitFor(keys, 90*time.Second, hasMediaID); len(missing) > 0 {
			r, _ := read(missing[0])
			t.Fatalf("%d of %d objects have no media_id after 90 s, e.g. %s: %+v; failed events %d", len(missing), n, missing[0], r, len(failedEvents()))
		}
		retried := strings.Count(l.stderr.String(), "async invocation succeeded on retry")
		t.Logf("%d objects, each with a media_id, in %v; %d invocations recovered by a retry; %s",
			n, time.Since(begin).Round(100*time.Millisecond), retried, simUploads(t, l))
		if retried == 0 {
			t.Errorf("no invocation recovered by a retry: the faults did not reach the trigger")
		}
		if f := failedEvents(); len(f) != 0 {
			t.Errorf("failed events: got %d, want none: %s", len(f), f)
		}
	})

	t.Run("FailedEventsAndRedrive", func(t *testing.T) {
		l.faults(t, `{"busy":100000}`)
		const key = "upload/image/doomed.jpg"
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(DefaultBucket), Key: aws.String(key),
			Body: bytes.NewReader(mediatest.JPEG())}); err != nil {
			t.Fatal(err)
		}
		var f []string
		for deadline := time.Now().Add(60 * time.Second); len(f) == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			f = failedEvents()
		}
		if len(f) != 1 {
			t.Fatalf("failed events: got %d, want the one of %s", len(f), key)
		}
		var rec struct {
			RequestContext struct {
				Condition              string `json:"condition"`
				ApproximateInvokeCount int    `json:"approximateInvokeCount"`
			} `json:"requestContext"`
			RequestPayload struct {
				Records []struct {
					S3 struct{ Object struct{ Key string } }
				}
			} `json:"requestPayload"`
		}
		if err := json.Unmarshal([]byte(f[0]), &rec); err != nil || rec.RequestContext.Condition != "RetriesExhausted" ||
			rec.RequestContext.ApproximateInvokeCount != 3 || rec.RequestPayload.Records[0].S3.Object.Key != key {
			t.Errorf("failed event: got %s, want Lambda's record of 3 attempts at %s", f[0], key)
		}
		if r, _ := read(key); r.ErrCode != -1 {
			t.Errorf("result: got %+v, want errcode -1", r)
		}
		if !strings.Contains(l.stderr.String(), "sent to the failed-events queue") {
			t.Error("make local's log: no line for the failed event")
		}

		l.faults(t, `{}`)
		resp, err := client.Post(l.api+RedrivePath, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "{\"redriven\":1}\n" {
			t.Errorf("redrive: got %q, want {\"redriven\":1}", body)
		}
		if missing := waitFor([]string{key}, 30*time.Second, hasMediaID); len(missing) > 0 {
			r, _ := read(key)
			t.Errorf("after the redrive: %+v, want a media_id", r)
		}
		if f := failedEvents(); len(f) != 0 {
			t.Errorf("after the redrive: %d failed events, want none", len(f))
		}
	})
}

// simUploads is the simulator's count of upload calls, for the log.
func simUploads(t *testing.T, l *local) string {
	resp, err := client.Get(l.wechat + "/_sim/stats")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return "simulator stats " + strings.TrimSpace(string(data))
}
