package localaws_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// postForm sends a browser-style POST upload: the fields, then the file.
func postForm(t *testing.T, url string, fields map[string]string, file []byte) (int, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", "clip.mp4")
	fw.Write(file)
	mw.Close()
	resp, err := http.Post(url, mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// presignedPost is the form the SDK's presigner makes, as the service does.
func presignedPost(t *testing.T, client *s3.Client, key string, maxSize int64) (string, map[string]string) {
	t.Helper()
	p, err := s3.NewPresignClient(client).PresignPostObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)},
		func(o *s3.PresignPostOptions) {
			o.Expires = time.Minute
			o.Conditions = []any{[]any{"content-length-range", 1, maxSize}}
		})
	if err != nil {
		t.Fatal(err)
	}
	return p.URL, p.Values
}

func TestS3PostUpload(t *testing.T) {
	client, _, got := setupS3(t)
	data := bytes.Repeat([]byte("v"), 1000)
	url, fields := presignedPost(t, client, "upload/video/a b.mp4", 1000)

	status, body := postForm(t, url, fields, data)
	if status != http.StatusNoContent {
		t.Fatalf("POST: %d %s, want 204 as S3 answers", status, body)
	}
	r := receive(t, got)
	if r.EventName != "ObjectCreated:Post" || r.S3.Object.URLDecodedKey != "upload/video/a b.mp4" || r.S3.Object.ETag != md5hex(data) || r.S3.Object.Size != 1000 {
		t.Errorf("notification %s %q etag %s size %d, want ObjectCreated:Post of the 1000 bytes", r.EventName, r.S3.Object.URLDecodedKey, r.S3.Object.ETag, r.S3.Object.Size)
	}
	out, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("upload/video/a b.mp4")})
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(out.Body)
	if !bytes.Equal(stored, data) {
		t.Errorf("stored %d bytes, want the 1000 sent", len(stored))
	}
}

// What S3 refuses, the embedded S3 refuses the same way: nothing is
// stored and nothing notified.
func TestS3PostUploadRefusals(t *testing.T) {
	client, _, got := setupS3(t)
	url, fields := presignedPost(t, client, "upload/video/x.mp4", 1000)
	with := func(changes map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range fields {
			out[k] = v
		}
		for k, v := range changes {
			for name := range out {
				if strings.EqualFold(name, k) {
					delete(out, name) // field names are matched case-insensitively
				}
			}
			if v != "" {
				out[k] = v
			}
		}
		return out
	}
	field := func(name string) string {
		for k, v := range fields {
			if strings.EqualFold(k, name) {
				return v
			}
		}
		t.Fatalf("the presigned form has no %s", name)
		return ""
	}
	policy := func(expiration string, conditions string) string {
		return base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf(`{"expiration":%q,"conditions":[%s]}`, expiration, conditions)))
	}
	tests := []struct {
		name   string
		fields map[string]string
		size   int
		status int
		code   string
	}{
		{"TooLarge", fields, 1001, 400, "EntityTooLarge"},
		{"Empty", fields, 0, 400, "EntityTooSmall"},
		{"AnotherKey", with(map[string]string{"key": "upload/video/other.mp4"}), 10, 403, "AccessDenied"},
		{"AnExtraField", with(map[string]string{"Content-Type": "video/mp4"}), 10, 403, "Extra input fields: content-type"},
		{"NoPolicy", with(map[string]string{"policy": ""}), 10, 403, "AccessDenied"},
		{"NoSignature", with(map[string]string{"x-amz-signature": ""}), 10, 400, "x-amz-signature"},
		{"Expired", with(map[string]string{"policy": policy(time.Now().Add(-time.Second).UTC().Format(time.RFC3339),
			`{"bucket":"`+bucket+`"},{"key":"upload/video/x.mp4"},{"x-amz-algorithm":"AWS4-HMAC-SHA256"},{"x-amz-credential":"`+field("x-amz-credential")+`"},{"x-amz-date":"`+field("x-amz-date")+`"}`)}), 10, 403, "Policy expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := postForm(t, url, tt.fields, bytes.Repeat([]byte("v"), tt.size))
			if status != tt.status || !strings.Contains(body, tt.code) {
				t.Errorf("got %d %s, want %d with %s", status, body, tt.status, tt.code)
			}
		})
	}
	if _, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("upload/video/x.mp4")}); err == nil {
		t.Error("a refused POST stored the object")
	}
	select {
	case e := <-got:
		t.Errorf("a refused POST was notified: %+v", e)
	default:
	}
}
