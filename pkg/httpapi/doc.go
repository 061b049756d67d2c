// Package httpapi is the HTTP contract of wxmedia: WeChat's own media paths
// without the access_token, which is injected server-side. The same
// http.Handler serves API Gateway (through package apigw) and the local
// runner.
//
//	POST /cgi-bin/media/upload?type=T     multipart field "media", or JSON {"key":"…"}
//	GET  /cgi-bin/media/get?media_id=ID   stored at media/<ID><ext>; &redirect=true answers 302
//	POST /cgi-bin/media/uploadimg         multipart field "media", or JSON {"key":"…"}
//
// Every error is WeChat-shaped JSON {"errcode":N,"errmsg":"…"}, written by
// package reply, the one place an error becomes an answer. The status it
// stands for comes from reply.Status, the one table from a failure
// (package failure's kind, and WeChat's errcode where it says more) to an
// HTTP status; the route's own refusals carry theirs. Each request's log
// line records the status sent, the errcode and the failure's kind.
//
// PlatformEvents is the third-party platform's push route,
//
//	POST /component/events                WeChat's signed, encrypted pushes, answered "success"
//
// which WeChat calls: package platform verifies and acts on each push,
// and a refusal is answered with the HTTP status its own table gives.
package httpapi
