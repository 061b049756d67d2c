package localaws_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wxmedia/wxmedia/internal/localaws"
)

// An in-memory bucket that calls a function, as S3 calls Lambda, for each
// object put under upload/.
func ExampleNewS3() {
	done := make(chan events.S3Event, 1)
	fake, err := localaws.NewS3(localaws.S3Options{
		Buckets:        []string{"wxmedia-local"},
		NotifyBucket:   "wxmedia-local",
		NotifyPrefixes: []string{"upload/"},
		Notify: func(ctx context.Context, e events.S3Event) error {
			done <- e
			return nil
		},
	})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(fake) // or http.Serve on 127.0.0.1:9000
	defer srv.Close()
	defer fake.Close()

	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("any", "thing", "")})
	_, err = client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String("wxmedia-local"), Key: aws.String("upload/image/my photo.jpg"), Body: bytes.NewReader([]byte("\xff\xd8\xff"))})
	if err != nil {
		panic(err)
	}
	rec := (<-done).Records[0]
	fmt.Println(rec.EventSource, rec.EventName, rec.S3.Bucket.Name, rec.S3.Object.Key, rec.S3.Object.Size)
	// Output: aws:s3 ObjectCreated:Put wxmedia-local upload/image/my+photo.jpg 3
}
