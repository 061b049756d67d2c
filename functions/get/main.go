// Command get is the wxmedia `get` Lambda function: GET /cgi-bin/media/get, streaming WeChat media into the bucket.
package main

import (
	"github.com/wxmedia/wxmedia/pkg/bootstrap"
	"github.com/wxmedia/wxmedia/pkg/routes"
)

func main() { bootstrap.Main(routes.Get) }
