package apigw_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/wxmedia/wxmedia/pkg/apigw"
	"github.com/wxmedia/wxmedia/pkg/reply"
)

func FuzzRequest(f *testing.F) {
	f.Add("GET", "/cgi-bin/media/get", "media_id=abc", "accept", "*/*", "a=1", "", false)
	f.Add("POST", "/cgi-bin/media/upload", "type=image", "content-type", "multipart/form-data; boundary=x",
		"", base64.StdEncoding.EncodeToString([]byte("--x\r\n\r\n\xff\xd8\r\n--x--\r\n")), true)
	f.Add("POST", "/cgi-bin/media/uploadimg", "", "content-length", "1", "", `{"key":"uploadimg/a.png"}`, false)
	f.Add("GET", "/a%2Fb", "", "host", "h", "", "!!", true)
	f.Add("", "", "", "", "", "", "", false)

	f.Fuzz(func(t *testing.T, method, path, query, hk, hv, cookie, body string, isBase64 bool) {
		e := events.APIGatewayV2HTTPRequest{
			RawPath:         path,
			RawQueryString:  query,
			Headers:         map[string]string{hk: hv},
			Body:            body,
			IsBase64Encoded: isBase64,
		}
		if cookie != "" {
			e.Cookies = []string{cookie}
		}
		e.RequestContext.HTTP.Method = method

		want, decodeErr := []byte(body), error(nil)
		if isBase64 {
			want, decodeErr = base64.StdEncoding.DecodeString(body)
		}
		check(t, e, want, decodeErr)

		// The same bytes sent as API Gateway sends binary bodies always decode.
		e.Body, e.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte(body)), true
		check(t, e, []byte(body), nil)
	})
}

func check(t *testing.T, e events.APIGatewayV2HTTPRequest, want []byte, decodeErr error) {
	t.Helper()
	r, err := apigw.Request(context.Background(), e)
	if err != nil {
		var re *apigw.RequestError
		if !errors.As(err, &re) {
			t.Fatalf("got %T %v, want a *RequestError", err, err)
		}
		if re.Field == "body" && decodeErr == nil {
			t.Fatalf("body %q refused (%v) but it decodes", e.Body, err)
		}
		return
	}
	if decodeErr != nil {
		t.Fatalf("body %q accepted, want an error (%v)", e.Body, decodeErr)
	}
	got, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) || r.ContentLength != int64(len(want)) {
		t.Fatalf("body: got %q (ContentLength %d), want %q", got, r.ContentLength, want)
	}
	if r.URL == nil || r.URL.Path == "" || r.RequestURI == "" || r.Header == nil {
		t.Fatalf("incomplete request: %+v", r)
	}
	if _, ok := r.Header["Host"]; ok {
		t.Fatal("Host left in Header")
	}
	if _, ok := apigw.FromContext(r.Context()); !ok {
		t.Fatal("no event in context")
	}
	// Whatever arrived, the handler side must not crash either.
	if _, err := apigw.Handler(http.NotFoundHandler(), reply.Error)(context.Background(), e); err != nil {
		t.Fatalf("Handler: %v", err)
	}
}
