// Command get is the wxmedia `get` Lambda function: GET /cgi-bin/media/get, streaming WeChat media into the bucket.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/wxmedia/wxmedia/pkg/app"
	"github.com/wxmedia/wxmedia/pkg/httpapi"
)

func main() {
	cfg, err := app.FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "get: %v\n", err)
		os.Exit(1)
	}
	a, err := app.Build(context.Background(), cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "get: %v\n", err)
		os.Exit(1)
	}
	lambda.Start(a.Lambda(false, httpapi.RouteGet))
}
