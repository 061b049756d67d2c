package transfer_test

// The service's streaming design, measured side by side with the way the
// popular Go WeChat SDKs move a file (all of it in memory, then a
// multipart body in a bytes.Buffer). `make bench` runs these through
// cmd/benchreport, which prints the table and writes .bench/.
//
//	go test -run '^$' -bench '^Benchmark(UploadObject|Fetch)$' -benchmem -benchtime 5x ./pkg/transfer/
//	go test -run '^$' -bench '^BenchmarkPipelined$' -benchtime 3x ./pkg/transfer/
//	go test -run '^$' -bench '^BenchmarkHandler$' -benchmem -benchtime 2s ./pkg/transfer/
//
// Both ends are in-process fakes, so the numbers are the service's own:
//   - S3 is fakeS3, a bucket.API that generates each object's body on the
//     fly (mediatest.Reader) and counts and discards what is written. The
//     real S3 client adds its own per-request cost (signing, HTTP, TLS) to
//     ours and to the baseline alike; none of it grows with the object.
//   - WeChat is fakeWeChat, an httptest server on 127.0.0.1 that answers
//     stable_token, streams and discards media/upload's multipart body,
//     and streams a generated body for media/get. The simulator
//     (internal/wechatsim) keeps uploads in memory, which -benchmem would count.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/pkg/bootstrap"
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/media"
	"github.com/wxmedia/wxmedia/pkg/token"
)

// benchSizes are the object sizes of the memory benchmarks. 50 MB is above
// WeChat's 10 MB image limit on purpose (the service is built with
// image=100MB): it shows the trend.
var benchSizes = []struct {
	name string
	n    int64
}{
	{"1MB", 1 * media.MB},
	{"10MB", 10 * media.MB},
	{"50MB", 50 * media.MB},
}

const benchBucket = "bench"

// objectKey is the key of a generated JPEG of n bytes in fakeS3, under the
// image trigger prefix; throttled ones are read at fakeS3.rate.
func objectKey(n int64, throttled bool) string {
	if throttled {
		return "upload/image/slow-" + strconv.FormatInt(n, 10) + ".jpg"
	}
	return "upload/image/" + strconv.FormatInt(n, 10) + ".jpg"
}

// fakeS3 is an in-process bucket.API (a fake, fine in a benchmark): the
// objects objectKey names exist with the size in their key, their bodies
// generated as they are read; everything written is counted and dropped, so
// no result is ever found, every claim is granted, and every upload is a
// fresh one: the happy path, every time.
type fakeS3 struct {
	rate int64 // bytes per second of slow/ objects

	heads, gets, puts, parts atomic.Int64
	written                  atomic.Int64 // bytes of media written (PutObject of media/ and parts)
}

var _ bucket.API = (*fakeS3)(nil)

func (f *fakeS3) object(key string) (size int64, throttled, ok bool) {
	name, ok := strings.CutPrefix(key, "upload/image/")
	if !ok {
		return 0, false, false
	}
	name, throttled = strings.CutPrefix(name, "slow-")
	n, err := strconv.ParseInt(strings.TrimSuffix(name, ".jpg"), 10, 64)
	return n, throttled, err == nil
}

// requests is the S3 requests made so far.
func (f *fakeS3) requests() int64 {
	return f.heads.Load() + f.gets.Load() + f.puts.Load() + f.parts.Load()
}

func etag(n int64) *string { return aws.String(`"` + strconv.FormatInt(n, 16) + `"`) }

func (f *fakeS3) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	f.heads.Add(1)
	n, _, ok := f.object(aws.ToString(in.Key))
	if !ok {
		return nil, &types.NotFound{}
	}
	return &s3.HeadObjectOutput{ContentLength: aws.Int64(n), ETag: etag(n), ContentType: aws.String("image/jpeg")}, nil
}

func (f *fakeS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f.gets.Add(1)
	n, throttled, ok := f.object(aws.ToString(in.Key))
	if !ok {
		return nil, &types.NoSuchKey{}
	}
	if in.IfMatch != nil && *in.IfMatch != *etag(n) {
		return nil, &smithy.GenericAPIError{Code: "PreconditionFailed"}
	}
	from, to := int64(0), n-1
	if r := aws.ToString(in.Range); r != "" {
		a, b, _ := strings.Cut(strings.TrimPrefix(r, "bytes="), "-")
		from, _ = strconv.ParseInt(a, 10, 64)
		if b != "" {
			to, _ = strconv.ParseInt(b, 10, 64)
		}
		to = min(to, n-1)
	}
	var body io.Reader = mediatest.SampleReader(media.JPEG, n)
	if from > 0 {
		if _, err := io.CopyN(io.Discard, body, from); err != nil {
			return nil, err
		}
	}
	body = io.LimitReader(body, to-from+1)
	if throttled {
		body = throttle(body, f.rate)
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(body), ContentLength: aws.Int64(to - from + 1), ETag: etag(n)}, nil
}

func (f *fakeS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	f.puts.Add(1)
	n, err := io.Copy(io.Discard, in.Body)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(aws.ToString(in.Key), bucket.MediaPrefix) {
		f.written.Add(n)
	}
	return &s3.PutObjectOutput{ETag: etag(n)}, nil
}

func (f *fakeS3) ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	f.gets.Add(1)
	return &s3.ListObjectsV2Output{}, nil // nothing stored: every get fetches from WeChat
}

func (f *fakeS3) CreateMultipartUpload(context.Context, *s3.CreateMultipartUploadInput, ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	return &s3.CreateMultipartUploadOutput{UploadId: aws.String("U")}, nil
}

func (f *fakeS3) UploadPart(_ context.Context, in *s3.UploadPartInput, _ ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	f.parts.Add(1)
	n, err := io.Copy(io.Discard, in.Body)
	if err != nil {
		return nil, err
	}
	f.written.Add(n)
	return &s3.UploadPartOutput{ETag: etag(n)}, nil
}

func (f *fakeS3) CompleteMultipartUpload(context.Context, *s3.CompleteMultipartUploadInput, ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	return &s3.CompleteMultipartUploadOutput{}, nil
}

func (f *fakeS3) AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	return &s3.AbortMultipartUploadOutput{}, nil
}

// throttled reads at most rate bytes per second, measured from its first
// Read, in slices of at most 32 KB. It sleeps until the time its bytes so
// far are due, so sleeping late does not add up.
type throttled struct {
	r     io.Reader
	rate  int64
	start time.Time
	n     int64
}

func throttle(r io.Reader, rate int64) io.Reader { return &throttled{r: r, rate: rate} }

func (t *throttled) Read(p []byte) (int, error) {
	if t.start.IsZero() {
		t.start = time.Now()
	}
	if len(p) > 32<<10 {
		p = p[:32<<10]
	}
	n, err := t.r.Read(p)
	t.n += int64(n)
	due := t.start.Add(time.Duration(float64(t.n) / float64(t.rate) * float64(time.Second)))
	if d := time.Until(due); d > 0 {
		time.Sleep(d)
	}
	return n, err
}

// fakeWeChat is the WeChat side: an httptest server on 127.0.0.1 that
// answers stable_token, reads media/upload's multipart body (at rate bytes
// per second if rate > 0) and throws it away, and answers media/get with a
// generated JPEG of getSize bytes.
type fakeWeChat struct {
	url     string
	rate    int64
	getSize atomic.Int64

	tokens   atomic.Int64 // stable_token calls
	uploads  atomic.Int64
	received atomic.Int64 // bytes of the last upload's media part
}

func newFakeWeChat(tb testing.TB, rate int64) *fakeWeChat {
	tb.Helper()
	w := &fakeWeChat{rate: rate}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cgi-bin/stable_token", func(rw http.ResponseWriter, r *http.Request) {
		w.tokens.Add(1)
		io.Copy(io.Discard, r.Body)
		reply(rw, `{"access_token":"T","expires_in":7200}`)
	})
	mux.HandleFunc("POST /cgi-bin/media/upload", w.upload)
	mux.HandleFunc("GET /cgi-bin/media/get", func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("access_token") != "T" {
			reply(rw, `{"errcode":40001,"errmsg":"invalid credential"}`)
			return
		}
		n := w.getSize.Load()
		rw.Header().Set("Content-Type", "image/jpeg")
		rw.Header().Set("Content-Disposition", `attachment; filename="M.jpg"`)
		rw.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		io.Copy(rw, mediatest.SampleReader(media.JPEG, n))
	})
	srv := httptest.NewServer(mux) // 127.0.0.1
	tb.Cleanup(srv.Close)
	w.url = srv.URL
	return w
}

func (w *fakeWeChat) upload(rw http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("access_token") != "T" {
		reply(rw, `{"errcode":40001,"errmsg":"invalid credential"}`)
		return
	}
	if w.rate > 0 {
		r.Body = struct {
			io.Reader
			io.Closer
		}{throttle(r.Body, w.rate), r.Body}
	}
	n, err := mediatest.DrainMultipart(r, "media")
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	w.uploads.Add(1)
	w.received.Store(n)
	reply(rw, `{"type":"image","media_id":"M","created_at":1700000000}`)
}

func reply(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, body)
}

// newApp wires the service as the functions do (bootstrap.New: the token
// source, the WeChat client and its HTTP transport, the bucket, the
// presigner), with the fakes at both ends: the claims and the media_id
// index go to a table that, like fakeS3, keeps nothing written, so that
// each iteration uploads again. The image limit is raised to
// 100 MB so the 50 MB object is allowed; logs are formatted and dropped.
func newApp(tb testing.TB, api bucket.API, wx *fakeWeChat) *bootstrap.App {
	tb.Helper()
	rules, err := media.DefaultRules().WithLimits("image=100MB")
	if err != nil {
		tb.Fatal(err)
	}
	s3c := s3.New(s3.Options{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDBENCH", "bench", "")})
	a := bootstrap.New(bootstrap.Config{Bucket: benchBucket, SecretID: "bench", WeChatBase: wx.url, Rules: rules},
		bootstrap.Deps{S3: api, Presigner: s3.NewPresignClient(s3c), Credentials: token.Static("wxbench", "bench"),
			Records: forgetful{}})
	a.SetLogOutput(io.Discard)
	return a
}

// forgetful is the stack's table keeping nothing: every record is absent,
// every write succeeds (as fakeS3's).
type forgetful struct{}

func (forgetful) ReadJSON(context.Context, string, any) (string, error) {
	return "", failure.ErrNotFound
}
func (forgetful) WriteJSON(context.Context, string, any, bucket.Condition) (string, error) {
	return "v", nil
}

// streamedUpload is ours: UploadObject of a generated S3 object, as its
// S3 event names it (key and bare ETag).
func streamedUpload(a *bootstrap.App, wx *fakeWeChat) func(ctx context.Context, key string, n int64) error {
	return func(ctx context.Context, key string, n int64) error {
		r, err := a.Service.UploadObject(ctx, key, strings.Trim(*etag(n), `"`))
		if err != nil {
			return err
		}
		if r.MediaID != "M" {
			return fmt.Errorf("media_id %q, want M", r.MediaID)
		}
		if got := wx.received.Load(); got != n {
			return fmt.Errorf("WeChat received %d bytes, want %d", got, n)
		}
		return nil
	}
}

// bufferedUpload is the baseline, store and forward: the object downloaded
// into memory (io.ReadAll of GetObject's body), then the multipart body
// built in a bytes.Buffer and posted, as silenceper/wechat's
// util.PostMultipartForm and most snippets do (see pkg/wechat/bench_test.go).
// It is given the token, so it makes no token call.
func bufferedUpload(api bucket.API, wx *fakeWeChat) func(ctx context.Context, key string, n int64) error {
	uri := wx.url + "/cgi-bin/media/upload?access_token=T&type=image"
	return func(ctx context.Context, key string, n int64) error {
		out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(benchBucket), Key: &key})
		if err != nil {
			return err
		}
		data, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil {
			return err
		}
		body := &bytes.Buffer{}
		mw := multipart.NewWriter(body)
		fw, err := mw.CreateFormFile("media", "media.jpg")
		if err != nil {
			return err
		}
		if _, err := fw.Write(data); err != nil {
			return err
		}
		if err := mw.Close(); err != nil {
			return err
		}
		resp, err := (&http.Client{}).Post(uri, mw.FormDataContentType(), body)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var res struct {
			ErrCode int    `json:"errcode"`
			MediaID string `json:"media_id"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
			return err
		}
		if res.ErrCode != 0 || res.MediaID != "M" {
			return fmt.Errorf("answer %+v", res)
		}
		if got := wx.received.Load(); got != n {
			return fmt.Errorf("WeChat received %d bytes, want %d", got, n)
		}
		return nil
	}
}

// BenchmarkUploadObject: S3 → WeChat. Ours allocates the same per upload
// whatever the object's size; the baseline about 4× the object.
func BenchmarkUploadObject(b *testing.B) {
	api := &fakeS3{}
	wx := newFakeWeChat(b, 0)
	a := newApp(b, api, wx)
	paths := []struct {
		name string
		up   func(ctx context.Context, key string, n int64) error
	}{
		{"streaming", streamedUpload(a, wx)},
		{"buffered", bufferedUpload(api, wx)},
	}
	ctx := context.Background()
	for _, p := range paths {
		for _, size := range benchSizes {
			b.Run(p.name+"/"+size.name, func(b *testing.B) {
				key := objectKey(size.n, false)
				if err := p.up(ctx, key, size.n); err != nil { // token, connections, pools
					b.Fatal(err)
				}
				b.SetBytes(size.n)
				b.ReportAllocs()
				r0 := api.requests()
				for b.Loop() {
					if err := p.up(ctx, key, size.n); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(api.requests()-r0)/float64(b.N), "s3-requests/op")
			})
		}
	}
	if n := wx.tokens.Load(); n != 1 {
		b.Errorf("stable_token called %d times, want 1", n)
	}
}

// bufferedFetch is the get baseline: the media read into memory (as
// silenceper/wechat's GetTempMedia answers []byte), then one PutObject.
func bufferedFetch(api bucket.API, wx *fakeWeChat) func(ctx context.Context, n int64) error {
	uri := wx.url + "/cgi-bin/media/get?access_token=T&media_id=M"
	return func(ctx context.Context, n int64) error {
		resp, err := (&http.Client{}).Get(uri)
		if err != nil {
			return err
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		before := api.(*fakeS3).written.Load()
		_, err = api.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(benchBucket), Key: aws.String(bucket.MediaPrefix + "M.jpg"),
			Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String(resp.Header.Get("Content-Type"))})
		if err != nil {
			return err
		}
		if got := api.(*fakeS3).written.Load() - before; got != n {
			return fmt.Errorf("S3 received %d bytes, want %d", got, n)
		}
		return nil
	}
}

// streamedFetch is ours: Fetch, WeChat → S3 through one multipart part.
func streamedFetch(a *bootstrap.App, api *fakeS3) func(ctx context.Context, n int64) error {
	return func(ctx context.Context, n int64) error {
		before := api.written.Load()
		f, err := a.Service.Fetch(ctx, "M")
		if err != nil {
			return err
		}
		if got := api.written.Load() - before; f.Size != n || got != n {
			return fmt.Errorf("stored %d bytes (S3 received %d), want %d", f.Size, got, n)
		}
		return nil
	}
}

// BenchmarkFetch: WeChat → S3. Ours allocates one multipart part (5 MiB)
// per get whatever the size; the baseline about 2.5× the media.
func BenchmarkFetch(b *testing.B) {
	api := &fakeS3{}
	wx := newFakeWeChat(b, 0)
	a := newApp(b, api, wx)
	paths := []struct {
		name string
		get  func(ctx context.Context, n int64) error
	}{
		{"streaming", streamedFetch(a, api)},
		{"buffered", bufferedFetch(api, wx)},
	}
	ctx := context.Background()
	for _, p := range paths {
		for _, size := range benchSizes {
			b.Run(p.name+"/"+size.name, func(b *testing.B) {
				wx.getSize.Store(size.n)
				if err := p.get(ctx, size.n); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(size.n)
				b.ReportAllocs()
				for b.Loop() {
					if err := p.get(ctx, size.n); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// Pipelining: both legs limited to the same bandwidth.
const (
	pipeRate = 20 * media.MB // bytes per second, S3 read and WeChat write alike
	pipeSize = 10 * media.MB
)

// BenchmarkPipelined uploads 10 MB from a slow S3 (20 MB/s) to a slow
// WeChat (20 MB/s). Each iteration also times the two legs alone, untimed:
// reading the object (S3 leg) and uploading an unthrottled object to the
// slow WeChat (WeChat leg). x-leg is the upload's time over the slower leg:
// about 1 when the legs overlap, about 2 for store and forward.
func BenchmarkPipelined(b *testing.B) {
	api := &fakeS3{rate: pipeRate}
	wx := newFakeWeChat(b, pipeRate)
	a := newApp(b, api, wx)
	ours := streamedUpload(a, wx)
	paths := []struct {
		name string
		up   func(ctx context.Context, key string, n int64) error
	}{
		{"streaming", ours},
		{"buffered", bufferedUpload(api, wx)},
	}
	ctx := context.Background()
	timed := func(f func() error) time.Duration {
		start := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	s3Leg := func() error {
		out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(benchBucket), Key: aws.String(objectKey(pipeSize, true))})
		if err != nil {
			return err
		}
		defer out.Body.Close()
		_, err = io.Copy(io.Discard, out.Body)
		return err
	}
	wechatLeg := func() error { return ours(ctx, objectKey(pipeSize, false), pipeSize) }
	for _, p := range paths {
		b.Run(p.name, func(b *testing.B) {
			if err := p.up(ctx, objectKey(media.MB, false), media.MB); err != nil { // warm up, unthrottled source
				b.Fatal(err)
			}
			var total, legs time.Duration
			var s3ms, wxms float64
			for b.Loop() {
				b.StopTimer()
				s3d, wxd := timed(s3Leg), timed(wechatLeg)
				legs += max(s3d, wxd)
				s3ms += float64(s3d) / 1e6
				wxms += float64(wxd) / 1e6
				b.StartTimer()
				total += timed(func() error { return p.up(ctx, objectKey(pipeSize, true), pipeSize) })
			}
			n := float64(b.N)
			b.ReportMetric(s3ms/n, "s3-leg-ms")
			b.ReportMetric(wxms/n, "wechat-leg-ms")
			b.ReportMetric(float64(total)/1e6/n, "total-ms")
			b.ReportMetric(float64(total)/float64(legs), "x-leg")
		})
	}
}

// smallImage is the size of the image of BenchmarkHandler.
const smallImage = 100 << 10

// BenchmarkHandler sends {"key"} requests for a 100 KB JPEG through the
// whole HTTP handler (App.HTTP(): routing, JSON, key check, token cache,
// the S3 reads and writes of UploadObject, the upload to fakeWeChat, the
// answer and the log line), and after each, untimed, posts the same
// multipart body straight to fakeWeChat with a bare http.Client: that is
// WeChat's own time as a client sees it. overhead-p50-ms is the difference
// of the two medians.
func BenchmarkHandler(b *testing.B) {
	api := &fakeS3{}
	wx := newFakeWeChat(b, 0)
	a := newApp(b, api, wx)
	h := a.HTTP()
	reqBody := `{"key":"` + objectKey(smallImage, false) + `"}`
	serve := func() error {
		req := httptest.NewRequest(http.MethodPost, "/cgi-bin/media/upload?type=image", strings.NewReader(reqBody))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"media_id":"M"`) {
			return fmt.Errorf("answer %d %s", rec.Code, rec.Body)
		}
		if got := wx.received.Load(); got != smallImage {
			return fmt.Errorf("WeChat received %d bytes, want %d", got, smallImage)
		}
		return nil
	}

	var direct bytes.Buffer
	mw := multipart.NewWriter(&direct)
	fw, _ := mw.CreateFormFile("media", "media.jpg")
	io.Copy(fw, mediatest.SampleReader(media.JPEG, smallImage))
	mw.Close()
	client := &http.Client{}
	uri := wx.url + "/cgi-bin/media/upload?access_token=T&type=image"
	bare := func() error {
		resp, err := client.Post(uri, mw.FormDataContentType(), bytes.NewReader(direct.Bytes()))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}

	for range 20 { // token, connections, pools
		if err := errors.Join(serve(), bare()); err != nil {
			b.Fatal(err)
		}
	}
	h0, g0, p0, r0 := api.heads.Load(), api.gets.Load(), api.puts.Load(), api.requests()
	var ours, wechat []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		if err := serve(); err != nil {
			b.Fatal(err)
		}
		ours = append(ours, time.Since(start))
		b.StopTimer()
		start = time.Now()
		if err := bare(); err != nil {
			b.Fatal(err)
		}
		wechat = append(wechat, time.Since(start))
		b.StartTimer()
	}
	n := float64(b.N)
	tokens := wx.tokens.Load()
	if tokens != 1 {
		b.Errorf("stable_token called %d times, want 1", tokens)
	}
	p50, w50 := median(ours), median(wechat)
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(w50), "wechat-p50-ms")
	b.ReportMetric(ms(p50-w50), "overhead-p50-ms")
	b.ReportMetric(float64(tokens), "token-fetches")
	b.ReportMetric(float64(api.heads.Load()-h0)/n, "s3-heads/op")
	b.ReportMetric(float64(api.gets.Load()-g0)/n, "s3-gets/op")
	b.ReportMetric(float64(api.puts.Load()-p0)/n, "s3-puts/op")
	b.ReportMetric(float64(api.requests()-r0)/n, "s3-requests/op")
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// TestBenchFakes checks the benchmarks' harness, not timing: an object goes
// whole through UploadObject and the baseline to fakeWeChat, media comes
// whole through Fetch and the baseline into fakeS3, the throttle holds its
// rate, and one token serves it all. Fast enough for -race.
func TestBenchFakes(t *testing.T) {
	api := &fakeS3{rate: 4 * media.MB}
	wx := newFakeWeChat(t, 0)
	a := newApp(t, api, wx)
	ctx := context.Background()
	const n = 300 << 10
	r0 := api.requests()
	if err := streamedUpload(a, wx)(ctx, objectKey(n, false), n); err != nil {
		t.Errorf("UploadObject: %v", err)
	}
	if got := api.requests() - r0; got != 3 {
		t.Errorf("an S3-triggered upload made %d S3 requests, want 3 (result read, object, result; the claim and the index are DynamoDB writes)", got)
	}
	if err := bufferedUpload(api, wx)(ctx, objectKey(n, false), n); err != nil {
		t.Errorf("buffered upload: %v", err)
	}
	wx.getSize.Store(6 * media.MB) // more than one part
	if err := streamedFetch(a, api)(ctx, 6*media.MB); err != nil {
		t.Errorf("Fetch: %v", err)
	}
	if err := bufferedFetch(api, wx)(ctx, 6*media.MB); err != nil {
		t.Errorf("buffered fetch: %v", err)
	}
	if got := wx.tokens.Load(); got != 1 {
		t.Errorf("stable_token calls = %d, want 1", got)
	}

	start := time.Now()
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Key: aws.String(objectKey(media.MB, true))})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.Copy(io.Discard, out.Body)
	if took := time.Since(start); err != nil || got != media.MB || took < 240*time.Millisecond {
		t.Errorf("throttled read of 1 MB at 4 MB/s: %d bytes in %v (%v), want all of it in at least 250ms", got, took, err)
	}
}
