package bucket

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/tracing"
)

// API is the part of the S3 client the bucket uses.
type API interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// Presigner makes presigned GET links and presigned POST forms
// (*s3.PresignClient).
type Presigner interface {
	PresignGetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
	PresignPostObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.PresignPostOptions)) (*s3.PresignedPostRequest, error)
}

// What S3 answered, found in a bucket error with errors.Is; a key that
// names no object is failure.ErrNotFound.
var (
	// ErrChanged is a condition on the object's ETag that failed (412): a
	// pinned read of an object that was replaced, or an If-Match write over
	// a version that is no longer there.
	ErrChanged = errors.New("the object is no longer the version named")
	// ErrExists is an If-None-Match write over an object that exists (412).
	ErrExists = errors.New("object already exists")
	// ErrConflict is S3's 409 ConditionalRequestConflict: another
	// conditional write to the key was in flight. Read again: it is never
	// "done".
	ErrConflict = errors.New("a concurrent conditional write to the key")
)

// Options configure a Bucket.
type Options struct {
	Name      string    // required
	Presigner Presigner // optional: without it PresignGet fails
	// PartSize is the multipart part size of Write, and so its memory
	// bound; default and minimum 5 MiB (S3's minimum part size).
	PartSize int64
	// Metrics receives each S3 request's latency and failure; nil records none.
	Metrics Metrics
	// Tracer makes each S3 request a span named S3; nil: none.
	Tracer trace.Tracer
}

// Bucket is the media bucket.
type Bucket struct {
	api      API
	name     string
	presign  Presigner
	partSize int64
	// parts keeps free part buffers across invocations: unlike a
	// sync.Pool, a GC does not empty it, so a warm function allocates none.
	parts chan []byte
}

// keptParts is how many free part buffers a Bucket keeps.
const keptParts = 2

func (b *Bucket) part() []byte {
	select {
	case p := <-b.parts:
		return p
	default:
		return make([]byte, b.partSize)
	}
}

func (b *Bucket) release(p []byte) {
	select {
	case b.parts <- p:
	default:
	}
}

// MinPartSize is S3's smallest multipart part.
const MinPartSize = 5 << 20

// New returns a Bucket.
func New(api API, opts Options) *Bucket {
	if opts.Metrics != nil || opts.Tracer != nil {
		if opts.Tracer == nil {
			opts.Tracer = tracing.Noop()
		}
		api = observed{API: api, metrics: opts.Metrics, tracer: opts.Tracer}
	}
	b := &Bucket{api: api, name: opts.Name, presign: opts.Presigner, partSize: opts.PartSize}
	if b.partSize < MinPartSize {
		b.partSize = MinPartSize
	}
	b.parts = make(chan []byte, keptParts)
	return b
}

// Name is the bucket's name.
func (b *Bucket) Name() string { return b.name }

// Object is an object's identity and size.
type Object struct {
	Key         string
	ETag        string // with its quotes, as S3 gives it
	Size        int64
	ContentType string
	// Metadata is the object's user metadata (x-amz-meta-*), keys in lower case.
	Metadata map[string]string
}

// Stat returns the object at key, or an error wrapping failure.ErrNotFound.
func (b *Bucket) Stat(ctx context.Context, key string) (Object, error) {
	out, err := b.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.name, Key: &key})
	if err != nil {
		return Object{}, b.wrap("head", key, err)
	}
	return Object{Key: key, ETag: aws.ToString(out.ETag), Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType),
		Metadata: lower(out.Metadata)}, nil
}

// Open streams the object at key, pinned to etag if it is set: if the
// object is no longer that version the error wraps ErrChanged. The Object
// is the version read, with its size. A failure while the body is read is
// an S3 failure too.
func (b *Bucket) Open(ctx context.Context, key, etag string) (io.ReadCloser, Object, error) {
	in := &s3.GetObjectInput{Bucket: &b.name, Key: &key}
	if etag != "" {
		etag = QuoteETag(etag)
		in.IfMatch = &etag
	}
	out, err := b.api.GetObject(ctx, in)
	if err != nil {
		return nil, Object{}, b.wrap("get", key, err)
	}
	obj := Object{Key: key, ETag: aws.ToString(out.ETag), Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType),
		Metadata: lower(out.Metadata)}
	if obj.ETag == "" {
		obj.ETag = etag
	}
	return &body{ReadCloser: out.Body, b: b, key: key}, obj, nil
}

// lower is user metadata with its keys in lower case, as S3 keeps them
// (an emulator may answer them as sent).
func lower(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// QuoteETag is etag as S3 answers it, in double quotes: S3 event
// notifications give it bare.
func QuoteETag(etag string) string {
	if etag == "" || strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, `W/"`) {
		return etag
	}
	return `"` + etag + `"`
}

// body is an object's body whose read failures are S3's.
type body struct {
	io.ReadCloser
	b   *Bucket
	key string
}

func (r *body) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = r.b.wrap("read", r.key, err)
	}
	return n, err
}

// Write streams r into key and returns the bytes written. Memory stays
// within one part: a short stream is one PutObject, a longer one a
// multipart upload that is aborted if anything fails.
func (b *Bucket) Write(ctx context.Context, key, contentType string, r io.Reader) (int64, error) {
	buf := b.part()
	defer b.release(buf)
	n, err := fill(r, buf)
	if err == io.EOF {
		_, perr := b.api.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.name, Key: &key, Body: bytes.NewReader(buf[:n]),
			ContentLength: aws.Int64(int64(n)), ContentType: nonEmpty(contentType)})
		if perr != nil {
			return 0, b.wrap("put", key, perr)
		}
		return int64(n), nil
	}
	if err != nil {
		return 0, fmt.Errorf("write s3://%s/%s: %w", b.name, key, &SourceError{Err: err})
	}
	return b.multipart(ctx, key, contentType, buf, r)
}

// SourceError is a Write whose source failed (not S3): nothing is stored.
type SourceError struct{ Err error }

func (e *SourceError) Error() string { return "read source: " + e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

// abortTimeout bounds aborting a failed multipart upload, which may run
// after the request's own time is up.
const abortTimeout = time.Second

// fill reads r into buf until buf is full or r ends. Unlike io.ReadFull it
// tells the source's clean end (io.EOF, with n possibly > 0) from its
// failures: a body cut short (io.ErrUnexpectedEOF from net/http) is an
// error, never a short file.
func fill(r io.Reader, buf []byte) (n int, err error) {
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (b *Bucket) multipart(ctx context.Context, key, contentType string, buf []byte, r io.Reader) (total int64, err error) {
	up, err := b.api.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b.name, Key: &key, ContentType: nonEmpty(contentType)})
	if err != nil {
		return 0, b.wrap("create multipart upload", key, err)
	}
	defer func() {
		if err != nil {
			// Abort even if ctx is done, so no parts are left behind.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
			defer cancel()
			_, _ = b.api.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &b.name, Key: &key, UploadId: up.UploadId})
		}
	}()
	var parts []types.CompletedPart
	n := len(buf)
	for num := int32(1); n > 0; num++ {
		out, err := b.api.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b.name, Key: &key, UploadId: up.UploadId,
			PartNumber: aws.Int32(num), Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n))})
		if err != nil {
			return 0, b.wrap(fmt.Sprintf("upload part %d", num), key, err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
		total += int64(n)
		var rerr error
		n, rerr = fill(r, buf)
		if rerr != nil && rerr != io.EOF {
			return 0, fmt.Errorf("write s3://%s/%s: %w", b.name, key, &SourceError{Err: rerr})
		}
	}
	_, err = b.api.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b.name, Key: &key, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		return 0, b.wrap("complete multipart upload", key, err)
	}
	return total, nil
}

// Condition makes a write conditional on what is at the key.
type Condition struct {
	// IfAbsent writes only if no object is there (If-None-Match: *);
	// otherwise the error wraps ErrExists.
	IfAbsent bool
	// IfMatch writes only over this version (If-Match: ETag); otherwise the
	// error wraps ErrChanged.
	IfMatch string
}

// maxRecord bounds a JSON record read.
const maxRecord = 1 << 20

// ReadJSON decodes the small JSON object at key into v and answers its
// version (ETag), for a write conditional on it. A record that does not
// decode is an S3 failure: a record is never mistaken for absent.
func (b *Bucket) ReadJSON(ctx context.Context, key string, v any) (version string, err error) {
	out, err := b.api.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.name, Key: &key})
	if err != nil {
		return "", b.wrap("get", key, err)
	}
	defer out.Body.Close()
	r := &body{ReadCloser: out.Body, b: b, key: key}
	if err := json.NewDecoder(io.LimitReader(r, maxRecord)).Decode(v); err != nil {
		if failure.As(err) != nil {
			return "", err
		}
		return "", failure.Wrap(failure.S3, failure.CodeSystem, fmt.Errorf("decode s3://%s/%s: %w", b.name, key, err), "system error: a record in the media bucket is unreadable")
	}
	return aws.ToString(out.ETag), nil
}

// WriteJSON stores v as JSON at key under cond and answers the version
// written.
func (b *Bucket) WriteJSON(ctx context.Context, key string, v any, cond Condition) (version string, err error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // errmsg says upload/<type>/, not upload/\u003ctype\u003e/
	if err := enc.Encode(v); err != nil {
		return "", failure.Wrap(failure.Internal, failure.CodeSystem, fmt.Errorf("encode s3://%s/%s: %w", b.name, key, err), "system error")
	}
	data := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	in := &s3.PutObjectInput{Bucket: &b.name, Key: &key, Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String("application/json")}
	switch {
	case cond.IfAbsent:
		in.IfNoneMatch = aws.String("*")
	case cond.IfMatch != "":
		in.IfMatch = aws.String(cond.IfMatch)
	}
	out, err := b.api.PutObject(ctx, in)
	if err != nil {
		return "", b.wrapPut(key, err, cond)
	}
	return aws.ToString(out.ETag), nil
}

// Served is how a presigned link serves an object: the Content-Type and
// the attachment file name its answer carries (S3's response overrides),
// as a WeChat media/get answer would.
type Served struct {
	ContentType string
	Filename    string // ASCII: a media_id and its extension
}

// PresignGet returns a link that GETs key for ttl, answered as served says.
func (b *Bucket) PresignGet(ctx context.Context, key string, ttl time.Duration, served Served) (string, error) {
	if b.presign == nil {
		return "", fmt.Errorf("presign s3://%s/%s: no presigner configured", b.name, key)
	}
	in := &s3.GetObjectInput{Bucket: &b.name, Key: &key, ResponseContentType: nonEmpty(served.ContentType)}
	if served.Filename != "" {
		in.ResponseContentDisposition = aws.String(`attachment; filename="` + served.Filename + `"`)
	}
	out, err := b.presign.PresignGetObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign s3://%s/%s: %w", b.name, key, err)
	}
	return out.URL, nil
}

// PresignedPost is a browser-style POST upload of one object: the form's
// fields to send, then the file as the last field, named "file".
type PresignedPost struct {
	URL    string
	Fields map[string]string
}

// PresignPost returns a POST form that creates key once sent with a file
// of minSize to maxSize bytes (S3's content-length-range) within ttl. The
// object gets the user metadata meta (x-amz-meta-<name>), which the form
// carries as fields its policy pins.
func (b *Bucket) PresignPost(ctx context.Context, key string, ttl time.Duration, minSize, maxSize int64, meta map[string]string) (PresignedPost, error) {
	if b.presign == nil {
		return PresignedPost{}, fmt.Errorf("presign POST s3://%s/%s: no presigner configured", b.name, key)
	}
	conds := []any{[]any{"content-length-range", minSize, maxSize}}
	for k, v := range meta {
		conds = append(conds, map[string]string{"x-amz-meta-" + k: v})
	}
	out, err := b.presign.PresignPostObject(ctx, &s3.PutObjectInput{Bucket: &b.name, Key: &key}, func(o *s3.PresignPostOptions) {
		o.Expires = ttl
		o.Conditions = conds
	})
	if err != nil {
		return PresignedPost{}, fmt.Errorf("presign POST s3://%s/%s: %w", b.name, key, err)
	}
	for k, v := range meta {
		out.Values["x-amz-meta-"+k] = v
	}
	return PresignedPost{URL: out.URL, Fields: out.Values}, nil
}

// First returns the first object whose key starts with prefix, or an error
// wrapping failure.ErrNotFound.
func (b *Bucket) First(ctx context.Context, prefix string) (Object, error) {
	out, err := b.api.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b.name, Prefix: &prefix, MaxKeys: aws.Int32(1)})
	if err != nil {
		return Object{}, b.wrap("list", prefix, err)
	}
	if len(out.Contents) == 0 {
		return Object{}, b.wrap("list", prefix, &types.NoSuchKey{})
	}
	o := out.Contents[0]
	return Object{Key: aws.ToString(o.Key), ETag: aws.ToString(o.ETag), Size: aws.ToInt64(o.Size)}, nil
}

// Error is a failed S3 call, naming the operation and the object. Kind,
// when set, is one of failure.ErrNotFound, ErrChanged, ErrExists, ErrConflict.
type Error struct {
	Op, Bucket, Key string
	Kind            error
	Err             error
}

func (e *Error) Error() string {
	if e.Kind != nil {
		return fmt.Sprintf("%s s3://%s/%s: %v: %v", e.Op, e.Bucket, e.Key, e.Kind, e.Err)
	}
	return fmt.Sprintf("%s s3://%s/%s: %v", e.Op, e.Bucket, e.Key, e.Err)
}

func (e *Error) Unwrap() []error {
	if e.Kind != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Err}
}

// wrapPut is wrap for a conditional write: a 412 is ErrExists for
// If-None-Match and ErrChanged for If-Match, and a missing key under
// If-Match (S3 answers 404) is ErrChanged too.
func (b *Bucket) wrapPut(key string, err error, cond Condition) error {
	e := b.wrap("put", key, err)
	be := new(Error)
	if !errors.As(e, &be) {
		return e
	}
	switch {
	case be.Kind == ErrChanged && cond.IfAbsent:
		be.Kind = ErrExists
	case be.Kind == failure.ErrNotFound && cond.IfMatch != "":
		be.Kind = ErrChanged
	}
	return e
}

// wrap names the operation and object, tells S3's answer apart
// (failure.ErrNotFound and the others) and classifies it: a missing key is
// the caller's failure, a missing bucket or a refused permission the
// deployment's, a failed condition a conflict, anything else (throttling,
// 5xx, the network, out of time) S3's.
func (b *Bucket) wrap(op, key string, err error) error {
	if fe := failure.As(err); fe != nil {
		return err
	}
	e := &Error{Op: op, Bucket: b.name, Key: key, Err: err}
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	var nsb *types.NoSuchBucket
	var ae smithy.APIError
	var re interface{ HTTPStatusCode() int }
	status := 0
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	code := ""
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	switch {
	case errors.As(err, &nsb), code == "NoSuchBucket":
		return failure.Wrap(failure.Config, failure.CodeSystem, e, "system error: the media bucket does not exist")
	case errors.As(err, &nsk), errors.As(err, &nf), code == "NoSuchKey", code == "NotFound", status == http.StatusNotFound && code == "":
		e.Kind = failure.ErrNotFound
		return failure.Wrap(failure.Caller, failure.CodeInvalidParam, e, "no such key in the media bucket")
	case code == "ConditionalRequestConflict", status == http.StatusConflict:
		e.Kind = ErrConflict
		return failure.Wrap(failure.Conflict, failure.CodeSystem, e, "system error: the object is being written by another request; try again")
	case code == "PreconditionFailed", status == http.StatusPreconditionFailed:
		e.Kind = ErrChanged
		return failure.Wrap(failure.Conflict, failure.CodeSystem, e, "system error: the object changed while it was read; try again")
	case code == "AccessDenied", code == "Forbidden", code == "AllAccessDisabled", code == "InvalidObjectState",
		code == "KMS.DisabledException", code == "KMS.AccessDeniedException", status == http.StatusForbidden:
		return failure.Wrap(failure.Config, failure.CodeSystem, e, "system error: access to the media bucket was denied")
	case errors.Is(err, context.DeadlineExceeded):
		return failure.Wrap(failure.S3, failure.CodeSystem, e, "system error: timed out waiting for S3")
	}
	return failure.Wrap(failure.S3, failure.CodeSystem, e, "system error: S3 failed")
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
