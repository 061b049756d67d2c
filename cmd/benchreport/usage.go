package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/wxmedia/wxmedia/internal/localaws"
	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/rie"
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/media"
)

// usage is what one piece of work cost, measured under the emulator
// against the backends: its requests by kind, the log bytes it wrote,
// the metric series its EMF lines touched, its duration and the API
// Gateway requests it is metered as.
type usage struct {
	Work       string           `json:"work"`
	Requests   map[string]int64 `json:"requests"`
	LogBytes   int64            `json:"log_bytes"`
	Series     int              `json:"series"`
	DurationMS float64          `json:"duration_ms"` // the invocation, as the emulator timed it
	APIUnits   int64            `json:"api_units"`   // API Gateway requests, metered in 512 KB steps; 0 for S3
}

// The work the cost table prices: 1 MB images, as the README's table.
const (
	workTriggered = "S3-triggered upload"
	workKey       = `{"key"} upload`
	workMultipart = "multipart upload"
	workGet       = "get"
	costSize      = 1 << 20
)

var costWork = []string{workTriggered, workKey, workMultipart, workGet}

// measureUsage runs each kind of work twice in one container under the
// emulator (the first pays the container's token and secret, amortised
// over its life) and measures the second.
func measureUsage(ctx context.Context, emulator, dir string, be *backends, home string) ([]usage, error) {
	jpg := mediatest.Sample(media.JPEG, costSize)
	var mediaIDs []string
	var out []usage
	for _, work := range costWork {
		fn := "upload"
		if work == workGet {
			fn = "get"
			if err := be.forget(mediaIDs); err != nil { // get's whole job: fetching it from WeChat
				return nil, err
			}
		}
		em, err := rie.Start(ctx, rie.Options{Binary: emulator, Bootstrap: filepath.Join(dir, fn), Env: be.env(fn, home)})
		if err != nil {
			return nil, err
		}
		var u usage
		for i := range 2 {
			event, units, err := costEvent(work, i, jpg, be, mediaIDs)
			if err != nil {
				em.Close()
				return nil, err
			}
			before := be.kinds.snapshot()
			res, err := em.Invoke(ctx, event)
			if err != nil {
				em.Close()
				return nil, fmt.Errorf("%s: %w\n%s", work, err, em.Output())
			}
			if a, err := httpAnswer(res); work != workTriggered && (err != nil || a.StatusCode != 200 || strings.Contains(a.Body, `"errcode":`)) {
				em.Close()
				return nil, fmt.Errorf("%s: answered %s\n%s", work, res.Body, em.Output())
			}
			if work == workKey {
				mediaIDs = append(mediaIDs, costMediaID(res.Body))
			}
			u = usage{Work: work, Requests: minus(be.kinds.snapshot(), before), LogBytes: logBytes(res.Log),
				Series: seriesOf(res.Log), DurationMS: ms(res.Duration), APIUnits: units}
		}
		em.Close()
		out = append(out, u)
	}
	return out, nil
}

// costEvent is work's i-th event, and the API Gateway requests it is
// metered as.
func costEvent(work string, i int, jpg []byte, be *backends, mediaIDs []string) ([]byte, int64, error) {
	key := fmt.Sprintf("upload/image/cost-%d-%d.jpg", slices.Index(costWork, work), i)
	switch work {
	case workTriggered, workKey:
		if err := be.bucket.Put(coldBucket, key, "image/jpeg", jpg); err != nil {
			return nil, 0, err
		}
		if work == workKey {
			body := `{"key":"` + key + `"}`
			return httpEvent("POST", "/cgi-bin/media/upload", "type=image", body), apiUnits(len(body)), nil
		}
		sum := md5.Sum(jpg)
		ev, err := localaws.EventJSON(localaws.Created{Bucket: coldBucket, Key: key, Size: int64(len(jpg)), ETag: hex.EncodeToString(sum[:])})
		return ev, 0, err
	case workMultipart:
		body, ctype := multipartBody(jpg)
		return httpEventBinary("POST", "/cgi-bin/media/upload", "type=image", ctype, body), apiUnits(len(body)), nil
	case workGet:
		if i >= len(mediaIDs) {
			return nil, 0, fmt.Errorf("get: no media_id %d from the {\"key\"} uploads (%d)", i, len(mediaIDs))
		}
		return httpEvent("GET", "/cgi-bin/media/get", "media_id="+mediaIDs[i], ""), 1, nil
	}
	return nil, 0, fmt.Errorf("no work %q", work)
}

// apiUnits is how many requests API Gateway meters a body of n bytes as.
func apiUnits(n int) int64 { return int64(max(1, (n+512<<10-1)/(512<<10))) }

func multipartBody(data []byte) ([]byte, string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	part, _ := w.CreateFormFile("media", "photo.jpg")
	_, _ = part.Write(data)
	_ = w.Close()
	return b.Bytes(), w.FormDataContentType()
}

// httpEventBinary is an API Gateway HTTP API request with a binary body,
// base64-encoded as API Gateway sends it.
func httpEventBinary(method, path, query, ctype string, body []byte) []byte {
	var ev map[string]any
	_ = json.Unmarshal(httpEvent(method, path, query, ""), &ev)
	ev["body"], ev["isBase64Encoded"] = base64.StdEncoding.EncodeToString(body), true
	ev["headers"].(map[string]any)["content-type"] = ctype
	ev["headers"].(map[string]any)["content-length"] = strconv.Itoa(len(body))
	data, _ := json.Marshal(ev)
	return data
}

// costMediaID is the media_id of an HTTP answer.
func costMediaID(body []byte) string {
	var a struct {
		Body string `json:"body"`
	}
	_ = json.Unmarshal(body, &a)
	var r struct {
		MediaID string `json:"media_id"`
	}
	_ = json.Unmarshal([]byte(a.Body), &r)
	return r.MediaID
}

// forget deletes the media_id index entries of ids, so that get fetches
// them from WeChat.
func (b *backends) forget(ids []string) error {
	for _, id := range ids {
		_, err := b.table.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: ptr(coldTable),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: bucket.MediaIndexPrefix + id + ".json"}}})
		if err != nil {
			return err
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

func minus(a, b map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range a {
		if d := v - b[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// logBytes are the bytes CloudWatch Logs ingests for an invocation: the
// function's lines and Lambda's START, END and REPORT (the emulator's own
// debug lines are not sent). Each line is an event; the newline counts.
func logBytes(lines []string) int64 {
	var n int64
	for _, l := range lines {
		if emulatorLine(l) {
			continue
		}
		n += int64(len(l)) + 1
	}
	return n
}

// emulatorLine is a line of the emulator's own log (its timestamped
// debug lines, INIT REPORT and INVOKE RTDONE), not one CloudWatch gets.
func emulatorLine(l string) bool {
	return strings.Contains(l, "[INFO]") || strings.Contains(l, "[DEBUG]") || strings.Contains(l, "[WARN]") ||
		strings.Contains(l, "INIT REPORT") || strings.Contains(l, "INVOKE RTDONE")
}

// seriesOf counts the metric series the EMF documents among lines touch:
// each metric under each dimension set with its values.
func seriesOf(lines []string) int {
	seen := map[string]bool{}
	for _, l := range lines {
		var doc map[string]json.RawMessage
		if !strings.HasPrefix(l, "{") || !strings.Contains(l, `"_aws"`) || json.Unmarshal([]byte(l), &doc) != nil {
			continue
		}
		var aws struct {
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name string }
			}
		}
		_ = json.Unmarshal(doc["_aws"], &aws)
		for _, d := range aws.CloudWatchMetrics {
			for _, dims := range d.Dimensions {
				var vals []string
				for _, name := range dims {
					vals = append(vals, name+"="+strings.Trim(string(doc[name]), `"`))
				}
				sort.Strings(vals)
				for _, m := range d.Metrics {
					seen[d.Namespace+"/"+m.Name+"{"+strings.Join(vals, ",")+"}"] = true
				}
			}
		}
	}
	return len(seen)
}

// saveUsage writes the measured usage where the cost table is generated
// from (usageFile), for the test that keeps the docs' table in step.
func saveUsage(u []usage) error {
	data, err := json.MarshalIndent(u, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(usageFile, append(data, '\n'), 0o644)
}

func loadUsage(path string) ([]usage, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var u []usage
	return u, json.Unmarshal(data, &u)
}

// usageFile holds the last make bench's measured usage.
const usageFile = "cmd/benchreport/usage.json"
