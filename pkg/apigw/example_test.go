package apigw_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/wxmedia/wxmedia/pkg/apigw"
	"github.com/wxmedia/wxmedia/pkg/reply"
)

func ExampleHandler() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cgi-bin/media/get", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"media_id":%q}`, r.URL.Query().Get("media_id"))
	})

	// In functions/get/main.go: lambda.Start(apigw.Handler(mux, reply.Error)); locally the
	// same mux goes to http.ListenAndServe.
	handle := apigw.Handler(mux, reply.Error)

	var e events.APIGatewayV2HTTPRequest
	e.RequestContext.HTTP.Method = "GET"
	e.RawPath = "/cgi-bin/media/get"
	e.RawQueryString = "media_id=MEDIA_ID"
	resp, err := handle(context.Background(), e)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.StatusCode, resp.Headers["Content-Type"], resp.Body, resp.IsBase64Encoded)
	// Output: 200 application/json {"media_id":"MEDIA_ID"} false
}
