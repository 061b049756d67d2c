// Command get is the wxmedia `get` Lambda function: GET /cgi-bin/media/get, streaming WeChat media into the bucket.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/wxmedia/wxmedia/pkg/config"
	"github.com/wxmedia/wxmedia/pkg/httpapi"
)

func main() {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "get: %v\n", err)
		os.Exit(1)
	}
	app, err := config.Build(context.Background(), cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "get: %v\n", err)
		os.Exit(1)
	}
	lambda.Start(app.Lambda(false, httpapi.RouteGet))
}
