package bucket

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/wxmedia/wxmedia/pkg/failure"
	"github.com/wxmedia/wxmedia/pkg/tracing"
)

// Metrics records the bucket's S3 requests (package metrics' Recorder).
type Metrics interface {
	// S3Call is one request's latency, to its answer's headers, and whether
	// it failed: throttled, 5xx, out of reach, denied; a missing key and a
	// failed condition are answers, not failures.
	S3Call(ctx context.Context, d time.Duration, failed bool)
}

// observed is an API whose every request is a span named S3 and a
// measurement.
type observed struct {
	API
	metrics Metrics
	tracer  trace.Tracer
}

var _ API = observed{}

func observe[In, Out any](ctx context.Context, o observed, op string, call func(context.Context, In, ...func(*s3.Options)) (Out, error), in In, opts []func(*s3.Options)) (Out, error) {
	ctx, span := o.tracer.Start(ctx, "S3", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String(tracing.AttrAWSOperation, op)))
	start := time.Now()
	out, err := call(ctx, in, opts...)
	failed := false
	if err != nil {
		fe := failure.As((&Bucket{}).wrap(op, "", err))
		failed = fe.Kind != failure.Caller && fe.Kind != failure.Conflict
		span.SetAttributes(attribute.Bool(tracing.AttrCallerFault, !failed))
		span.SetStatus(codes.Error, fe.Message)
	}
	if o.metrics != nil {
		o.metrics.S3Call(ctx, time.Since(start), failed)
	}
	span.End()
	return out, err
}

func (o observed) HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return observe(ctx, o, "HeadObject", o.API.HeadObject, in, opts)
}

func (o observed) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return observe(ctx, o, "GetObject", o.API.GetObject, in, opts)
}

func (o observed) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return observe(ctx, o, "PutObject", o.API.PutObject, in, opts)
}

func (o observed) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	return observe(ctx, o, "CreateMultipartUpload", o.API.CreateMultipartUpload, in, opts)
}

func (o observed) UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	return observe(ctx, o, "UploadPart", o.API.UploadPart, in, opts)
}

func (o observed) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	return observe(ctx, o, "CompleteMultipartUpload", o.API.CompleteMultipartUpload, in, opts)
}

func (o observed) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	return observe(ctx, o, "AbortMultipartUpload", o.API.AbortMultipartUpload, in, opts)
}

func (o observed) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	return observe(ctx, o, "ListObjectsV2", o.API.ListObjectsV2, in, opts)
}
