package localaws

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// S3Options configure an S3. Zero values become defaults in NewS3.
type S3Options struct {
	// Buckets are created, empty, at start. Other buckets can be created
	// by clients (aws s3 mb).
	Buckets []string
	// Notify, if set, is called with the notification for each object
	// created (PUT, copy, or a completed multipart upload) in NotifyBucket
	// under one of NotifyPrefixes, once the client has had its answer. It
	// runs in its own goroutine with a context bounded by NotifyTimeout,
	// as Lambda runs an asynchronous invocation; an error is logged.
	Notify         func(ctx context.Context, e events.S3Event) error
	NotifyBucket   string        // "" means any bucket
	NotifyPrefixes []string      // empty means any key
	NotifyTimeout  time.Duration // default 60 s
	Region         string        // in events; default DefaultRegion
	Logger         *slog.Logger  // default slog.Default()
}

// S3 is an in-memory S3 that notifies like S3 event notifications. It
// serves path-style requests (http://host/bucket/key) and accepts any
// credentials.
type S3 struct {
	backend *s3mem.Backend
	handler http.Handler
	opts    S3Options
	seq     atomic.Int64

	ctx    context.Context // parent of the notifications; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewS3 returns an S3 with opts.Buckets created.
func NewS3(opts S3Options) (*S3, error) {
	if opts.NotifyTimeout <= 0 {
		opts.NotifyTimeout = 60 * time.Second
	}
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	backend := s3mem.New()
	for _, b := range opts.Buckets {
		if err := backend.CreateBucket(b); err != nil {
			return nil, fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	// No time-skew check: a laptop's clock is whatever it is.
	fake := gofakes3.New(backend, gofakes3.WithTimeSkewLimit(0))
	ctx, cancel := context.WithCancel(context.Background())
	s := &S3{backend: backend, handler: fake.Server(), opts: opts, ctx: ctx, cancel: cancel}
	s.seq.Store(time.Now().UnixNano())
	return s, nil
}

// Put stores an object directly, without a notification (objects that
// were there before notifications were set up).
func (s *S3) Put(bucket, key, contentType string, data []byte) error {
	// Last-Modified, as gofakes3 notes it for an object put over HTTP: the
	// AWS CLI reads it from every HEAD and GET.
	meta := map[string]string{"Last-Modified": time.Now().UTC().Format(http.TimeFormat)}
	if contentType != "" {
		meta["Content-Type"] = contentType
	}
	if _, err := s.backend.PutObject(bucket, key, meta, bytes.NewReader(data), int64(len(data)), nil); err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// Close cancels the notifications still running and waits for them to
// return. Requests are not refused: stop the server first.
func (s *S3) Close() {
	s.cancel()
	s.wg.Wait()
}

// Wait waits for the notifications started so far to return.
func (s *S3) Wait() { s.wg.Wait() }

// ServeHTTP answers S3 requests, and notifies of the objects created.
func (s *S3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.ifMatchFails(r) {
		// gofakes3 honours conditions on PUT only; S3 also answers 412 to a
		// read pinned to a version that is no longer the object's.
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusPreconditionFailed)
		if r.Method == http.MethodGet {
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-Match</Condition></Error>`)
		}
		return
	}
	if bucket, ok := isFormPost(r); ok {
		s.servePost(w, r, bucket)
		return
	}
	op := createOp(r)
	if op == "" || s.opts.Notify == nil {
		s.handler.ServeHTTP(w, r)
		return
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if !s.wants(bucket, key) {
		s.handler.ServeHTTP(w, r)
		return
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	s.handler.ServeHTTP(sw, r)
	if sw.status/100 != 2 {
		return
	}
	s.created(r, w, bucket, key, op)
}

// created notifies of the object r created at key, as the object now is.
func (s *S3) created(r *http.Request, w http.ResponseWriter, bucket, key, op string) {
	obj, err := s.backend.HeadObject(bucket, key)
	if err != nil {
		s.opts.Logger.Warn("s3 notification: object gone", "bucket", bucket, "key", key, "error", err.Error())
		return
	}
	if obj.Contents != nil {
		obj.Contents.Close()
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	seq := fmt.Sprintf("%016X", s.seq.Add(1))
	e, err := Event(Created{Bucket: bucket, Key: key, Size: obj.Size, ETag: hex.EncodeToString(obj.Hash),
		VersionID: string(obj.VersionID), Op: op, Region: s.opts.Region, SourceIP: ip,
		RequestID: w.Header().Get("x-amz-request-id"), Sequencer: seq})
	if err != nil {
		s.opts.Logger.Error("s3 notification", "bucket", bucket, "key", key, "error", err.Error())
		return
	}
	s.notify(e)
}

// ifMatchFails reports whether r is a read of an object pinned with
// If-Match to an ETag the object no longer has.
func (s *S3) ifMatchFails(r *http.Request) bool {
	want := r.Header.Get("If-Match")
	if want == "" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return false
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if key == "" {
		return false
	}
	obj, err := s.backend.HeadObject(bucket, key)
	if err != nil {
		return false // gofakes3 answers the missing key itself
	}
	if obj.Contents != nil {
		obj.Contents.Close()
	}
	return strings.Trim(want, `"`) != hex.EncodeToString(obj.Hash)
}

// notify runs Notify in its own goroutine, as an asynchronous invocation.
func (s *S3) notify(e events.S3Event) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, s.opts.NotifyTimeout)
		defer cancel()
		key := e.Records[0].S3.Object.URLDecodedKey
		if err := s.opts.Notify(ctx, e); err != nil {
			s.opts.Logger.Error("s3 notification failed", "bucket", e.Records[0].S3.Bucket.Name, "key", key,
				"event", e.Records[0].EventName, "error", err.Error())
		}
	}()
}

// wants reports whether a created object is notified.
func (s *S3) wants(bucket, key string) bool {
	if key == "" || (s.opts.NotifyBucket != "" && bucket != s.opts.NotifyBucket) {
		return false
	}
	if len(s.opts.NotifyPrefixes) == 0 {
		return true
	}
	for _, p := range s.opts.NotifyPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// createOp returns the ObjectCreated event name suffix for a request that
// creates an object if it succeeds, or "".
func createOp(r *http.Request) string {
	q := r.URL.Query()
	switch r.Method {
	case http.MethodPut:
		// PutObject and CopyObject; not a part, nor a subresource
		// (?tagging, ?acl …). The SDKs add x-id, presigned URLs X-Amz-*.
		for k := range q {
			if k != "x-id" && !strings.HasPrefix(strings.ToLower(k), "x-amz-") {
				return ""
			}
		}
		if r.Header.Get("X-Amz-Copy-Source") != "" {
			return "Copy"
		}
		return "Put"
	case http.MethodPost:
		if q.Get("uploadId") != "" {
			return "CompleteMultipartUpload"
		}
	}
	return ""
}

// statusWriter records the status a handler answers.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Delete removes an object directly, without a notification.
func (s *S3) Delete(bucket, key string) error {
	if _, err := s.backend.DeleteObject(bucket, key); err != nil {
		return fmt.Errorf("delete s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}
