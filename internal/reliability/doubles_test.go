package reliability

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/wxmedia/wxmedia/pkg/bucket"
	"github.com/wxmedia/wxmedia/pkg/token"
)

// faultyS3 passes calls to moto unless a fault function is set.
type faultyS3 struct {
	bucket.API
	headObject func(ctx context.Context, in *s3.HeadObjectInput, next bucket.API) (*s3.HeadObjectOutput, error)
	getObject  func(ctx context.Context, in *s3.GetObjectInput, next bucket.API) (*s3.GetObjectOutput, error)
	putObject  func(ctx context.Context, in *s3.PutObjectInput, next bucket.API) (*s3.PutObjectOutput, error)
}

var _ bucket.API = (*faultyS3)(nil)

func (f *faultyS3) HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	if f.headObject != nil {
		return f.headObject(ctx, in, f.API)
	}
	return f.API.HeadObject(ctx, in, opts...)
}

func (f *faultyS3) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if f.getObject != nil {
		return f.getObject(ctx, in, f.API)
	}
	return f.API.GetObject(ctx, in, opts...)
}

func (f *faultyS3) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if f.putObject != nil {
		return f.putObject(ctx, in, f.API)
	}
	return f.API.PutObject(ctx, in, opts...)
}

func isResult(key *string) bool {
	return key != nil && strings.HasPrefix(*key, "results/")
}

func isSource(in *s3.GetObjectInput) bool {
	return in.Key != nil && !strings.HasPrefix(*in.Key, "results/") && !strings.HasPrefix(*in.Key, "claims/")
}

// slowBody trickles a body, honouring ctx.
type slowBody struct {
	ctx context.Context
	r   io.ReadCloser
}

func (s *slowBody) Read(p []byte) (int, error) {
	select {
	case <-time.After(200 * time.Millisecond):
	case <-s.ctx.Done():
		return 0, s.ctx.Err()
	}
	if len(p) > 64 {
		p = p[:64]
	}
	return s.r.Read(p)
}

func (s *slowBody) Close() error { return s.r.Close() }

// failingSecrets answers every read with err.
type failingSecrets struct{ err error }

var _ token.SecretsAPI = failingSecrets{}

func (f failingSecrets) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return nil, f.err
}

func apiError(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg} }
