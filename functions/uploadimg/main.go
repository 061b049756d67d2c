// Command uploadimg is the wxmedia `uploadimg` Lambda function: POST /cgi-bin/media/uploadimg, and S3 puts under uploadimg/.
package main

import (
	"github.com/wxmedia/wxmedia/pkg/bootstrap"
	"github.com/wxmedia/wxmedia/pkg/routes"
)

func main() { bootstrap.Main(routes.UploadImg) }
