package bucket_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wxmedia/wxmedia/internal/awstest"
	"github.com/wxmedia/wxmedia/internal/mediatest"
	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/media"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func setup(t *testing.T) (*bucket.Bucket, *s3.Client, string) {
	t.Helper()
	moto := awstest.Start(t)
	name := moto.Bucket(t)
	c := moto.S3()
	return bucket.New(c, bucket.Options{Name: name, Presigner: s3.NewPresignClient(c)}), c, name
}

func TestWriteStreamsInParts(t *testing.T) {
	b, _, _ := setup(t)
	ctx := context.Background()
	for _, size := range []int64{0, 1000, bucket.MinPartSize, 2*bucket.MinPartSize + 12345} {
		key := "media/streamed.mp4"
		n, err := b.Write(ctx, key, "video/mp4", mediatest.SampleReader(media.MP4, size))
		if err != nil {
			t.Fatalf("Write %d bytes: %v", size, err)
		}
		obj, err := b.Stat(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		want := mediatest.Sample(media.MP4, int(size))
		if n != int64(len(want)) || obj.Size != n || obj.ContentType != "video/mp4" {
			t.Errorf("wrote %d, stat %+v; want %d bytes of video/mp4", n, obj, len(want))
		}
		r, read, err := b.Open(ctx, key, obj.ETag)
		if err != nil || read.Size != n || read.ETag != obj.ETag {
			t.Fatalf("Open = %+v, %v; want the %d bytes of %s", read, err, n, obj.ETag)
		}
		got, _ := io.ReadAll(r)
		r.Close()
		if !bytes.Equal(got, want) {
			t.Errorf("%d bytes read back differ from the %d written", len(got), len(want))
		}
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("source broke")
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriteAbortsOnFailure(t *testing.T) {
	b, c, name := setup(t)
	ctx := context.Background()
	_, err := b.Write(ctx, "media/broken.mp4", "video/mp4", &failingReader{n: bucket.MinPartSize + 100})
	if err == nil {
		t.Fatal("Write of a broken source succeeded")
	}
	if _, err := b.Stat(ctx, "media/broken.mp4"); !errors.Is(err, failure.ErrNotFound) {
		t.Errorf("Stat after a failed write = %v, want ErrNotFound", err)
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &name})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Errorf("%d multipart uploads left behind, want 0 (aborted)", len(ups.Uploads))
	}
}

func TestErrors(t *testing.T) {
	b, c, name := setup(t)
	ctx := context.Background()
	if _, err := b.Stat(ctx, "no/such/key"); !errors.Is(err, failure.ErrNotFound) {
		t.Errorf("Stat(missing) = %v, want ErrNotFound", err)
	}
	if _, err := b.Write(ctx, "k", "", bytes.NewReader([]byte("one"))); err != nil {
		t.Fatal(err)
	}
	obj, _ := b.Stat(ctx, "k")
	key := "k"
	c.PutObject(ctx, &s3.PutObjectInput{Bucket: &name, Key: &key, Body: bytes.NewReader([]byte("two"))})
	if _, _, err := b.Open(ctx, "k", obj.ETag); !errors.Is(err, bucket.ErrChanged) || failure.KindOf(err) != failure.Conflict {
		t.Errorf("Open after the object changed = %v, want ErrChanged, a conflict", err)
	}
	if _, _, err := b.Open(ctx, "k", strings.Trim(obj.ETag, `"`)); !errors.Is(err, bucket.ErrChanged) {
		t.Errorf("Open with an event's bare ETag after the object changed = %v, want ErrChanged", err)
	}
	v1, err := b.WriteJSON(ctx, "claims/c", map[string]int{"a": 1}, bucket.Condition{IfAbsent: true})
	if err != nil || v1 == "" {
		t.Fatalf("first conditional write = %q, %v", v1, err)
	}
	if _, err := b.WriteJSON(ctx, "claims/c", map[string]int{"a": 2}, bucket.Condition{IfAbsent: true}); !errors.Is(err, bucket.ErrExists) {
		t.Errorf("second If-None-Match write = %v, want ErrExists", err)
	}
	var v map[string]int
	if ver, err := b.ReadJSON(ctx, "claims/c", &v); err != nil || v["a"] != 1 || ver != v1 {
		t.Errorf("ReadJSON = %v, %q, %v; want the first write kept, version %q", v, ver, err, v1)
	}
	v2, err := b.WriteJSON(ctx, "claims/c", map[string]int{"a": 3}, bucket.Condition{IfMatch: v1})
	if err != nil || v2 == v1 {
		t.Fatalf("If-Match write on the version read = %q, %v", v2, err)
	}
	if _, err := b.WriteJSON(ctx, "claims/c", map[string]int{"a": 4}, bucket.Condition{IfMatch: v1}); !errors.Is(err, bucket.ErrChanged) {
		t.Errorf("If-Match write on a replaced version = %v, want ErrChanged", err)
	}
	if _, err := b.WriteJSON(ctx, "claims/gone", map[string]int{"a": 4}, bucket.Condition{IfMatch: v1}); !errors.Is(err, bucket.ErrChanged) {
		t.Errorf("If-Match write on a missing key = %v, want ErrChanged", err)
	}
	if _, err := b.Stat(ctx, "no/such/key"); failure.KindOf(err) != failure.Caller {
		t.Errorf("a missing key is %v, want the caller's failure", failure.KindOf(err))
	}
	// A missing bucket is no missing object (S3 says which on GET; a HEAD
	// answers a bare 404 either way).
	other := bucket.New(c, bucket.Options{Name: "no-such-bucket-" + name})
	if _, _, err := other.Open(ctx, "k", ""); errors.Is(err, failure.ErrNotFound) || failure.KindOf(err) != failure.Config {
		t.Errorf("a missing bucket = %v (kind %v), want the configuration's failure, not a missing key", err, failure.KindOf(err))
	}
	key = "claims/garbled"
	c.PutObject(ctx, &s3.PutObjectInput{Bucket: &name, Key: &key, Body: strings.NewReader("{not json")})
	if _, err := b.ReadJSON(ctx, key, &v); failure.KindOf(err) != failure.S3 || errors.Is(err, failure.ErrNotFound) {
		t.Errorf("a record that does not decode = %v, want an S3 failure, never absent", err)
	}
	u, err := b.PresignGet(ctx, "k", time.Minute, bucket.Served{ContentType: "image/jpeg", Filename: "MEDIA.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains([]byte(u), []byte("X-Amz-Expires=60")) {
		t.Errorf("presigned url %q lacks its expiry", u)
	}
	// The link asks S3 to answer as WeChat's media/get does: its type, as an
	// attachment (S3's response overrides; moto serves the bytes but ignores them).
	pu, _ := url.Parse(u)
	if q := pu.Query(); q.Get("response-content-type") != "image/jpeg" || q.Get("response-content-disposition") != `attachment; filename="MEDIA.jpg"` {
		t.Errorf("presigned url %q lacks the response overrides", u)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("presigned GET: %d, want 200", resp.StatusCode)
	}
	if obj, err := b.First(ctx, "claims/"); err != nil || obj.Key != "claims/c" {
		t.Errorf("First(claims/) = %+v, %v; want claims/c", obj, err)
	}
	if _, err := b.First(ctx, "nothing/"); !errors.Is(err, failure.ErrNotFound) {
		t.Errorf("First of an empty prefix = %v, want ErrNotFound", err)
	}
}

// A source cut short (net/http's io.ErrUnexpectedEOF) is an error, not a
// short object, whether it fits one part or not.
func TestWriteRefusesTruncatedSource(t *testing.T) {
	b, _, _ := setup(t)
	ctx := context.Background()
	for _, n := range []int{40000, bucket.MinPartSize + 40000} {
		src := io.MultiReader(bytes.NewReader(make([]byte, n)), errReader{io.ErrUnexpectedEOF})
		_, err := b.Write(ctx, "media/cut.jpg", "image/jpeg", src)
		var se *bucket.SourceError
		if !errors.As(err, &se) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%d bytes then cut: error %v, want a SourceError wrapping io.ErrUnexpectedEOF", n, err)
		}
		if _, err := b.Stat(ctx, "media/cut.jpg"); !errors.Is(err, failure.ErrNotFound) {
			t.Errorf("%d bytes then cut: something was stored (%v)", n, err)
		}
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
