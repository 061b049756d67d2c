// Command component is the wxmedia `component` Lambda function: POST /component/events, the third-party platform's pushes.
package main

import (
	"github.com/wxmedia/wxmedia/pkg/bootstrap"
	"github.com/wxmedia/wxmedia/pkg/routes"
)

func main() { bootstrap.Main(routes.Component) }
