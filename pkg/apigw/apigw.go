package apigw

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// MaxPayload is Lambda's limit on a synchronous invocation's payload, in bytes
// of the event JSON (request and response alike). A binary body travels
// base64-encoded inside it, so only about 4.4 MB of file fits.
const MaxPayload = 6 * 1024 * 1024

// errcodeInvalidParameter is WeChat's "invalid parameter" error code.
const errcodeInvalidParameter = 40035

// RequestError reports an event that cannot be turned into an *http.Request.
// Handler answers it with 400 and a WeChat-shaped JSON error.
type RequestError struct {
	Field string // "method", "path" or "body"
	Err   error
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("invalid request %s: %v", e.Field, e.Err)
}

func (e *RequestError) Unwrap() error { return e.Err }

// errmsg is the message a caller sees; it never includes the request's bytes.
func (e *RequestError) errmsg() string {
	if e.Field == "body" {
		return "invalid request body encoding"
	}
	return "invalid request " + e.Field
}

type eventKey struct{}

// FromContext returns the event that Request attached to a request's context.
func FromContext(ctx context.Context) (events.APIGatewayV2HTTPRequest, bool) {
	e, ok := ctx.Value(eventKey{}).(events.APIGatewayV2HTTPRequest)
	return e, ok
}

// Handler adapts an http.Handler to a Lambda handler for API Gateway HTTP API
// events (payload 2.0). An event that is not a valid request is answered 400
// with {"errcode":40035,"errmsg":…} without calling h.
func Handler(h http.Handler) func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		r, err := Request(ctx, e)
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) {
				return events.APIGatewayV2HTTPResponse{}, err
			}
			w := newResponseWriter()
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(struct {
				Code    int    `json:"errcode"`
				Message string `json:"errmsg"`
			}{errcodeInvalidParameter, re.errmsg()})
			return w.response(), nil
		}
		w := newResponseWriter()
		h.ServeHTTP(w, r)
		return w.response(), nil
	}
}

// Request builds the *http.Request that net/http's server would have built for
// the same call: a path-and-query URL, canonical headers without Host, the
// cookies as a Cookie header, the decoded body with an exact ContentLength,
// Host from the domain name and RemoteAddr from the source IP (no port). The
// event is attached to the context (see FromContext). Errors are *RequestError.
func Request(ctx context.Context, e events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	method := e.RequestContext.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	if !isToken(method) {
		return nil, &RequestError{Field: "method", Err: fmt.Errorf("%q is not an http token", method)}
	}

	raw := e.RawPath
	if raw == "" {
		raw = e.RequestContext.HTTP.Path
	}
	if !strings.HasPrefix(raw, "/") {
		raw = "/" + raw
	}
	path, err := url.PathUnescape(raw)
	if err != nil {
		return nil, &RequestError{Field: "path", Err: err}
	}
	u := &url.URL{Path: path, RawQuery: rawQuery(e)}
	if u.EscapedPath() != raw {
		u.RawPath = raw // keep an encoding that differs from the default, e.g. %2F
	}

	body := []byte(e.Body)
	if e.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(e.Body); err != nil {
			return nil, &RequestError{Field: "body", Err: fmt.Errorf("decode base64: %w", err)}
		}
	}

	header := make(http.Header, len(e.Headers)+1)
	for _, k := range slices.Sorted(maps.Keys(e.Headers)) {
		header.Add(k, e.Headers[k])
	}
	host := e.RequestContext.DomainName
	if host == "" {
		host = header.Get("Host")
	}
	header.Del("Host")
	if len(e.Cookies) > 0 {
		header.Set("Cookie", strings.Join(e.Cookies, "; "))
	}
	header.Del("Transfer-Encoding") // API Gateway buffered the whole body
	if len(body) > 0 {
		header.Set("Content-Length", strconv.Itoa(len(body)))
	} else {
		header.Del("Content-Length")
	}

	proto := e.RequestContext.HTTP.Protocol
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		proto, major, minor = "HTTP/1.1", 1, 1
	}
	r := &http.Request{
		Method:        method,
		URL:           u,
		Proto:         proto,
		ProtoMajor:    major,
		ProtoMinor:    minor,
		Header:        header,
		Body:          http.NoBody,
		ContentLength: int64(len(body)),
		Host:          host,
		RemoteAddr:    e.RequestContext.HTTP.SourceIP,
		RequestURI:    u.RequestURI(),
	}
	if len(body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return r.WithContext(context.WithValue(ctx, eventKey{}, e)), nil
}

// rawQuery prefers the query string as sent; older or hand-written events
// only carry the parsed (comma-joined) parameters.
func rawQuery(e events.APIGatewayV2HTTPRequest) string {
	if e.RawQueryString != "" || len(e.QueryStringParameters) == 0 {
		return e.RawQueryString
	}
	q := make(url.Values, len(e.QueryStringParameters))
	for k, v := range e.QueryStringParameters {
		q.Set(k, v)
	}
	return q.Encode()
}

// responseWriter records a response the way net/http's server would send it.
type responseWriter struct {
	header  http.Header // the handler's live map
	written http.Header // snapshot taken when the status was written
	status  int
	body    bytes.Buffer
}

func newResponseWriter() *responseWriter {
	return &responseWriter{header: make(http.Header)}
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code)) // as net/http does
	}
	if w.status != 0 || code < 200 {
		return // a second call, or an informational 1xx API Gateway cannot send
	}
	w.status = code
	w.written = w.header.Clone()
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.status == http.StatusNoContent || w.status == http.StatusNotModified {
		return 0, http.ErrBodyNotAllowed
	}
	return w.body.Write(p)
}

// Flush implements http.Flusher; the response is sent when the handler returns.
func (w *responseWriter) Flush() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
}

func (w *responseWriter) response() events.APIGatewayV2HTTPResponse {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	body := w.body.Bytes()
	if _, ok := w.written["Content-Type"]; !ok && len(body) > 0 {
		w.written.Set("Content-Type", http.DetectContentType(body))
	}
	resp := events.APIGatewayV2HTTPResponse{
		StatusCode: w.status,
		Headers:    make(map[string]string, len(w.written)),
	}
	for k, vs := range w.written {
		if len(vs) == 0 {
			continue
		}
		if k = http.CanonicalHeaderKey(k); k == "Set-Cookie" {
			resp.Cookies = append(resp.Cookies, vs...)
			continue
		}
		resp.Headers[k] = strings.Join(vs, ", ")
	}
	switch {
	case len(body) == 0:
	case isText(w.written.Get("Content-Type")) && utf8.Valid(body):
		resp.Body = string(body)
	default:
		resp.Body = base64.StdEncoding.EncodeToString(body)
		resp.IsBase64Encoded = true
	}
	return resp
}

// isText reports whether a Content-Type names a textual format.
func isText(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt, _, _ = strings.Cut(contentType, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"),
		strings.Contains(mt, "javascript"):
		return true
	}
	return mt == "application/json" || mt == "application/xml"
}

// isToken reports whether s is an RFC 9110 token, as an HTTP method must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
