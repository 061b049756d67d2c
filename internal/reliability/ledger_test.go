package reliability

// The ledger's promises on the whole stack, against moto_server: one
// upload and one result for a crowd, an older version finishing last, reads
// that fail, a wrong AppSecret kept for a redrive, keys of every length,
// and keys that ask for nothing valid. (The same promises under every
// interleaving, step by step, are in pkg/transfer's interleave_test.go.)

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/internal/stacktest"
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/media"
)

// keyRequest posts {"key"} to the stack's HTTP API.
func keyRequest(t *testing.T, st *stacktest.Stack, typ, key string) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"key": key})
	resp, err := http.Post(st.URL+"/cgi-bin/media/upload?type="+typ, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Error(err)
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// results lists results/ in the stack's bucket.
func results(t *testing.T, st *stacktest.Stack) []string {
	t.Helper()
	list, err := st.Moto.S3().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &st.Bucket, Prefix: aws.String("results/")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, *o.Key)
	}
	return keys
}

// 20 concurrent deliveries of one S3 event and 5 concurrent {"key"}
// requests for the same object: one WeChat upload, one success result.
func TestOneUploadForACrowd(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{})
	const key = "upload/image/crowd.jpg"
	event := st.S3Event(stacktest.Created{Key: key, ETag: st.Put(t, key, mediatest.Sample(media.JPEG, 50<<10))})
	start := make(chan struct{})
	var wg sync.WaitGroup
	var failedDeliveries atomic.Int32
	ids := make(chan string, 5)
	for range 20 {
		wg.Go(func() {
			<-start
			if _, err := st.Functions["upload"].Invoke(context.Background(), event); err != nil {
				failedDeliveries.Add(1) // another holds the work: Lambda retries this one
			}
		})
	}
	for range 5 {
		wg.Go(func() {
			<-start
			status, body := keyRequest(t, st, "image", key)
			switch id, _ := body["media_id"].(string); {
			case status == 200 && id != "":
				ids <- id
			case status == 200 && body["errcode"] == float64(-1): // being uploaded by another: try again
			default:
				t.Errorf("a {\"key\"} request got %d %v, want its media_id or errcode -1 (being uploaded)", status, body)
			}
		})
	}
	close(start)
	wg.Wait()
	close(ids)
	t.Logf("%d deliveries found the work held and fail, for Lambda to retry", failedDeliveries.Load())
	for range failedDeliveries.Load() {
		if st.InvokeAsync(t, "upload", event) {
			t.Fatal("a retried delivery ended in the failed-events queue")
		}
	}
	if n := st.Sim.Stats().Upload; n != 1 {
		t.Errorf("WeChat uploads = %d, want 1", n)
	}
	r := st.Result(t, key)
	id, _ := r["media_id"].(string)
	if got, ok := st.Sim.Media(id); !ok || len(got) != 50<<10 {
		t.Errorf("result %v does not name the upload", r)
	}
	for other := range ids {
		if other != id {
			t.Errorf("a {\"key\"} request was answered %s, the result says %s", other, id)
		}
	}
	if keys := results(t, st); len(keys) != 1 {
		t.Errorf("results/ holds %v, want the one result", keys)
	}
}

// Put v1, hold its stream, put v2 and let its delivery finish, then let v1
// finish: the newer version's result stands, and v2's redelivery reuses it.
func TestOlderVersionFinishingLast(t *testing.T) {
	const key = "upload/image/versions.jpg"
	held, release := make(chan struct{}), make(chan struct{})
	var v1 string
	var once sync.Once
	f := &faultyS3{getObject: func(ctx context.Context, in *s3.GetObjectInput, next bucket.API) (*s3.GetObjectOutput, error) {
		out, err := next.GetObject(ctx, in)
		if err == nil && aws.ToString(in.Key) == key && strings.Trim(aws.ToString(in.IfMatch), `"`) == v1 {
			once.Do(func() {
				close(held)
				out.Body = &gatedBody{ReadCloser: out.Body, open: release}
			})
		}
		return out, err
	}}
	st := stacktest.Start(t, stacktest.Options{WrapS3: func(api bucket.API) bucket.API { f.API = api; return f }})
	v1 = st.Put(t, key, mediatest.Sample(media.JPEG, 3000))
	done := make(chan error)
	go func() {
		_, err := st.Functions["upload"].Invoke(context.Background(), st.S3Event(stacktest.Created{Key: key, ETag: v1}))
		done <- err
	}()
	<-held
	v2 := st.Put(t, key, mediatest.Sample(media.JPEG, 4000))
	v2Event := st.S3Event(stacktest.Created{Key: key, ETag: v2})
	if _, err := st.Functions["upload"].Invoke(context.Background(), v2Event); err != nil {
		t.Fatal(err)
	}
	newer := st.Result(t, key)
	close(release)
	if err := <-done; err != nil {
		t.Errorf("v1's delivery failed: %v (a superseded version is done, not retried)", err)
	}
	if r := st.Result(t, key); r["media_id"] != newer["media_id"] || r["etag"] != `"`+v2+`"` {
		t.Errorf("after v1 finished: result %v, want v2's %v", r, newer)
	}
	uploads := st.Sim.Stats().Upload
	if _, err := st.Functions["upload"].Invoke(context.Background(), v2Event); err != nil || st.Sim.Stats().Upload != uploads {
		t.Errorf("v2's redelivery: %v, uploads %d -> %d; want it answered from its result", err, uploads, st.Sim.Stats().Upload)
	}
}

// gatedBody holds its first Read until open is closed.
type gatedBody struct {
	io.ReadCloser
	open chan struct{}
}

func (g *gatedBody) Read(p []byte) (int, error) {
	<-g.open
	return g.ReadCloser.Read(p)
}

// A HEAD, or a read of the result, that fails once: nothing is recorded
// over the earlier success, nothing is uploaded, and the retry answers
// the recorded media_id.
func TestFailedReadsLeaveTheSuccess(t *testing.T) {
	const key = "upload/image/kept.jpg"
	var failHead, failResult atomic.Bool
	f := &faultyS3{
		headObject: func(ctx context.Context, in *s3.HeadObjectInput, next bucket.API) (*s3.HeadObjectOutput, error) {
			if failHead.CompareAndSwap(true, false) {
				return nil, apiError("SlowDown", "Please reduce your request rate.")
			}
			return next.HeadObject(ctx, in)
		},
		getObject: func(ctx context.Context, in *s3.GetObjectInput, next bucket.API) (*s3.GetObjectOutput, error) {
			if isResult(in.Key) && failResult.CompareAndSwap(true, false) {
				return nil, apiError("AccessDenied", "Access Denied")
			}
			return next.GetObject(ctx, in)
		},
	}
	st := stacktest.Start(t, stacktest.Options{WrapS3: func(api bucket.API) bucket.API { f.API = api; return f }})
	event := st.S3Event(stacktest.Created{Key: key, ETag: st.Put(t, key, mediatest.Sample(media.JPEG, 3000))})
	if _, err := st.Functions["upload"].Invoke(context.Background(), event); err != nil {
		t.Fatal(err)
	}
	before, uploads := st.Result(t, key), st.Sim.Stats().Upload

	failHead.Store(true)
	if _, body := keyRequest(t, st, "image", key); body["errcode"] != float64(-1) {
		t.Errorf("{\"key\"} with a failing HEAD: %v, want a system error", body)
	}
	failResult.Store(true)
	if _, err := st.Functions["upload"].Invoke(context.Background(), event); err == nil {
		t.Error("a delivery whose result read failed succeeded: it must be retried, not guessed")
	}
	if after := st.Result(t, key); fmt.Sprint(after) != fmt.Sprint(before) || st.Sim.Stats().Upload != uploads {
		t.Errorf("result %v -> %v, uploads %d -> %d: a failed read changed the outcome", before, after, uploads, st.Sim.Stats().Upload)
	}
	if _, err := st.Functions["upload"].Invoke(context.Background(), event); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	if status, body := keyRequest(t, st, "image", key); status != 200 || body["media_id"] != before["media_id"] {
		t.Errorf("{\"key\"} after the faults: %d %v, want the recorded media_id", status, body)
	}
	if st.Sim.Stats().Upload != uploads {
		t.Error("a retry uploaded again")
	}
	// A result that does not decode is never taken for "no result".
	st.Put(t, "results/"+key+".json", []byte(`{"key":`))
	if _, err := st.Functions["upload"].Invoke(context.Background(), event); err == nil || st.Sim.Stats().Upload != uploads {
		t.Errorf("over an unreadable result: error %v, uploads %d -> %d; want a retried failure and no upload", err, uploads, st.Sim.Stats().Upload)
	}
}

// A wrong AppSecret: the event fails, Lambda retries it, and it lands in
// the failed-events queue, costing one secret re-read and two stable_token
// calls; once the operator fixes the secret, a redrive uploads it.
func TestWrongSecretThenRedrive(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	st := stacktest.Start(t, stacktest.Options{
		Secret: fmt.Sprintf(`{"appid":%q,"appsecret":"rotated-away"}`, stacktest.AppID),
		Now:    func() time.Time { return time.Unix(0, now.Load()) },
	})
	const key = "upload/image/early.jpg"
	event := st.S3Event(stacktest.Created{Key: key, ETag: st.Put(t, key, mediatest.Sample(media.JPEG, 3000))})
	if !st.InvokeAsync(t, "upload", event) {
		t.Fatal("the event succeeded with a wrong AppSecret")
	}
	if r := st.Result(t, key); r["errcode"] != float64(40125) {
		t.Errorf("result %v, want errcode 40125 while the secret is wrong", r)
	}
	if s := st.Sim.Stats(); s.StableToken != 2 || s.Upload != 0 {
		t.Errorf("3 attempts cost %d stable_token calls and %d uploads, want 2 and 0", s.StableToken, s.Upload)
	}
	st.SetSecret(t, fmt.Sprintf(`{"appid":%q,"appsecret":%q}`, stacktest.AppID, stacktest.AppSecret))
	now.Add(int64(10 * time.Second))
	if n := st.Redrive(t, "upload"); n != 1 {
		t.Fatalf("redrove %d events, want 1", n)
	}
	if r := st.Result(t, key); r["media_id"] == nil || st.Sim.Stats().Upload != 1 {
		t.Errorf("after the fix and the redrive: result %v, %d uploads; want a media_id, 1 upload", r, st.Sim.Stats().Upload)
	}
	if st.Redrive(t, "upload") != 0 {
		t.Error("the redriven event is still in the queue")
	}
}

// countingS3 counts every call that reaches S3.
type countingS3 struct {
	bucket.API
	calls atomic.Int32
}

func (c *countingS3) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	c.calls.Add(1)
	return c.API.HeadObject(ctx, in, o...)
}

func (c *countingS3) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	c.calls.Add(1)
	return c.API.GetObject(ctx, in, o...)
}

func (c *countingS3) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	c.calls.Add(1)
	return c.API.PutObject(ctx, in, o...)
}

// A {"key"} outside the allowed prefixes is refused before any S3 call,
// and the refusal does not list the configuration.
func TestKeyOutsideTheAllowedPrefixesReadsNothing(t *testing.T) {
	c := &countingS3{}
	st := stacktest.Start(t, stacktest.Options{Env: map[string]string{"ALLOWED_PREFIXES": "partner-drop"},
		WrapS3: func(api bucket.API) bucket.API { c.API = api; return c }})
	st.Put(t, "private/hr/passport.jpg", mediatest.Sample(media.JPEG, 1000))
	st.Put(t, "partner-drop-x/a.jpg", mediatest.Sample(media.JPEG, 1000))
	for _, key := range []string{"private/hr/passport.jpg", "partner-drop-x/a.jpg", "results/upload/image/test.jpg.json", "media/x.jpg", "claims/abc"} {
		c.calls.Store(0)
		status, body := keyRequest(t, st, "image", key)
		msg, _ := body["errmsg"].(string)
		if status != 200 || body["errcode"] != float64(40035) || strings.Contains(msg, "partner") {
			t.Errorf("%s: %d %v, want errcode 40035 without the configuration", key, status, body)
		}
		if n := c.calls.Load(); n != 0 {
			t.Errorf("%s: %d S3 calls before the refusal, want 0", key, n)
		}
	}
	st.Put(t, "partner-drop/a.jpg", mediatest.Sample(media.JPEG, 1000))
	if status, body := keyRequest(t, st, "image", "partner-drop/a.jpg"); status != 200 || body["media_id"] == nil {
		t.Errorf("a configured prefix: %d %v, want 200", status, body)
	}
}

// Every legal S3 key works, up to 1024 bytes of UTF-8: its result and
// claim keys are cut and hashed to fit.
func TestLongestKeys(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{})
	prefix, ext := "upload/image/", ".jpg"
	name := strings.Repeat("图", (1024-len(prefix)-len(ext))/3)
	key := prefix + name + strings.Repeat("x", 1024-len(prefix)-len(name)-len(ext)) + ext
	if len(key) != 1024 || !utf8.ValidString(key) {
		t.Fatalf("test key of %d bytes", len(key))
	}
	event := st.S3Event(stacktest.Created{Key: key, ETag: st.Put(t, key, mediatest.Sample(media.JPEG, 2000))})
	if _, err := st.Functions["upload"].Invoke(context.Background(), event); err != nil {
		t.Fatal(err)
	}
	keys := results(t, st)
	if len(keys) != 1 || len(keys[0]) > 1024 || !utf8.ValidString(keys[0]) || !strings.HasPrefix(keys[0], "results/upload/image/图") {
		t.Fatalf("results/ holds %q, want one valid key of at most 1024 bytes", keys)
	}
	data, _ := st.Object(t, keys[0])
	var r map[string]any
	json.Unmarshal(data, &r)
	if r["key"] != key || r["media_id"] == nil {
		t.Errorf("the result names %v, want the 1024-byte key and a media_id", r["key"])
	}
	// As thumb through the {"key"} route: its own result, and a reuse.
	if status, body := keyRequest(t, st, "thumb", key); status != 200 || body["thumb_media_id"] == nil {
		t.Errorf("{\"key\"} of the longest key: %d %v", status, body)
	}
	uploads := st.Sim.Stats().Upload
	if _, err := st.Functions["upload"].Invoke(context.Background(), event); err != nil || st.Sim.Stats().Upload != uploads {
		t.Errorf("a redelivery of the longest key: %v, uploads %d -> %d", err, uploads, st.Sim.Stats().Upload)
	}
}

// Keys under a trigger prefix that ask for nothing valid get a result that
// says why, are never sent to another API, and are done (not retried).
func TestExactTriggerKeys(t *testing.T) {
	st := stacktest.Start(t, stacktest.Options{})
	img := mediatest.Sample(media.JPEG, 1000)
	var objects []stacktest.Created
	for _, key := range []string{"upload/x.jpg", "upload/uploadimg/x.jpg", "upload/sticker/x.jpg", "upload/image/"} {
		objects = append(objects, stacktest.Created{Key: key, ETag: st.Put(t, key, img)})
	}
	before := st.Sim.Stats()
	if _, err := st.Functions["upload"].Invoke(context.Background(), st.S3Event(objects...)); err != nil {
		t.Fatalf("keys that ask for nothing valid are final, not retried: %v", err)
	}
	if after := st.Sim.Stats(); after.Upload != before.Upload || after.UploadImg != before.UploadImg {
		t.Errorf("a malformed key reached WeChat: %+v -> %+v", before, after)
	}
	for _, key := range []string{"upload/x.jpg", "upload/uploadimg/x.jpg", "upload/sticker/x.jpg"} {
		r := st.Result(t, key)
		if msg, _ := r["errmsg"].(string); r["errcode"] != float64(40035) || !strings.Contains(msg, "upload/<image|voice|video|thumb>/") {
			t.Errorf("%s: result %v, want errcode 40035 saying which keys work", key, r)
		}
	}
	if keys := results(t, st); len(keys) != 3 {
		t.Errorf("results/ holds %q: a folder marker (upload/image/) asks for nothing", keys)
	}
}
