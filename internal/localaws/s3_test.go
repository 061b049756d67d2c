package localaws_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/wxmedia/wxmedia/internal/localaws"
)

const bucket = "media-test"

// setupS3 serves an S3 that sends its notifications to the returned channel,
// and returns an SDK client for it, configured as a user's would be (SDK
// defaults, path-style addressing, made-up credentials).
func setupS3(t *testing.T) (*s3.Client, *localaws.S3, <-chan events.S3Event) {
	t.Helper()
	got := make(chan events.S3Event, 16)
	fake, err := localaws.NewS3(localaws.S3Options{
		Buckets:        []string{bucket},
		NotifyBucket:   bucket,
		NotifyPrefixes: []string{"upload/", "uploadimg/"},
		Notify: func(ctx context.Context, e events.S3Event) error {
			if _, ok := ctx.Deadline(); !ok {
				t.Errorf("notification context has no deadline")
			}
			got <- e
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fake)
	t.Cleanup(func() { srv.Close(); fake.Close() })
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("anything", "goes", ""),
	})
	return client, fake, got
}

func receive(t *testing.T, got <-chan events.S3Event) events.S3EventRecord {
	t.Helper()
	select {
	case e := <-got:
		if len(e.Records) != 1 {
			t.Fatalf("got %d records, want 1", len(e.Records))
		}
		return e.Records[0]
	case <-time.After(5 * time.Second):
		t.Fatal("no notification within 5 s")
	}
	return events.S3EventRecord{}
}

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func TestS3NotifiesPut(t *testing.T) {
	client, _, got := setupS3(t)
	ctx := context.Background()
	data := []byte("\xff\xd8\xff\xe0 a jpeg, more or less")
	key := "upload/image/my photo (1)+é.jpg"
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	rec := receive(t, got)
	for _, c := range []struct{ name, got, want string }{
		{"eventSource", rec.EventSource, "aws:s3"},
		{"eventName", rec.EventName, "ObjectCreated:Put"},
		{"bucket", rec.S3.Bucket.Name, bucket},
		{"bucket arn", rec.S3.Bucket.Arn, "arn:aws:s3:::" + bucket},
		{"key", rec.S3.Object.Key, "upload/image/my+photo+%281%29%2B%C3%A9.jpg"},
		{"urlDecodedKey", rec.S3.Object.URLDecodedKey, key},
		{"eTag", rec.S3.Object.ETag, md5hex(data)},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if rec.S3.Object.Size != int64(len(data)) {
		t.Errorf("size: got %d, want %d", rec.S3.Object.Size, len(data))
	}

	// The object is there for the function to read.
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if !bytes.Equal(body, data) {
		t.Errorf("object: got %q, want %q", body, data)
	}
}

func TestS3NotifiesOnlyTriggerPrefixes(t *testing.T) {
	client, fake, got := setupS3(t)
	ctx := context.Background()
	for _, key := range []string{"results/upload/image/a.jpg.json", "samples/a.jpg", "uploadx/a.jpg"} {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader([]byte("x"))}); err != nil {
			t.Fatal(err)
		}
	}
	// Put (seeding) never notifies, a failed PUT neither.
	if err := fake.Put(bucket, "upload/image/seeded.jpg", "image/jpeg", []byte("x")); err != nil {
		t.Fatal(err)
	}
	_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("upload/image/a.jpg"), Body: bytes.NewReader([]byte("x"))})
	if err == nil {
		t.Fatal("put into a missing bucket: got no error")
	}
	fake.Wait()
	select {
	case e := <-got:
		t.Fatalf("got a notification for %s, want none", e.Records[0].S3.Object.URLDecodedKey)
	default:
	}
}

func TestS3NotifiesMultipartUpload(t *testing.T) {
	client, _, got := setupS3(t)
	ctx := context.Background()
	key := "uploadimg/big banner.png"
	up, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	part1 := bytes.Repeat([]byte("a"), 5<<20)
	part2 := []byte("the end")
	var parts []types.CompletedPart
	for i, p := range [][]byte{part1, part2} {
		out, err := client.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	select {
	case e := <-got:
		t.Fatalf("got a notification for a part (%s), want none until the upload completes", e.Records[0].EventName)
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key),
		UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	rec := receive(t, got)
	if rec.EventName != "ObjectCreated:CompleteMultipartUpload" || rec.S3.Object.URLDecodedKey != key || rec.S3.Object.Key != "uploadimg/big+banner.png" {
		t.Errorf("got %s %q (%q), want ObjectCreated:CompleteMultipartUpload %q", rec.EventName, rec.S3.Object.Key, rec.S3.Object.URLDecodedKey, key)
	}
	if want := int64(len(part1) + len(part2)); rec.S3.Object.Size != want {
		t.Errorf("size: got %d, want %d", rec.S3.Object.Size, want)
	}
}

// The service claims work with a conditional write (If-None-Match: *).
func TestS3ConditionalPut(t *testing.T) {
	client, _, _ := setupS3(t)
	ctx := context.Background()
	put := func() error {
		_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("results/claim.json"),
			Body: bytes.NewReader([]byte("{}")), IfNoneMatch: aws.String("*")})
		return err
	}
	if err := put(); err != nil {
		t.Fatalf("first conditional put: %v", err)
	}
	err := put()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "PreconditionFailed" {
		t.Fatalf("second conditional put: got %v, want PreconditionFailed", err)
	}
}

func TestS3NotifyError(t *testing.T) {
	fake, err := localaws.NewS3(localaws.S3Options{
		Buckets: []string{bucket},
		Notify:  func(context.Context, events.S3Event) error { return errors.New("boom") },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})
	// The client's answer does not depend on the function's.
	if _, err := client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), Body: bytes.NewReader([]byte("x"))}); err != nil {
		t.Fatal(err)
	}
	fake.Close()
}

// A read pinned with If-Match to a version the object no longer has is
// answered 412, as S3 does; conditional writes too.
func TestConditionalRequests(t *testing.T) {
	client, _, _ := setupS3(t)
	ctx := context.Background()
	put := func(body string, opt func(*s3.PutObjectInput)) (string, error) {
		in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("samples/v.txt"), Body: bytes.NewReader([]byte(body))}
		if opt != nil {
			opt(in)
		}
		out, err := client.PutObject(ctx, in)
		if err != nil {
			return "", err
		}
		return aws.ToString(out.ETag), nil
	}
	v1, err := put("one", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("samples/v.txt"), IfMatch: &v1}); err != nil {
		t.Fatalf("GET pinned to the current version: %v", err)
	}
	if _, err := put("two", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") }); err == nil {
		t.Error("If-None-Match: * over an object succeeded")
	}
	if _, err := put("two", func(in *s3.PutObjectInput) { in.IfMatch = &v1 }); err != nil {
		t.Fatalf("If-Match on the current version: %v", err)
	}
	for _, req := range []func() error{
		func() error {
			_, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("samples/v.txt"), IfMatch: &v1})
			return err
		},
		func() error {
			_, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("samples/v.txt"), IfMatch: &v1})
			return err
		},
	} {
		var re interface{ HTTPStatusCode() int }
		if err := req(); !errors.As(err, &re) || re.HTTPStatusCode() != 412 {
			t.Errorf("a read pinned to a replaced version: %v, want 412", err)
		}
	}
}
