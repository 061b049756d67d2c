// Command upload is the wxmedia `upload` Lambda function: POST /cgi-bin/media/upload, and S3 puts under upload/<type>/.
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
		fmt.Fprintf(os.Stderr, "upload: %v\n", err)
		os.Exit(1)
	}
	a, err := app.Build(context.Background(), cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "upload: %v\n", err)
		os.Exit(1)
	}
	lambda.Start(a.Lambda(true, httpapi.RouteUpload))
}
