package apigw

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/wxmedia/wxmedia/pkg/failure"
)

// MaxPayload is Lambda's limit on a synchronous invocation's payload, in bytes
// of the event JSON. A binary body travels base64-encoded inside it, so only
// about 4.4 MB of file fits.
const MaxPayload = 6 * 1024 * 1024

// RequestError is an event that cannot be turned into an *http.Request.
type RequestError struct {
	Field string // "method", "path" or "body"
	Err   error
}

func (e *RequestError) Error() string { return fmt.Sprintf("invalid request %s: %v", e.Field, e.Err) }
func (e *RequestError) Unwrap() error { return e.Err }

type eventKey struct{}

// FromContext returns the event a request was made from.
func FromContext(ctx context.Context) (events.APIGatewayV2HTTPRequest, bool) {
	e, ok := ctx.Value(eventKey{}).(events.APIGatewayV2HTTPRequest)
	return e, ok
}

// Caller is who made the request in ctx, as API Gateway's authorizer
// vouched: the IAM user or role ARN (AuthMode=IAM), or the JWT's subject
// (AuthMode=JWT, "jwt:<sub>"); "" for an unauthenticated request or one
// that came through no API Gateway.
func Caller(ctx context.Context) string {
	e, ok := FromContext(ctx)
	if !ok || e.RequestContext.Authorizer == nil {
		return ""
	}
	switch auth := e.RequestContext.Authorizer; {
	case auth.IAM != nil && auth.IAM.UserARN != "":
		return auth.IAM.UserARN
	case auth.JWT != nil && auth.JWT.Claims["sub"] != "":
		return "jwt:" + auth.JWT.Claims["sub"]
	}
	return ""
}

// Identity is who made the request in ctx, as API Gateway's authorizer
// vouched: the IAM principal's ARN (AuthMode=IAM) or the JWT's claims
// (AuthMode=JWT); both empty otherwise.
func Identity(ctx context.Context) (arn string, claims map[string]string) {
	e, ok := FromContext(ctx)
	if !ok || e.RequestContext.Authorizer == nil {
		return "", nil
	}
	if auth := e.RequestContext.Authorizer; auth.IAM != nil {
		arn = auth.IAM.UserARN
	}
	if auth := e.RequestContext.Authorizer; auth.JWT != nil {
		claims = auth.JWT.Claims
	}
	return arn, claims
}

// Handler adapts h to a Lambda handler for API Gateway HTTP API events
// (payload 2.0). An event that is no valid request is not given to h: bad
// answers it, with a caller's failure (errcode failure.CodeInvalidParam) that
// wraps the *RequestError.
func Handler(h http.Handler, bad func(http.ResponseWriter, error)) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		w := &responseWriter{header: http.Header{}}
		r, err := Request(ctx, e)
		if err != nil {
			field := err.(*RequestError).Field
			msg := "invalid request " + field
			if e.IsBase64Encoded && field == "body" {
				msg += " encoding"
			}
			bad(w, failure.Wrap(failure.Caller, failure.CodeInvalidParam, err, "%s", msg))
			return w.response(), nil
		}
		h.ServeHTTP(w, r)
		return w.response(), nil
	}
}

// Request builds the *http.Request net/http's server would have: method,
// path and raw query, headers (cookies as a Cookie header), the body decoded
// with an exact ContentLength, Host, RemoteAddr (the source IP, no port) and
// the event in the context. Its errors are *RequestError.
func Request(ctx context.Context, e events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	body := []byte(e.Body)
	if e.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(e.Body); err != nil {
			return nil, &RequestError{Field: "body", Err: err}
		}
	}
	method := e.RequestContext.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	path := e.RawPath
	if path == "" {
		path = e.RequestContext.HTTP.Path
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	query := e.RawQueryString
	if query == "" && len(e.QueryStringParameters) > 0 { // hand-written events
		q := url.Values{}
		for k, v := range e.QueryStringParameters {
			q.Set(k, v)
		}
		query = q.Encode()
	}
	r, err := http.NewRequestWithContext(context.WithValue(ctx, eventKey{}, e), method, "http://h"+path+"?"+query, bytes.NewReader(body))
	if err != nil {
		field := "path"
		if strings.Contains(err.Error(), "method") {
			field = "method"
		}
		return nil, &RequestError{Field: field, Err: err}
	}
	r.URL.Host, r.URL.Scheme, r.URL.ForceQuery = "", "", false
	r.RequestURI, r.Body = r.URL.RequestURI(), http.NoBody
	if len(body) > 0 {
		r.Body = &readCloser{bytes.NewReader(body)}
	}
	for k, v := range e.Headers {
		r.Header.Add(k, v)
	}
	if len(e.Cookies) > 0 {
		r.Header.Set("Cookie", strings.Join(e.Cookies, "; "))
	}
	r.Host = e.RequestContext.DomainName
	if r.Host == "" {
		r.Host = r.Header.Get("Host")
	}
	r.Header.Del("Host")
	r.Header.Del("Transfer-Encoding") // API Gateway delivers the body whole
	r.Header.Del("Content-Length")
	if len(body) > 0 {
		r.Header.Set("Content-Length", fmt.Sprint(len(body)))
	}
	r.RemoteAddr = e.RequestContext.HTTP.SourceIP
	return r, nil
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// responseWriter records the response for API Gateway, as net/http's
// server would send it: the headers as they were when the status was
// written, and no body for a status that has none.
type responseWriter struct {
	header http.Header
	sent   http.Header // header when the status was written
	status int
	body   bytes.Buffer
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
		w.sent = w.header.Clone()
	}
}

func (w *responseWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	return w.body.Write(p)
}

func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified
}

// response is the recorded answer: textual bodies as they are, others in
// base64; Set-Cookie as Cookies, other multi-valued headers comma-joined.
func (w *responseWriter) response() events.APIGatewayV2HTTPResponse {
	w.WriteHeader(http.StatusOK)
	body := w.body.Bytes()
	header := w.sent
	if header.Get("Content-Type") == "" && len(body) > 0 {
		header.Set("Content-Type", http.DetectContentType(body))
	}
	resp := events.APIGatewayV2HTTPResponse{StatusCode: w.status, Headers: map[string]string{}, Cookies: header.Values("Set-Cookie")}
	for k, vs := range header {
		if k != "Set-Cookie" {
			resp.Headers[k] = strings.Join(vs, ", ")
		}
	}
	if isText(header.Get("Content-Type")) && utf8.Valid(body) {
		resp.Body = string(body)
	} else if len(body) > 0 {
		resp.Body, resp.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return resp
}

func isText(contentType string) bool {
	mt, _, _ := strings.Cut(strings.ToLower(contentType), ";")
	mt = strings.TrimSpace(mt)
	return strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "json") || strings.HasSuffix(mt, "xml") ||
		strings.Contains(mt, "javascript")
}
