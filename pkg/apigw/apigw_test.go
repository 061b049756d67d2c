package apigw_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/wxmedia/wxmedia/pkg/apigw"
	"github.com/wxmedia/wxmedia/pkg/reply"
)

// seen is what the echo handler reports about the request it got.
type seen struct {
	Method        string
	Path          string
	RawPath       string
	RawQuery      string
	RequestURI    string
	Host          string
	RemoteAddr    string
	ContentLength int64
	Header        http.Header
	Body          []byte
	MediaName     string
	Media         []byte
	RequestID     string
}

// echo answers JSON describing the request, including a multipart "media"
// part when there is one.
func echo(t *testing.T) http.Handler {
	t.Helper()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{
			Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery,
			RequestURI: r.RequestURI, Host: r.Host, RemoteAddr: r.RemoteAddr,
			ContentLength: r.ContentLength, Header: r.Header,
		}
		if e, ok := apigw.FromContext(r.Context()); ok {
			s.RequestID = e.RequestContext.RequestID
		}
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
			f, fh, err := r.FormFile("media")
			if err != nil {
				t.Errorf("FormFile: %v", err)
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			defer f.Close()
			s.MediaName = fh.Filename
			s.Media, _ = io.ReadAll(f)
		} else {
			s.Body, _ = io.ReadAll(r.Body)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s)
	})
}

// invoke runs an event file through the production JSON path.
func invoke(t *testing.T, h http.Handler, file string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	payload, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	out, err := lambda.NewHandler(apigw.Handler(h, reply.Error)).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return resp
}

var jpeg = []byte{0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xd9}

func TestHandlerEvents(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		check func(t *testing.T, s seen)
	}{
		{"GetQuery", "get-query.json", func(t *testing.T, s seen) {
			want := seen{
				Method: "GET", Path: "/cgi-bin/media/get",
				RawQuery:   "media_id=MEDIA%2BID&redirect=true&tag=a&tag=b",
				RequestURI: "/cgi-bin/media/get?media_id=MEDIA%2BID&redirect=true&tag=a&tag=b",
				Host:       "abcdefghij.execute-api.ap-east-1.amazonaws.com", RemoteAddr: "203.0.113.7",
				RequestID: "Jx2bWg8KoAMEMEw=",
			}
			got := s
			got.Header, got.Body = nil, nil
			if got.Method != want.Method || got.Path != want.Path || got.RawQuery != want.RawQuery ||
				got.RequestURI != want.RequestURI || got.Host != want.Host || got.RemoteAddr != want.RemoteAddr ||
				got.RequestID != want.RequestID || got.ContentLength != 0 {
				t.Errorf("got %+v, want %+v", got, want)
			}
			if v := s.Header.Get("Accept"); v != "application/json, */*" {
				t.Errorf("Accept: got %q, want the comma-joined value", v)
			}
			for _, k := range []string{"Host", "Content-Length"} {
				if v, ok := s.Header[k]; ok {
					t.Errorf("header %s: got %q, want none", k, v)
				}
			}
		}},
		{"UploadMultipartBase64", "upload-multipart.json", func(t *testing.T, s seen) {
			if s.Method != "POST" || s.RawQuery != "type=image&access_token=IGNORED" {
				t.Errorf("got %s ?%s, want POST ?type=image&access_token=IGNORED", s.Method, s.RawQuery)
			}
			if s.ContentLength != 237 || s.Header.Get("Content-Length") != "237" {
				t.Errorf("content length: got %d / %q, want 237", s.ContentLength, s.Header.Get("Content-Length"))
			}
			if s.MediaName != "test.jpg" || !bytes.Equal(s.Media, jpeg) {
				t.Errorf("media: got %q % x, want test.jpg % x", s.MediaName, s.Media, jpeg)
			}
		}},
		{"Cookies", "cookies.json", func(t *testing.T, s seen) {
			if got, want := s.Header.Get("Cookie"), "session=abc123; lang=zh_CN"; got != want {
				t.Errorf("Cookie: got %q, want %q", got, want)
			}
			r := &http.Request{Header: s.Header}
			if c, err := r.Cookie("lang"); err != nil || c.Value != "zh_CN" {
				t.Errorf("cookie lang: got %v, %v, want zh_CN", c, err)
			}
			if s.Host != "media.example.com" || s.RemoteAddr != "198.51.100.23" {
				t.Errorf("got host %q remote %q, want media.example.com 198.51.100.23", s.Host, s.RemoteAddr)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := invoke(t, echo(t), tt.file)
			if resp.StatusCode != http.StatusOK || resp.IsBase64Encoded {
				t.Fatalf("got %d base64=%v %s, want 200 plain JSON", resp.StatusCode, resp.IsBase64Encoded, resp.Body)
			}
			if ct := resp.Headers["Content-Type"]; ct != "application/json" {
				t.Errorf("Content-Type: got %q, want application/json", ct)
			}
			var s seen
			if err := json.Unmarshal([]byte(resp.Body), &s); err != nil {
				t.Fatalf("decode echo: %v", err)
			}
			tt.check(t, s)
		})
	}
}

func TestHandlerBadBase64(t *testing.T) {
	called := false
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })
	resp := invoke(t, h, "bad-base64.json")
	if called {
		t.Error("handler called for an undecodable body")
	}
	if resp.StatusCode != http.StatusOK || resp.IsBase64Encoded {
		t.Errorf("got %d base64=%v, want 200 plain, as WeChat answers errors", resp.StatusCode, resp.IsBase64Encoded)
	}
	var got struct {
		Errcode int    `json:"errcode"`
		Errmsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
		t.Fatalf("decode %q: %v", resp.Body, err)
	}
	if got.Errcode != 40035 || got.Errmsg != "invalid request body encoding" {
		t.Errorf("got %+v, want 40035 invalid request body encoding", got)
	}
	if resp.Headers["Content-Type"] != "application/json; encoding=utf-8" || strings.HasSuffix(resp.Body, "\n") {
		t.Errorf("got %q labelled %q, want WeChat's label exactly and no trailing newline", resp.Body, resp.Headers["Content-Type"])
	}
}

func get(path string) events.APIGatewayV2HTTPRequest {
	var e events.APIGatewayV2HTTPRequest
	e.RawPath = path
	e.RequestContext.HTTP.Method = http.MethodGet
	return e
}

func TestRequest(t *testing.T) {
	tests := []struct {
		name    string
		event   func() events.APIGatewayV2HTTPRequest
		field   string // the *RequestError field, if an error is wanted
		uri     string
		path    string
		host    string
		body    string
		headers map[string]string
	}{
		{name: "QueryParametersFallback", event: func() events.APIGatewayV2HTTPRequest {
			e := get("/cgi-bin/media/get")
			e.QueryStringParameters = map[string]string{"media_id": "a b", "redirect": "true"}
			return e
		}, uri: "/cgi-bin/media/get?media_id=a+b&redirect=true", path: "/cgi-bin/media/get"},
		{name: "PathFromRequestContext", event: func() events.APIGatewayV2HTTPRequest {
			e := get("")
			e.RequestContext.HTTP.Path = "/cgi-bin/media/get"
			return e
		}, uri: "/cgi-bin/media/get", path: "/cgi-bin/media/get"},
		{name: "EscapedPath", event: func() events.APIGatewayV2HTTPRequest {
			return get("/media/a%2Fb%20c")
		}, uri: "/media/a%2Fb%20c", path: "/media/a/b c"},
		{name: "HostFromHeader", event: func() events.APIGatewayV2HTTPRequest {
			e := get("/")
			e.Headers = map[string]string{"host": "localhost:3000", "x-custom": "1"}
			return e
		}, uri: "/", path: "/", host: "localhost:3000", headers: map[string]string{"X-Custom": "1"}},
		{name: "PlainBodyExactLength", event: func() events.APIGatewayV2HTTPRequest {
			e := get("/cgi-bin/media/uploadimg")
			e.RequestContext.HTTP.Method = http.MethodPost
			e.Headers = map[string]string{"content-length": "999", "transfer-encoding": "chunked"}
			e.Body = `{"key":"uploadimg/中.jpg"}`
			return e
		}, uri: "/cgi-bin/media/uploadimg", path: "/cgi-bin/media/uploadimg", body: `{"key":"uploadimg/中.jpg"}`,
			headers: map[string]string{"Content-Length": "27", "Transfer-Encoding": ""}},
		{name: "NilMaps", event: func() events.APIGatewayV2HTTPRequest {
			return events.APIGatewayV2HTTPRequest{}
		}, uri: "/", path: "/"},
		{name: "ErrMethod", event: func() events.APIGatewayV2HTTPRequest {
			e := get("/")
			e.RequestContext.HTTP.Method = "GET /x"
			return e
		}, field: "method"},
		{name: "ErrPath", event: func() events.APIGatewayV2HTTPRequest {
			return get("/%zz")
		}, field: "path"},
		{name: "ErrBase64", event: func() events.APIGatewayV2HTTPRequest {
			e := get("/")
			e.Body, e.IsBase64Encoded = "not base64!", true
			return e
		}, field: "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := apigw.Request(context.Background(), tt.event())
			if tt.field != "" {
				var re *apigw.RequestError
				if !errors.As(err, &re) || re.Field != tt.field {
					t.Fatalf("got %v, want a *RequestError for %s", err, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatalf("Request: %v", err)
			}
			if r.RequestURI != tt.uri || r.URL.RequestURI() != tt.uri || r.URL.Path != tt.path || r.Host != tt.host {
				t.Errorf("got %q %q (path %q) host %q, want %q path %q host %q",
					r.RequestURI, r.URL.RequestURI(), r.URL.Path, r.Host, tt.uri, tt.path, tt.host)
			}
			body, _ := io.ReadAll(r.Body)
			if string(body) != tt.body || r.ContentLength != int64(len(tt.body)) {
				t.Errorf("body: got %q (ContentLength %d), want %q", body, r.ContentLength, tt.body)
			}
			for k, v := range tt.headers {
				if got := r.Header.Get(k); got != v {
					t.Errorf("header %s: got %q, want %q", k, got, v)
				}
			}
			if _, ok := apigw.FromContext(r.Context()); !ok {
				t.Error("FromContext: no event")
			}
		})
	}
}

func TestHandlerResponse(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	tests := []struct {
		name     string
		serve    http.HandlerFunc
		status   int
		headers  map[string]string
		cookies  []string
		body     []byte
		isBase64 bool
	}{
		{name: "JSON", serve: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			io.WriteString(w, `{"url":"http://mmbiz.qpic.cn/中"}`)
		}, status: 200, headers: map[string]string{"Content-Type": "application/json; charset=utf-8"},
			body: []byte(`{"url":"http://mmbiz.qpic.cn/中"}`)},
		{name: "ProblemJSON", serve: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			io.WriteString(w, `{}`)
		}, status: 413, body: []byte(`{}`)},
		{name: "Binary", serve: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "image/png")
			w.Write(png)
		}, status: 200, headers: map[string]string{"Content-Type": "image/png"}, body: png, isBase64: true},
		{name: "TextNotUTF8", serve: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=gbk")
			w.Write([]byte{0xd6, 0xd0, 0xce, 0xc4})
		}, status: 200, body: []byte{0xd6, 0xd0, 0xce, 0xc4}, isBase64: true},
		{name: "Sniffed", serve: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<html><body>hi</body></html>")
		}, status: 200, headers: map[string]string{"Content-Type": "text/html; charset=utf-8"},
			body: []byte("<html><body>hi</body></html>")},
		{name: "CookiesAndMultiValue", serve: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Set-Cookie", "a=1; Path=/")
			w.Header().Add("Set-Cookie", "b=2; HttpOnly")
			w.Header().Add("Vary", "Accept")
			w.Header().Add("Vary", "Origin")
			w.WriteHeader(http.StatusNoContent)
		}, status: 204, headers: map[string]string{"Vary": "Accept, Origin"},
			cookies: []string{"a=1; Path=/", "b=2; HttpOnly"}},
		{name: "Redirect", serve: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "https://bucket.s3.amazonaws.com/media/x.jpg?X-Amz-Signature=s")
			w.WriteHeader(http.StatusFound)
		}, status: 302, headers: map[string]string{"Location": "https://bucket.s3.amazonaws.com/media/x.jpg?X-Amz-Signature=s"}},
		{name: "DefaultStatus", serve: func(w http.ResponseWriter, r *http.Request) {}, status: 200},
		{name: "HeadersAfterStatusNotSent", serve: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusAccepted)
			w.Header().Set("X-Late", "1")
			io.WriteString(w, "ok")
		}, status: 202, headers: map[string]string{"Content-Type": "text/plain", "X-Late": ""}, body: []byte("ok")},
		{name: "NoBodyOn304", serve: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotModified)
			if _, err := io.WriteString(w, "not sent"); err != http.ErrBodyNotAllowed {
				panic("Write after 304 = " + fmt.Sprint(err))
			}
		}, status: 304},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := apigw.Handler(tt.serve, reply.Error)(context.Background(), get("/"))
			if err != nil {
				t.Fatalf("Handler: %v", err)
			}
			if resp.StatusCode != tt.status {
				t.Errorf("status: got %d, want %d", resp.StatusCode, tt.status)
			}
			for k, v := range tt.headers {
				if got := resp.Headers[k]; got != v {
					t.Errorf("header %s: got %q, want %q", k, got, v)
				}
			}
			if _, ok := resp.Headers["Set-Cookie"]; ok {
				t.Error("Set-Cookie in Headers, want it in Cookies only")
			}
			if strings.Join(resp.Cookies, "|") != strings.Join(tt.cookies, "|") {
				t.Errorf("cookies: got %q, want %q", resp.Cookies, tt.cookies)
			}
			if resp.IsBase64Encoded != tt.isBase64 {
				t.Errorf("IsBase64Encoded: got %v, want %v", resp.IsBase64Encoded, tt.isBase64)
			}
			got := []byte(resp.Body)
			if resp.IsBase64Encoded {
				if got, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
					t.Fatalf("decode body: %v", err)
				}
			}
			if !bytes.Equal(got, tt.body) {
				t.Errorf("body: got %q, want %q", got, tt.body)
			}
		})
	}
}
