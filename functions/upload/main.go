// Command upload is the wxmedia `upload` Lambda function: POST /cgi-bin/media/upload, and S3 puts under upload/<type>/.
package main

import (
	"github.com/wxmedia/wxmedia/pkg/bootstrap"
	"github.com/wxmedia/wxmedia/pkg/routes"
)

func main() { bootstrap.Main(routes.Upload) }
