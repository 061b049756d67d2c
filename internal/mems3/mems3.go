// Package mems3 is an in-memory S3 bucket for tests: the bucket.API of
// package bucket, answering conditional requests as S3 does (If-None-Match
// and If-Match on PUT, If-Match on GET: 412 PreconditionFailed; If-Match on
// a missing key: 404 NoSuchKey), with hooks to pause before each request
// (to drive concurrent workers step by step), to answer S3's 409
// ConditionalRequestConflict, which no emulator produces, or to fail a
// request. ETags are the MD5 of the content, as S3's for a simple PUT.
// Only tests import it.
package mems3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Op names a request, for the hooks.
type Op string

const (
	Head Op = "HEAD"
	Get  Op = "GET"
	Put  Op = "PUT"
	List Op = "LIST"
)

// Bucket is one in-memory bucket. Its zero value is not usable: use New.
type Bucket struct {
	// Before, if set, is called before each request is answered, outside
	// the bucket's lock: it may block (a scheduler) or panic (a crash).
	Before func(ctx context.Context, op Op, key string)
	// Fail, if set, may answer a request with an error instead: return
	// Conflict(), or any error. It is asked after Before.
	Fail func(op Op, key string, conditional bool) error

	mu      sync.Mutex
	objects map[string]object
	uploads map[string]*upload
	seq     int
	calls   map[Op]int
}

type object struct {
	data        []byte
	etag        string
	contentType string
}

type upload struct {
	key         string
	contentType string
	parts       map[int32][]byte
}

// New returns an empty bucket.
func New() *Bucket {
	return &Bucket{objects: map[string]object{}, uploads: map[string]*upload{}, calls: map[Op]int{}}
}

// apiError is S3's error answer: smithy.APIError with an HTTP status.
type apiError struct {
	code, msg string
	status    int
}

func (e *apiError) Error() string {
	return fmt.Sprintf("api error %s: %s (HTTP %d)", e.code, e.msg, e.status)
}
func (e *apiError) ErrorCode() string    { return e.code }
func (e *apiError) ErrorMessage() string { return e.msg }
func (e *apiError) ErrorFault() int      { return 0 }
func (e *apiError) HTTPStatusCode() int  { return e.status }

// Conflict is S3's 409 ConditionalRequestConflict.
func Conflict() error {
	return &apiError{"ConditionalRequestConflict", "A conflicting conditional operation is currently in progress against this resource.", http.StatusConflict}
}

// Error is an S3 error answer with code and status, e.g. Error("SlowDown", 503).
func Error(code string, status int) error { return &apiError{code, code, status} }

func preconditionFailed() error {
	return &apiError{"PreconditionFailed", "At least one of the pre-conditions you specified did not hold", http.StatusPreconditionFailed}
}

func etagOf(data []byte) string {
	sum := md5.Sum(data)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func (b *Bucket) enter(ctx context.Context, op Op, key string, conditional bool) error {
	if b.Before != nil {
		b.Before(ctx, op, key)
	}
	b.mu.Lock()
	b.calls[op]++
	b.mu.Unlock()
	if b.Fail != nil {
		return b.Fail(op, key, conditional)
	}
	return nil
}

// Calls counts the requests answered so far, by operation.
func (b *Bucket) Calls() map[Op]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[Op]int{}
	for k, v := range b.calls {
		out[k] = v
	}
	return out
}

// Set stores data at key directly (no hooks), as a put would; it returns
// the ETag.
func (b *Bucket) Set(key string, data []byte) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	o := object{data: bytes.Clone(data), etag: etagOf(data)}
	b.objects[key] = o
	return o.etag
}

// Delete removes key directly (no hooks).
func (b *Bucket) Delete(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.objects, key)
}

// Object returns what is at key (no hooks).
func (b *Bucket) Object(key string) ([]byte, string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.objects[key]
	return o.data, o.etag, ok
}

// Keys lists the keys under prefix, sorted.
func (b *Bucket) Keys(prefix string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var keys []string
	for k := range b.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func (b *Bucket) HeadObject(ctx context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	key := aws.ToString(in.Key)
	if err := b.enter(ctx, Head, key, false); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.objects[key]
	if !ok {
		return nil, &types.NotFound{}
	}
	return &s3.HeadObjectOutput{ETag: aws.String(o.etag), ContentLength: aws.Int64(int64(len(o.data))), ContentType: nonEmpty(o.contentType)}, nil
}

func (b *Bucket) GetObject(ctx context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	key := aws.ToString(in.Key)
	if err := b.enter(ctx, Get, key, in.IfMatch != nil); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.objects[key]
	switch {
	case !ok:
		return nil, &types.NoSuchKey{Message: aws.String("The specified key does not exist.")}
	case in.IfMatch != nil && *in.IfMatch != o.etag:
		return nil, preconditionFailed()
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(o.data)), ETag: aws.String(o.etag),
		ContentLength: aws.Int64(int64(len(o.data))), ContentType: nonEmpty(o.contentType)}, nil
}

func (b *Bucket) PutObject(ctx context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	key := aws.ToString(in.Key)
	cond := in.IfNoneMatch != nil || in.IfMatch != nil
	if err := b.enter(ctx, Put, key, cond); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	cur, exists := b.objects[key]
	switch {
	case in.IfNoneMatch != nil && exists:
		return nil, preconditionFailed()
	case in.IfMatch != nil && !exists:
		return nil, &types.NoSuchKey{Message: aws.String("The specified key does not exist.")}
	case in.IfMatch != nil && *in.IfMatch != cur.etag:
		return nil, preconditionFailed()
	}
	o := object{data: data, etag: etagOf(data), contentType: aws.ToString(in.ContentType)}
	b.objects[key] = o
	return &s3.PutObjectOutput{ETag: aws.String(o.etag)}, nil
}

func (b *Bucket) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	if err := b.enter(ctx, Put, aws.ToString(in.Key), false); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	id := fmt.Sprint(b.seq)
	b.uploads[id] = &upload{key: aws.ToString(in.Key), contentType: aws.ToString(in.ContentType), parts: map[int32][]byte{}}
	return &s3.CreateMultipartUploadOutput{UploadId: &id}, nil
}

func (b *Bucket) UploadPart(ctx context.Context, in *s3.UploadPartInput, _ ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	data, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.uploads[aws.ToString(in.UploadId)]
	if !ok {
		return nil, &apiError{"NoSuchUpload", "no such upload", http.StatusNotFound}
	}
	u.parts[aws.ToInt32(in.PartNumber)] = data
	return &s3.UploadPartOutput{ETag: aws.String(etagOf(data))}, nil
}

func (b *Bucket) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.uploads[aws.ToString(in.UploadId)]
	if !ok {
		return nil, &apiError{"NoSuchUpload", "no such upload", http.StatusNotFound}
	}
	var all []byte
	for _, p := range in.MultipartUpload.Parts {
		all = append(all, u.parts[aws.ToInt32(p.PartNumber)]...)
	}
	delete(b.uploads, aws.ToString(in.UploadId))
	o := object{data: all, etag: etagOf(all), contentType: u.contentType}
	b.objects[u.key] = o
	return &s3.CompleteMultipartUploadOutput{ETag: aws.String(o.etag)}, nil
}

func (b *Bucket) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, _ ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.uploads, aws.ToString(in.UploadId))
	return &s3.AbortMultipartUploadOutput{}, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (b *Bucket) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	prefix := aws.ToString(in.Prefix)
	if err := b.enter(ctx, List, prefix, false); err != nil {
		return nil, err
	}
	out := &s3.ListObjectsV2Output{}
	for _, k := range b.Keys(prefix) {
		if in.MaxKeys != nil && int32(len(out.Contents)) >= *in.MaxKeys {
			break
		}
		data, etag, _ := b.Object(k)
		out.Contents = append(out.Contents, types.Object{Key: aws.String(k), ETag: aws.String(etag), Size: aws.Int64(int64(len(data)))})
	}
	return out, nil
}
