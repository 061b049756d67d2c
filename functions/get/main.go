// Command get is the wxmedia `get` Lambda function: GET /cgi-bin/media/get, streaming WeChat media into the bucket.
package main

import (
	"github.com/wxmedia/wxmedia/pkg/app"
	"github.com/wxmedia/wxmedia/pkg/httpapi"
)

func main() { app.Main(httpapi.RouteGet) }
