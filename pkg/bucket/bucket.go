package bucket

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
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
}

// Presigner makes presigned GET links.
type Presigner interface {
	PresignGetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.PresignOptions)) (*v4.PresignedHTTPRequest, error)
}

// Errors a caller can act on.
var (
	ErrNotFound = errors.New("no such key")
	ErrChanged  = errors.New("object changed while it was read")
	ErrExists   = errors.New("object already exists")
	ErrDenied   = errors.New("access denied")
)

// Options configure a Bucket.
type Options struct {
	Name      string    // required
	Presigner Presigner // optional: without it PresignGet fails
	// PartSize is the multipart part size of Write, and so its memory
	// bound; default and minimum 5 MiB (S3's minimum part size).
	PartSize int64
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
}

// Stat returns the object at key, or an error wrapping ErrNotFound.
func (b *Bucket) Stat(ctx context.Context, key string) (Object, error) {
	out, err := b.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.name, Key: &key})
	if err != nil {
		return Object{}, b.wrap("head", key, err)
	}
	return Object{Key: key, ETag: aws.ToString(out.ETag), Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType)}, nil
}

// Open streams obj from byte offset from (0 for all of it); if the object
// is no longer the one Stat saw, the error wraps ErrChanged.
func (b *Bucket) Open(ctx context.Context, obj Object, from int64) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: &b.name, Key: &obj.Key}
	if obj.ETag != "" {
		in.IfMatch = &obj.ETag
	}
	if from > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", from))
	}
	out, err := b.api.GetObject(ctx, in)
	if err != nil {
		return nil, b.wrap("get", obj.Key, err)
	}
	return out.Body, nil
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

// ReadJSON decodes the small JSON object at key into v.
func (b *Bucket) ReadJSON(ctx context.Context, key string, v any) error {
	out, err := b.api.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.name, Key: &key})
	if err != nil {
		return b.wrap("get", key, err)
	}
	defer out.Body.Close()
	if err := json.NewDecoder(io.LimitReader(out.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("decode s3://%s/%s: %w", b.name, key, err)
	}
	return nil
}

// WriteJSON stores v as JSON at key. With ifAbsent, the write only happens
// if no object is there (If-None-Match: *); otherwise the error wraps ErrExists.
func (b *Bucket) WriteJSON(ctx context.Context, key string, v any, ifAbsent bool) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode s3://%s/%s: %w", b.name, key, err)
	}
	in := &s3.PutObjectInput{Bucket: &b.name, Key: &key, Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String("application/json")}
	if ifAbsent {
		in.IfNoneMatch = aws.String("*")
	}
	if _, err := b.api.PutObject(ctx, in); err != nil {
		return b.wrap("put", key, err)
	}
	return nil
}

// PresignGet returns a link that GETs key for ttl.
func (b *Bucket) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if b.presign == nil {
		return "", fmt.Errorf("presign s3://%s/%s: no presigner configured", b.name, key)
	}
	out, err := b.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &b.name, Key: &key}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign s3://%s/%s: %w", b.name, key, err)
	}
	return out.URL, nil
}

// Error is a failed S3 call, naming the operation and the object. Kind,
// when set, is one of ErrNotFound, ErrChanged, ErrExists, ErrDenied.
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

// wrap names the operation and object and classifies S3's answer.
func (b *Bucket) wrap(op, key string, err error) error {
	e := &Error{Op: op, Bucket: b.name, Key: key, Err: err}
	var nsk *types.NoSuchKey
	var nf *types.NotFound
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
	case errors.As(err, &nsk), errors.As(err, &nf), code == "NoSuchKey", code == "NotFound", status == http.StatusNotFound:
		e.Kind = ErrNotFound
	case code == "PreconditionFailed", code == "ConditionalRequestConflict", status == http.StatusPreconditionFailed:
		if op == "put" {
			e.Kind = ErrExists
		} else {
			e.Kind = ErrChanged
		}
	case code == "AccessDenied", code == "Forbidden", status == http.StatusForbidden:
		e.Kind = ErrDenied
	}
	return e
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
