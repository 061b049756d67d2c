// Package routes names wxmedia's routes, one a function (Upload, Get,
// UploadImg, Component), and the HTTP paths they serve: WeChat's media
// paths, the forms and results beside them, the prefix that names an app,
// and the third-party platform's push path. The functions' mains, the
// edges and the composition root read them here; it imports nothing.
package routes

// The media routes: each function serves one, named as WeChat's API is.
const (
	Upload    = "upload"
	Get       = "get"
	UploadImg = "uploadimg"
)

// Component is the third-party platform's push route (PathPlatformEvents),
// a function of its own: public, so that a flood of it takes none of the
// media functions' concurrency.
const Component = "component"

// All are the media routes, as one function serving every one takes them
// (the local runner, the tests); Component is served beside them.
func All() []string { return []string{Upload, Get, UploadImg} }

// The paths: WeChat's own, without the access_token, and the presigned
// forms and recorded results of files that go through the bucket.
const (
	PathUpload        = "/cgi-bin/media/upload"
	PathGet           = "/cgi-bin/media/get"
	PathUploadImg     = "/cgi-bin/media/uploadimg"
	PathUploadForm    = "/cgi-bin/media/upload-url"
	PathUploadImgForm = "/cgi-bin/media/uploadimg-url"
	PathResult        = "/cgi-bin/media/result"
)

// The token paths: SDKs fetch their own access token there first, and
// get a placeholder that names the app (package apps), served by the
// UploadImg function.
const (
	PathToken       = "/cgi-bin/token"
	PathStableToken = "/cgi-bin/stable_token"
)

// AppPrefix is the path prefix that names an app (API Gateway's and
// net/http's syntax alike): /<appid>/cgi-bin/media/… is that app's,
// /cgi-bin/media/… the default app's.
const AppPrefix = "/{appid}"

// PathPlatformEvents is the third-party platform's authorization event
// URL, the one to give WeChat, served by the Component function. Deployed,
// it is public: WeChat signs its pushes instead.
const PathPlatformEvents = "/component/events"
