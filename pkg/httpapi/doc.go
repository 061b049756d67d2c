// Package httpapi is the HTTP contract of wxmedia: WeChat's own media paths
// without the access_token, which is injected server-side. The same
// http.Handler serves API Gateway (through package apigw) and the local
// runner.
//
//	POST /cgi-bin/media/upload?type=T     multipart field "media", or JSON {"key":"…"}
//	GET  /cgi-bin/media/get?media_id=ID   stored at media/<ID><ext>; &redirect=true answers 302
//	POST /cgi-bin/media/uploadimg         multipart field "media", or JSON {"key":"…"}
//
// Every error is WeChat-shaped JSON {"errcode":N,"errmsg":"…"} with a
// meaningful HTTP status.
package httpapi
